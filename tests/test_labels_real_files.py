"""Every real hypnogram in ../shared/data/psg reads, with the per-stage counts its README states."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sleepfm.labels import detect_format, read_hypnogram
from sleepfm.labels.edf_annotations import read_edf_annotations

pytestmark = pytest.mark.shared

# Figures copied from shared/data/psg/README.md (seconds there are divided by 30 here).
SLEEP_EDF_SECONDS = {"W": 59_910, "S1": 1_740, "S2": 7_500, "S3": 3_030, "S4": 3_570, "R": 3_750, "?": 6_900}
HMC_SECONDS = {"W": 4_530, "N1": 3_270, "N2": 12_900, "N3": 690, "R": 4_230}
DREAMS_RK = {  # 5-s epochs
    "Hypnogram_excerpt1.txt": {"W": 56, "S1": 12, "S2": 220, "S3": 68, "S4": 4},
    "Hypnogram_excerpt2.txt": {"W": 4, "S1": 20, "S2": 200, "S3": 80, "S4": 56},
    "Hypnogram_excerpt3.txt": {"W": 32, "S1": 88, "S2": 224, "S3": 16},
}
DREAMS_AASM_SUBJECT1 = {"W": 1_388, "R": 678, "N1": 234, "N2": 1_794, "N3": 1_674}
SLPDB_RECORDS = ["slp01a", "slp01b", "slp02a", "slp02b", "slp03", "slp04", "slp14", "slp16", "slp32", "slp37",
                 "slp41", "slp45", "slp48", "slp59", "slp60", "slp61", "slp66", "slp67x"]


def _expected(rk: dict[str, int], divide: int = 1) -> dict[str, int]:
    """R&K counts → sleepfm stage counts (S3 + S4 → N3; ? → UNS)."""
    get = lambda *keys: sum(rk.get(k, 0) for k in keys) // divide  # noqa: E731
    return {"UNS": get("?"), "W": get("W"), "N1": get("S1", "N1"), "N2": get("S2", "N2"),
            "N3": get("S3", "S4", "N3"), "REM": get("R")}


def test_sleep_edf_hypnogram(shared: Path) -> None:
    path = shared / "data/psg/sleep-edf/SC4001EC-Hypnogram.edf"
    assert detect_format(path) == "edf"
    hypnogram = read_hypnogram(path)
    assert hypnogram.counts() == _expected(SLEEP_EDF_SECONDS, 30)
    assert hypnogram.epoch_seconds == 30 and hypnogram.onset == 0
    assert hypnogram.start_time.isoformat() == "1989-04-24T16:13:00"
    # The README: wake up to 30,630 s, then the first scored sleep.
    assert (hypnogram.stages[: 30_630 // 30] == 0).all() and hypnogram.stages[30_630 // 30] == 1
    assert len(read_edf_annotations(path).annotations) == 154


def test_sleep_edf_movement_and_unscored_mapping(shared: Path) -> None:
    from sleepfm.labels.vocabulary import make_mapping

    hypnogram = read_hypnogram(shared / "data/psg/sleep-edf/SC4001EC-Hypnogram.edf",
                               mapping=make_mapping(unscored="W"))
    assert hypnogram.counts()["UNS"] == 0 and hypnogram.counts()["W"] == (59_910 + 6_900) // 30


def test_hmc_aasm_hypnogram_and_lights_events(shared: Path) -> None:
    hypnogram = read_hypnogram(shared / "data/psg/hmc/SN001_sleepscoring.edf")
    assert hypnogram.counts() == _expected(HMC_SECONDS, 30)
    assert hypnogram.start_time.isoformat() == "2001-01-01T23:59:30"
    events = hypnogram.events
    assert events["event"].tolist() == ["lights off", "lights on"]
    assert events["channel"].tolist() == ["EEG F4-A1", "EEG Fpz-Cz"]
    assert events["onset"].iloc[0] == pytest.approx(33.43)


@pytest.mark.parametrize("name", sorted(DREAMS_RK))
def test_dreams_rk_excerpts(shared: Path, name: str) -> None:
    path = shared / "data/psg/dreams_cc-by-nc-nd" / name
    assert detect_format(path) == "dreams"
    hypnogram = read_hypnogram(path)
    assert hypnogram.epoch_seconds == 5 and hypnogram.n_epochs == 360
    assert hypnogram.counts() == _expected(DREAMS_RK[name])


def test_dreams_aasm_subject1(shared: Path) -> None:
    path = shared / "data/psg/dreams_cc-by-nc-nd/HypnogramAASM_subject1.txt"
    hypnogram = read_hypnogram(path)
    assert hypnogram.n_epochs == 5_768 and hypnogram.counts() == _expected(DREAMS_AASM_SUBJECT1)
    # Forcing R&K on this file reads 3 as S1 too, but 1 as S3: the same stages, same counts.
    assert read_hypnogram(path, fmt="dreams-rk").counts() == hypnogram.counts()
    # 30-s view: 5,768 / 6 = 961 full epochs plus one of two 5-s epochs.
    assert hypnogram.to_30s().n_epochs == 962


def _hea(path: Path) -> tuple[float, float]:
    fields = path.read_text().splitlines()[0].split()
    return float(fields[3]), float(fields[2].split("/")[0])  # samples, frequency


@pytest.mark.parametrize("record", SLPDB_RECORDS)
def test_slpdb_annotation_covers_the_record(shared: Path, record: str) -> None:
    folder = shared / "data/psg/slpdb"
    path = folder / f"{record}.an"
    assert detect_format(path) == "slpdb"
    hypnogram = read_hypnogram(path)
    samples, frequency = _hea(folder / f"{record}.hea")
    record_seconds = samples / frequency
    lines = [line for line in path.read_text().splitlines()[1:] if line.strip()]
    # Every line parsed into one epoch; epochs are contiguous, so none is padding.
    assert hypnogram.n_epochs == len(lines)
    end = hypnogram.onset + hypnogram.n_epochs * 30
    assert record_seconds - 30 <= end <= record_seconds
    stages_in_file = [line.split("\t")[1].split()[0] for line in lines]
    doubtful = sum(token in ("MT", "M") for token in stages_in_file)
    assert hypnogram.counts()["UNS"] == doubtful
    assert hypnogram.start_time is not None
    known = {"hypopnea", "obstructive apnea", "central apnea", "limb movement", "arousal"}
    assert set(hypnogram.events["event"]) <= known
    tokens = sum(len(line.split("\t")[1].split()) - 1 for line in lines)
    assert len(hypnogram.events) >= tokens  # compound tokens (HA, X, LL) add rows


def test_slpdb_stage_and_event_details(shared: Path) -> None:
    hypnogram = read_hypnogram(shared / "data/psg/slpdb/slp14.an")
    assert hypnogram.onset == 180.0  # first epoch annotated at 3:00
    assert hypnogram.start_time.isoformat() == "1989-03-30T23:48:00"
    first = hypnogram.events.iloc[0]
    assert first["duration"] == 30 and np.isnan(first["nadir"])
    slp01a = read_hypnogram(shared / "data/psg/slpdb/slp01a.an")
    # "4 LA LA" on the first line: N3, two leg movements with two arousals at 0 s.
    assert slp01a.stages[0] == 3
    at_zero = slp01a.events[slp01a.events["onset"] == 0]["event"].tolist()
    assert sorted(at_zero) == ["arousal", "arousal", "limb movement", "limb movement"]


def test_edf_files_pyedflib_refuses_still_parse(shared: Path) -> None:
    pyedflib = pytest.importorskip("pyedflib")
    nox = shared / "data/psg/nox-a1_rsleep/subject1.edf"
    with pytest.raises(OSError):
        pyedflib.EdfReader(str(nox))
    parsed = read_edf_annotations(nox)
    assert parsed.annotations == [] and parsed.start_time is not None
