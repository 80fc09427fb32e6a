"""SHHS-shaped test folders: the SHHS1 montage at its own rates, NSRR XML and NSRR tables.

For trying the adapter (and sleepfm) without an NSRR data-access agreement, and for this
package's tests. The signals are band-limited noise with the right labels, rates, units
and ranges — enough to exercise ingestion, embedding and staging, not physiology. The
hypnogram is written the way NSRR writes it: run-length ``Stages|Stages`` events after a
``Recording Start Time`` event, plus one hypopnea and its desaturation.

Layout (``layout="nsrr"``, as downloaded from sleepdata.org)::

    polysomnography/edfs/shhs1/shhs1-<id>.edf
    polysomnography/annotations-events-nsrr/shhs1/shhs1-<id>-nsrr.xml
    datasets/shhs1-dataset-0.21.0.csv           nsrrid,age_s1,gender
    datasets/shhs-cvd-summary-dataset-0.21.0.csv nsrrid,vital,censdate,mi,mi_date,...

``layout="flat"`` puts every file in the root folder.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

EPOCH = 30
#: SHHS1 montage in EDF order: label, rate (Hz), unit, physical range (NSRR SHHS1 montage table).
SHHS1_MONTAGE: tuple[tuple[str, int, str, tuple[float, float]], ...] = (
    ("SaO2", 1, "%", (0.0, 100.0)),
    ("H.R.", 1, "bpm", (0.0, 250.0)),
    ("EEG(sec)", 125, "uV", (-125.0, 125.0)),
    ("ECG", 125, "mV", (-1.25, 1.25)),
    ("EMG", 125, "uV", (-31.5, 31.5)),
    ("EOG(L)", 50, "uV", (-125.0, 125.0)),
    ("EOG(R)", 50, "uV", (-125.0, 125.0)),
    ("EEG", 125, "uV", (-125.0, 125.0)),
    ("THOR RES", 10, "", (-1.0, 1.0)),
    ("ABDO RES", 10, "", (-1.0, 1.0)),
    ("POSITION", 1, "", (0.0, 3.0)),
    ("LIGHT", 1, "", (0.0, 1.0)),
    ("NEW AIR", 10, "", (-1.0, 1.0)),
    ("OX stat", 1, "", (0.0, 3.0)),
)
#: NSRR stage concepts by sleepfm stage code (W 0, N1 1, N2 2, N3 3, REM 4).
STAGE_CONCEPTS = {0: "Wake|0", 1: "Stage 1 sleep|1", 2: "Stage 2 sleep|2", 3: "Stage 3 sleep|3", 4: "REM sleep|5"}
#: Status and slow channels: a level and a spread rather than a waveform.
_LEVELS = {"SaO2": (95.0, 1.0), "H.R.": (62.0, 3.0), "POSITION": (1.0, 0.0), "LIGHT": (0.0, 0.0),
           "OX stat": (0.0, 0.0)}


@dataclass(frozen=True)
class SyntheticStudy:
    """One SHHS1 night to write: its stages per 30-s epoch and the participant's table rows."""

    nsrrid: str
    stages: Sequence[int]
    age: float = 63.0
    male: bool = True
    ecg_rate: int = 125
    hypopnea_epoch: int | None = None
    outcomes: dict[str, float] = field(default_factory=dict)


