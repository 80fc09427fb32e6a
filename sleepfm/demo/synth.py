"""The synthetic PSG cohort: EDF nights, hypnograms, outcomes and demographics, from a seed.

``synthesize_cohort(out, spec)`` writes::

    out/psg/<study>.edf              12-channel EDF+ nights (256/128/32/1 Hz, physical units)
    out/hypnograms/<study>.csv       published 5-s staging CSV (Start,Stop,StageName,StageNumber)
                                     or <study>.edf: EDF+ annotations "Sleep stage W/N1/N2/N3/R"
    out/labels/is_event.csv          Study ID + one 0/1 column per phecode
    out/labels/time_to_event.csv     Study ID + days to event or censoring
    out/labels/demographics.csv      Study ID,age,gender
    out/labels/label_mapping.csv     label_idx,phecode,phenotype of the outcome columns
    out/participants.csv             study,participant (two visits of one person share it)
    out/cohort.json                  the spec and each night's ground truth (traits, stage minutes,
                                     injected artifacts when ``spec.artifacts`` is set)

Nights are independent given the seed (each has its own ``SeedSequence`` child), so the
files are identical whether they are written by one process or several.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from sleepfm.demo import physiology as phys
from sleepfm.demo.artifacts import ArtifactSpec, as_records, inject
from sleepfm.demo.hypnogram_model import EPOCH_SECONDS, HypnogramModel, stage_minutes
from sleepfm.demo.participants import (
    DEFAULT_OUTCOMES,
    OutcomeSpec,
    Participant,
    demographics_table,
    draw_participants,
    outcome_tables,
)
from sleepfm.demo.waveforms import Timeline
from sleepfm.evaluate.diagnosis import write_outcome_table
from sleepfm.evaluate.outputs import staged_file, write_csv
from sleepfm.json_output import write_json

HypnogramFormat = Literal["csv", "edf"]


@dataclass(frozen=True)
class Channel:
    label: str
    rate: int
    unit: str
    physical_range: tuple[float, float]
    transducer: str
    prefilter: str


#: The montage, in file order: an AASM-style PSG at mixed rates.
CHANNELS: tuple[Channel, ...] = (
    Channel("F4-M1", 256, "uV", (-500, 500), "AgAgCl electrode", "HP:0.3Hz LP:35Hz"),
    Channel("C4-M1", 256, "uV", (-500, 500), "AgAgCl electrode", "HP:0.3Hz LP:35Hz"),
    Channel("O2-M1", 256, "uV", (-500, 500), "AgAgCl electrode", "HP:0.3Hz LP:35Hz"),
    Channel("E1-M2", 256, "uV", (-500, 500), "AgAgCl electrode", "HP:0.3Hz LP:35Hz"),
    Channel("E2-M2", 256, "uV", (-500, 500), "AgAgCl electrode", "HP:0.3Hz LP:35Hz"),
    Channel("Chin1-Chin2", 256, "uV", (-250, 250), "AgAgCl electrode", "HP:10Hz LP:100Hz"),
    Channel("ECG", 256, "mV", (-5, 5), "AgAgCl electrode", "HP:0.3Hz LP:70Hz"),
    Channel("Leg L", 128, "uV", (-250, 250), "AgAgCl electrode", "HP:10Hz LP:60Hz"),
    Channel("Thor", 32, "uV", (-2000, 2000), "RIP belt", "DC"),
    Channel("Abdo", 32, "uV", (-2000, 2000), "RIP belt", "DC"),
    Channel("Airflow", 32, "uV", (-2000, 2000), "Oronasal thermistor", "DC"),
    Channel("SpO2", 1, "%", (0, 100), "Pulse oximeter", "DC"),
)

#: Published staging CSV names for Wake, N1, N2, N3, REM (index = stage code).
CSV_STAGE_NAMES = ("Wake", "Stage 1", "Stage 2", "Stage 3", "REM")
EDF_STAGE_NAMES = ("Sleep stage W", "Sleep stage N1", "Sleep stage N2", "Sleep stage N3", "Sleep stage R")


@dataclass(frozen=True)
class CohortSpec:
    """How big the cohort is and what its nights look like."""

    participants: int = 40
    night_minutes: tuple[float, float] = (100.0, 140.0)
    cycle_minutes: float = 90.0
    awakenings_per_hour: float = 1.5
    second_visit_fraction: float = 0.2
    seed: int = 0
    hypnogram_format: HypnogramFormat = "csv"
    outcomes: tuple[OutcomeSpec, ...] = field(default=DEFAULT_OUTCOMES)
    #: Artifacts to inject (:mod:`sleepfm.demo.artifacts`); None: clean nights.
    artifacts: ArtifactSpec | None = None


@dataclass(frozen=True)
class Night:
    """One study: who, which visit, its stages (30-s codes) and the file names."""

    participant: Participant
    visit: int
    seed: np.random.SeedSequence
    minutes: float

    @property
    def study_id(self) -> str:
        return self.participant.study_id(self.visit)


@dataclass(frozen=True)
class SynthCohort:
    """Where :func:`synthesize_cohort` put everything."""

    root: Path
    studies: list[str]
    participants: dict[str, str]  # study → participant

    psg = property(lambda self: self.root / "psg")
    hypnograms = property(lambda self: self.root / "hypnograms")
    labels = property(lambda self: self.root / "labels")
    is_event = property(lambda self: self.root / "labels" / "is_event.csv")
    time_to_event = property(lambda self: self.root / "labels" / "time_to_event.csv")
    demographics = property(lambda self: self.root / "labels" / "demographics.csv")
    label_mapping = property(lambda self: self.root / "labels" / "label_mapping.csv")
    participants_csv = property(lambda self: self.root / "participants.csv")
    manifest = property(lambda self: self.root / "cohort.json")


def plan_nights(spec: CohortSpec) -> list[Night]:
    """Every night of the cohort, with its own random stream (no signals are made yet)."""
    root = np.random.SeedSequence(spec.seed)
    people_seed, nights_seed = root.spawn(2)
    people = draw_participants(spec.participants, np.random.default_rng(people_seed),
                               second_visit_fraction=spec.second_visit_fraction, outcomes=spec.outcomes)
    lengths = np.random.default_rng(nights_seed.spawn(1)[0])
    nights = []
    children = iter(nights_seed.spawn(sum(len(p.visits) for p in people)))
    for person in people:
        for visit in range(len(person.visits)):
            minutes = float(np.round(lengths.uniform(*spec.night_minutes) * 2) / 2)  # whole epochs
            nights.append(Night(person, visit, next(children), minutes))
    return nights


def night_stages(night: Night, spec: CohortSpec) -> np.ndarray:
    # Short demo nights compress the whole night: onset latency and the first N1 shrink with the cycle.
    scale = spec.cycle_minutes / HypnogramModel.cycle_minutes
    model = HypnogramModel(
        night_minutes=night.minutes, cycle_minutes=spec.cycle_minutes, awakenings_per_hour=spec.awakenings_per_hour,
        onset_latency_median=HypnogramModel.onset_latency_median * scale,
        n1_onset_minutes=HypnogramModel.n1_onset_minutes * scale,
        n3_scale=night.participant.n3_scale, fragmentation=night.participant.fragmentation,
    )
    return model.sample(np.random.default_rng(night.seed.spawn(1)[0]))


def synthesize_signals(stages: np.ndarray, traits: phys.Traits, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Every channel of :data:`CHANNELS` for a night of 30-s ``stages``, in physical units."""
    timeline = Timeline(stages)
    rate = {c.label: c.rate for c in CHANNELS}
    brain = phys.brain_sources(timeline, rate["C4-M1"], traits, rng)
    signals = {site: phys.eeg(site, brain, timeline, rate[site], traits, rng) for site in ("F4-M1", "C4-M1", "O2-M1")}
    signals["E1-M2"], signals["E2-M2"] = phys.eog(brain, timeline, rate["E1-M2"], rng)
    signals["Chin1-Chin2"] = phys.chin_emg(timeline, rate["Chin1-Chin2"], rng)
    signals["Leg L"] = phys.leg_emg(timeline, rate["Leg L"], rng)
    cardiac_breaths = phys.breathing_phase(timeline, rate["ECG"], traits, rng)
    signals["ECG"] = phys.ecg(timeline, rate["ECG"], traits, cardiac_breaths, rng)
    # One breathing rhythm drives both the ECG (RSA) and the belts: resample its phase.
    belt_breaths = cardiac_breaths[:: rate["ECG"] // rate["Thor"]]
    signals["Thor"], signals["Abdo"], signals["Airflow"] = phys.respiration(timeline, rate["Thor"], traits,
                                                                            belt_breaths, rng)
    signals["SpO2"] = phys.spo2(timeline, rate["SpO2"], traits, rng)
    return signals


def write_psg(path: Path, signals: dict[str, np.ndarray], *, start: datetime, patient: str, male: bool,
              ranges: dict[str, tuple[float, float]] | None = None) -> Path:
    """Write the night as EDF+ (16-bit, 1-s data records) with a full header, atomically.

    ``ranges`` replaces the physical range of some channels (an artifact: a channel in the wrong unit)."""
    import pyedflib

    ranges = {c.label: (ranges or {}).get(c.label, c.physical_range) for c in CHANNELS}
    headers = [
        {"label": c.label, "dimension": c.unit, "sample_frequency": c.rate, "physical_min": ranges[c.label][0],
         "physical_max": ranges[c.label][1], "digital_min": -32768, "digital_max": 32767,
         "transducer": c.transducer, "prefilter": c.prefilter}
        for c in CHANNELS
    ]
    # Quantised and laid out in 1-s data records here, vectorised: pyedflib's own per-sample
    # conversion and per-record appends take most of the time of a night otherwise.
    seconds = signals[CHANNELS[0].label].size // CHANNELS[0].rate
    records = np.concatenate([_digital(signals[c.label], ranges[c.label]).reshape(seconds, c.rate)
                              for c in CHANNELS], axis=1)
    with staged_file(path) as tmp:
        writer = pyedflib.EdfWriter(str(tmp), len(CHANNELS), file_type=pyedflib.FILETYPE_EDFPLUS)
        try:
            writer.setSignalHeaders(headers)
            writer.setStartdatetime(start)
            writer.setPatientCode(patient)
            writer.setSex(1 if male else 0)
            writer.setPatientName("X")
            writer.setEquipment("sleepfm_synthetic_PSG")
            writer.setTechnician("sleepfm")
            writer.setRecordingAdditional("synthetic_night")
            for record in records:
                writer.blockWriteDigitalSamples(record)
        finally:
            writer.close()
    return Path(path)


def _digital(values: np.ndarray, physical_range: tuple[float, float]) -> np.ndarray:
    """16-bit EDF samples for physical ``values`` (clipped to the range the header declares)."""
    low, high = physical_range
    scaled = (np.clip(values, low, high) - low) / (high - low) * 65535.0 - 32768.0
    return np.round(scaled).astype(np.int32)


def write_hypnogram_csv(path: Path, stages: np.ndarray) -> Path:
    """The published staging CSV: one row per 5-s token (each 30-s epoch repeated six times)."""
    tokens = np.repeat(np.asarray(stages, dtype=int), EPOCH_SECONDS // 5)
    start = np.arange(tokens.size) * 5
    table = pd.DataFrame({"Start": start, "Stop": start + 5,
                          "StageName": [CSV_STAGE_NAMES[s] if s >= 0 else "Unknown" for s in tokens],
                          "StageNumber": tokens})
    return write_csv(path, table)


def write_hypnogram_edf(path: Path, stages: np.ndarray, *, start: datetime) -> Path:
    """An annotation-only EDF+ hypnogram: one "Sleep stage X" annotation per 30-s epoch (HMC style)."""
    import pyedflib

    with staged_file(path) as tmp:
        writer = pyedflib.EdfWriter(str(tmp), 0, file_type=pyedflib.FILETYPE_EDFPLUS)
        try:
            writer.setStartdatetime(start)
            for epoch, stage in enumerate(np.asarray(stages, dtype=int)):
                name = EDF_STAGE_NAMES[stage] if stage >= 0 else "Sleep stage ?"
                writer.writeAnnotation(float(epoch * EPOCH_SECONDS), float(EPOCH_SECONDS), name)
        finally:
            writer.close()
    return Path(path)


def make_night(night: Night, spec: CohortSpec, out: Path) -> dict:
    """Synthesise and write one night; returns its ground truth for the manifest."""
    stages = night_stages(night, spec)
    signals = synthesize_signals(stages, night.participant.traits, np.random.default_rng(night.seed.spawn(2)[1]))
    artifacts, ranges = [], {}
    if spec.artifacts is not None:
        # A stream of its own: the same night with and without artifacts has the same clean signals.
        stream = np.random.SeedSequence(night.seed.entropy, spawn_key=(*night.seed.spawn_key, 0xA7))
        artifacts, ranges = inject(signals, {c.label: c.rate for c in CHANNELS}, spec.artifacts,
                                   np.random.default_rng(stream))
    index = int(night.participant.id.rsplit("p", 1)[-1])
    start = datetime(2024, 1, 1, 22, 30) + timedelta(days=index * 3 + night.participant.visits[night.visit])
    write_psg(out / "psg" / f"{night.study_id}.edf", signals, start=start, patient=night.participant.id,
              male=night.participant.male, ranges=ranges)
    if spec.hypnogram_format == "edf":
        write_hypnogram_edf(out / "hypnograms" / f"{night.study_id}.edf", stages, start=start)
    else:
        write_hypnogram_csv(out / "hypnograms" / f"{night.study_id}.csv", stages)
    return {"study": night.study_id, "participant": night.participant.id, "minutes": night.minutes,
            "stage_minutes": stage_minutes(stages), "traits": asdict(night.participant.traits),
            "risk": night.participant.risk, **({"artifacts": as_records(artifacts)} if spec.artifacts else {})}


def synthesize_cohort(out: Path, spec: CohortSpec = CohortSpec(), *, workers: int = 1) -> SynthCohort:
    """Write the whole cohort under ``out`` (see the module docstring); ``workers`` processes share the nights."""
    out = Path(out)
    nights = plan_nights(spec)
    if workers > 1 and len(nights) > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            truth = list(pool.map(make_night, nights, [spec] * len(nights), [out] * len(nights)))
    else:
        truth = [make_night(night, spec, out) for night in nights]
    people = list({n.participant.id: n.participant for n in nights}.values())
    write_labels(out, people, spec.outcomes)
    participants = {n.study_id: n.participant.id for n in nights}
    write_csv(out / "participants.csv",
              pd.DataFrame({"study": list(participants), "participant": list(participants.values())}))
    spec_dict = {k: v for k, v in asdict(spec).items() if k != "outcomes"}
    spec_dict["outcomes"] = [asdict(o) for o in spec.outcomes]
    write_json(out / "cohort.json", {"spec": spec_dict, "channels": [asdict(c) for c in CHANNELS], "nights": truth})
    return SynthCohort(out, [n.study_id for n in nights], participants)


def write_labels(out: Path, people: Sequence[Participant], outcomes: tuple[OutcomeSpec, ...]) -> None:
    is_event, time_to_event = outcome_tables(list(people), outcomes)
    write_outcome_table(out / "labels" / "is_event.csv", is_event)
    write_outcome_table(out / "labels" / "time_to_event.csv", time_to_event)
    write_outcome_table(out / "labels" / "demographics.csv", demographics_table(list(people)))
    mapping = pd.DataFrame([{"label_idx": o.label_idx, "phecode": o.phecode, "phenotype": o.phenotype}
                            for o in outcomes])
    write_csv(out / "labels" / "label_mapping.csv", mapping)
