"""The synthetic cohort: a plausible hypnogram model, a planted risk trait, real files, determinism."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pyedflib
import pytest

import sleepfm
from sleepfm import registry
from sleepfm.demo.hypnogram_model import EPOCHS_PER_MINUTE, HypnogramModel
from sleepfm.demo.participants import DEFAULT_OUTCOMES, draw_participants, outcome_tables
from sleepfm.demo.synth import CHANNELS, CSV_STAGE_NAMES, CohortSpec, synthesize_cohort
from sleepfm.evaluate.concordance import concordance, pair_matrices

W, N1, N2, N3, REM = range(5)


def test_hypnogram_model_has_textbook_architecture() -> None:
    for seed in range(5):
        stages = HypnogramModel().sample(np.random.default_rng(seed))
        assert stages.size == 480 * EPOCHS_PER_MINUTE
        latency = np.argmax(stages != W) / EPOCHS_PER_MINUTE
        assert 3 < latency < 45 and stages[np.argmax(stages != W)] == N1  # sleep starts with N1
        thirds = np.array_split(stages, 3)
        assert (thirds[0] == N3).sum() > 2 * (thirds[2] == N3).sum()  # N3 early
        halves = np.array_split(stages, 2)
        assert (halves[1] == REM).sum() > (halves[0] == REM).sum()  # REM late
        # REM periods: REM epochs more than 15 minutes apart start a new one (~90-min cycles).
        rem = np.flatnonzero(stages == REM)
        rem_periods = 1 + np.sum(np.diff(rem) > 15 * EPOCHS_PER_MINUTE)
        assert 4 <= rem_periods <= 6
        shares = np.bincount(stages, minlength=5) / stages.size
        assert 0.4 < shares[N2] < 0.65 and 0.15 < shares[REM] < 0.3 and shares[N1] < 0.1
        # Brief awakenings after sleep onset, each a few epochs long.
        asleep = stages[np.argmax(stages != W):]
        assert np.sum(np.diff((asleep == W).astype(int)) == 1) >= 2


def test_planted_trait_drives_signals_and_outcomes() -> None:
    people = draw_participants(3000, np.random.default_rng(0), second_visit_fraction=0.0)
    risk = np.array([p.risk for p in people])
    heart = np.array([p.traits.resting_heart_rate for p in people])
    assert np.corrcoef(risk, heart)[0, 1] > 0.9
    assert np.corrcoef(risk, [p.n3_scale for p in people])[0, 1] < -0.6
    is_event, time_to_event = outcome_tables(people)
    for outcome in DEFAULT_OUTCOMES:
        event, time = is_event[outcome.phecode].to_numpy() > 0, time_to_event[outcome.phecode].to_numpy()
        assert 0.1 < event.mean() < 0.7
        # The trait alone ranks outcomes well; it is what a model must recover from the nights.
        assert concordance(pair_matrices(event, time, risk)).value > 0.7


def test_second_visits_shift_times_and_blank_prevalent_outcomes() -> None:
    people = draw_participants(400, np.random.default_rng(1), second_visit_fraction=1.0)
    is_event, time_to_event = outcome_tables(people)
    assert len(is_event) == 800
    first = time_to_event.loc[[p.study_id(0) for p in people]].to_numpy()
    second = time_to_event.loc[[p.study_id(1) for p in people]].to_numpy()
    gaps = np.array([p.visits[1] for p in people])[:, None]
    both = np.isfinite(second)
    np.testing.assert_allclose((first - second)[both], np.broadcast_to(gaps, first.shape)[both], atol=0.11)
    assert (~both).any() and not np.isnan(first).any()
    assert (is_event.isna() == time_to_event.isna()).all().all()


@pytest.fixture(scope="module")
def tiny_cohort(tmp_path_factory: pytest.TempPathFactory):
    spec = CohortSpec(participants=2, night_minutes=(12.0, 15.0), second_visit_fraction=1.0, seed=5)
    return spec, synthesize_cohort(tmp_path_factory.mktemp("cohort"), spec, workers=1)


def test_cohort_files_are_real_edf_with_realistic_headers(tiny_cohort) -> None:
    _, cohort = tiny_cohort
    assert cohort.studies == ["synth-p000-v1", "synth-p000-v2", "synth-p001-v1", "synth-p001-v2"]
    manifest = json.loads(cohort.manifest.read_text())
    mapper = registry.get("channel_mappers", "rules")()
    for study, truth in zip(cohort.studies, manifest["nights"], strict=True):
        # Read back through sleepfm's own reader, as `sleepfm preprocess` will.
        with sleepfm.read_recording(cohort.psg / f"{study}.edf") as recording:
            assert [c.label for c in recording.channels] == [c.label for c in CHANNELS]
            assert [c.rate for c in recording.channels] == [c.rate for c in CHANNELS]
            assert [c.unit.replace("µ", "u") for c in recording.channels] == [c.unit for c in CHANNELS]
            assert recording.duration == truth["minutes"] * 60
            ecg = recording.read([c.label for c in CHANNELS].index("ECG"))
            assert 0.6 < np.percentile(ecg, 99.9) < 2.0  # R waves in mV
        with pyedflib.EdfReader(str(cohort.psg / f"{study}.edf")) as reader:
            assert reader.getPatientCode() == truth["participant"]
        # Every channel lands in a modality: the demo's models see all twelve.
        modalities = [str(a.modality) for a in mapper.assign([c.label for c in CHANNELS])]
        assert modalities == ["BAS"] * 5 + ["EMG", "EKG", "EMG"] + ["RESP"] * 4
        hypnogram = pd.read_csv(cohort.hypnograms / f"{study}.csv")
        assert list(hypnogram.columns) == ["Start", "Stop", "StageName", "StageNumber"]
        assert len(hypnogram) == truth["minutes"] * 12 and hypnogram["Start"].iloc[1] == 5
        assert set(hypnogram["StageName"]) <= set(CSV_STAGE_NAMES)
        minutes = hypnogram["StageNumber"].value_counts() / 12
        assert minutes.get(0, 0) == truth["stage_minutes"]["W"]
    participants = pd.read_csv(cohort.participants_csv)
    assert participants.groupby("participant").size().tolist() == [2, 2]
    demographics = pd.read_csv(cohort.demographics)
    assert list(demographics.columns) == ["Study ID", "age", "gender"]
    assert demographics["age"].between(0.3, 0.85).all()
    mapping = pd.read_csv(cohort.label_mapping, dtype={"phecode": str})
    assert mapping["phecode"].tolist() == list(pd.read_csv(cohort.is_event).columns[1:])


def digest(folder) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes_whatever_the_worker_count(tiny_cohort, tmp_path) -> None:
    spec, cohort = tiny_cohort
    again = synthesize_cohort(tmp_path / "again", spec, workers=2)
    assert digest(again.root) == digest(cohort.root)
    other = synthesize_cohort(tmp_path / "other", CohortSpec(participants=1, night_minutes=(12.0, 12.0), seed=6))
    assert digest(other.root)["psg/synth-p000-v1.edf"] != digest(cohort.root)["psg/synth-p000-v1.edf"]


def test_edf_annotation_hypnograms(tmp_path) -> None:
    spec = CohortSpec(participants=1, night_minutes=(40.0, 40.0), second_visit_fraction=0.0, hypnogram_format="edf")
    cohort = synthesize_cohort(tmp_path, spec)
    with pyedflib.EdfReader(str(cohort.hypnograms / "synth-p000-v1.edf")) as reader:
        onsets, durations, names = reader.readAnnotations()
    assert len(names) == 80 and set(durations) == {30.0} and onsets[1] == 30.0
    assert set(names) <= {"Sleep stage W", "Sleep stage N1", "Sleep stage N2", "Sleep stage N3", "Sleep stage R"}
    assert names[0] == "Sleep stage W" and "Sleep stage N2" in set(names)


def test_both_hypnogram_formats_read_back_with_the_label_readers(tmp_path) -> None:
    from sleepfm.labels import read_hypnogram

    stages = {}
    for fmt in ("csv", "edf"):
        spec = CohortSpec(participants=1, night_minutes=(45.0, 45.0), second_visit_fraction=0.0, hypnogram_format=fmt)
        cohort = synthesize_cohort(tmp_path / fmt, spec)
        hypnogram = read_hypnogram(cohort.hypnograms / f"synth-p000-v1.{fmt}").to_30s()
        stages[fmt] = hypnogram.stages
        truth = json.loads(cohort.manifest.read_text())["nights"][0]["stage_minutes"]
        assert {k: v / 2 for k, v in hypnogram.counts().items() if k != "UNS"} == truth
    np.testing.assert_array_equal(stages["csv"], stages["edf"])


def test_edf_samples_read_back_within_one_quantisation_step(tmp_path) -> None:
    from datetime import datetime

    from sleepfm.demo.synth import write_psg

    rng = np.random.default_rng(3)
    signals = {c.label: rng.normal(0, (c.physical_range[1] - c.physical_range[0]) / 6, 90 * c.rate)
               for c in CHANNELS}
    path = write_psg(tmp_path / "night.edf", signals, start=datetime(2024, 1, 1, 23), patient="p1", male=False)
    with pyedflib.EdfReader(str(path)) as reader:
        assert reader.getStartdatetime() == datetime(2024, 1, 1, 23) and reader.getSex() in ("Female", 0)
        for i, channel in enumerate(CHANNELS):
            low, high = channel.physical_range
            error = np.abs(reader.readSignal(i) - np.clip(signals[channel.label], low, high))
            assert error.max() <= (high - low) / 65535, channel.label