def night_stages(minutes: int, rng: np.random.Generator) -> list[int]:
    """A plausible short night: wake, then N1 → N2 → N3 → N2 → REM cycles of random lengths, wake at the end."""
    n = minutes * 60 // EPOCH
    stages = [0] * max(1, n // 10)
    cycle = (1, 2, 3, 2, 4)
    while len(stages) < n - 1:
        for stage in cycle:
            stages.extend([stage] * int(rng.integers(1, 5)))
    return [*stages[: n - 1], 0]


def _signal(label: str, rate: int, low: float, high: float, seconds: int, rng: np.random.Generator) -> np.ndarray:
    n = rate * seconds
    if label in _LEVELS:
        level, spread = _LEVELS[label]
        values = level + spread * np.round(rng.standard_normal(n))
    else:
        # Noise smoothed over ~40 ms plus a slow sine, filling about a fifth of the range.
        noise = np.convolve(rng.standard_normal(n), np.ones(max(1, rate // 25)) / max(1, rate // 25), "same")
        slow = np.sin(2 * np.pi * 0.25 * np.arange(n) / rate)
        values = (noise / (noise.std() or 1.0) + slow) * (high - low) / 20
    return np.clip(values, low, high)


def write_edf(path: Path, study: SyntheticStudy, *, start: datetime, seed: int = 0) -> Path:
    """The SHHS1 montage for ``len(study.stages)`` epochs, as an EDF (not EDF+) like NSRR's."""
    import pyedflib.highlevel as edf

    rng = np.random.default_rng(seed)
    seconds = len(study.stages) * EPOCH
    signals, headers = [], []
    for label, rate, unit, (low, high) in SHHS1_MONTAGE:
        rate = study.ecg_rate if label == "ECG" else rate
        signals.append(_signal(label, rate, low, high, seconds, rng))
        headers.append(edf.make_signal_header(label, dimension=unit, sample_frequency=rate,
                                              physical_min=low, physical_max=high))
    header = edf.make_header(patientcode=study.nsrrid, startdate=start)
    path.parent.mkdir(parents=True, exist_ok=True)
    edf.write_edf(str(path), signals, headers, header, file_type=1)  # 1 = pyedflib.FILETYPE_EDF
    return path


def write_nsrr_xml(path: Path, study: SyntheticStudy, *, start: datetime) -> Path:
    """NSRR standardised XML: start time, run-length stages, and the hypopnea with its desaturation."""
    root = ET.Element("PSGAnnotation")
    ET.SubElement(root, "SoftwareVersion").text = "Compumedics"
    ET.SubElement(root, "EpochLength").text = str(EPOCH)
    events = ET.SubElement(root, "ScoredEvents")

    def add(kind: str | None, concept: str, begin: float, duration: float, **extra: str) -> None:
        event = ET.SubElement(events, "ScoredEvent")
        ET.SubElement(event, "EventType").text = kind
        ET.SubElement(event, "EventConcept").text = concept
        ET.SubElement(event, "Start").text = f"{begin:g}"
        ET.SubElement(event, "Duration").text = f"{duration:.1f}"
        for tag, text in extra.items():
            ET.SubElement(event, tag).text = text

    # NSRR blanks the date of the start time; the clock time stays.
    add(None, "Recording Start Time", 0, len(study.stages) * EPOCH, ClockTime=f"00.00.00 {start:%H.%M.%S}")
    stages = list(study.stages)
    run_start = 0
    for i in range(1, len(stages) + 1):
        if i == len(stages) or stages[i] != stages[run_start]:
            add("Stages|Stages", STAGE_CONCEPTS[stages[run_start]], run_start * EPOCH, (i - run_start) * EPOCH)
            run_start = i
    if study.hypopnea_epoch is not None:
        onset = study.hypopnea_epoch * EPOCH + 4.5
        add("Respiratory|Respiratory", "Hypopnea|Hypopnea", onset, 14.2, SignalLocation="ABDO RES")
        add("Respiratory|Respiratory", "SpO2 desaturation|SpO2 desaturation", onset + 12.0, 21.0,
            SignalLocation="SaO2", SpO2Nadir="89", SpO2Baseline="95")
    ET.indent(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(path, encoding="UTF-8", xml_declaration=True)
    return path


OUTCOME_COLUMNS = ("vital", "censdate", "mi", "mi_date", "chf", "chf_date", "stroke", "stk_date", "angina",
                   "ang_date")


def write_shhs_cohort(root: Path, studies: Sequence[SyntheticStudy], *,
                      layout: Literal["nsrr", "flat"] = "nsrr", start: datetime = datetime(1985, 1, 1, 22, 0),
                      seed: int = 0) -> dict[str, Path]:
    """Write ``studies`` as an SHHS download (see the module docstring); returns study ID → EDF path."""
    root = Path(root)
    nsrr = layout == "nsrr"
    edfs = root / "polysomnography" / "edfs" / "shhs1" if nsrr else root
    xmls = root / "polysomnography" / "annotations-events-nsrr" / "shhs1" if nsrr else root
    tables = root / "datasets" if nsrr else root
    written = {}
    for k, study in enumerate(studies):
        begin = start + timedelta(minutes=7 * k)
        written[f"shhs1-{study.nsrrid}"] = write_edf(edfs / f"shhs1-{study.nsrrid}.edf", study, start=begin,
                                                     seed=seed + k)
        write_nsrr_xml(xmls / f"shhs1-{study.nsrrid}-nsrr.xml", study, start=begin)
    tables.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"nsrrid": [s.nsrrid for s in studies], "age_s1": [s.age for s in studies],
                  "gender": [1 if s.male else 2 for s in studies]}).to_csv(
        tables / "shhs1-dataset-0.21.0.csv", index=False)
    rows = [{"nsrrid": s.nsrrid, "vital": 1, "censdate": 5000, "mi": 0, "mi_date": "", "chf": 0, "chf_date": "",
             "stroke": 0, "stk_date": "", "angina": 0, "ang_date": "", **s.outcomes} for s in studies]
    pd.DataFrame(rows, columns=["nsrrid", *OUTCOME_COLUMNS]).to_csv(
        tables / "shhs-cvd-summary-dataset-0.21.0.csv", index=False)
    return written
