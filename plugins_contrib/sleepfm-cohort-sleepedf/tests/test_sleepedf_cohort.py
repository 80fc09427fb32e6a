"""cohort-sleepedf, tested installed, on the real Sleep-EDF files of ../shared copied under their
PhysioNet names (the shared PSG is the first 300 s of SC4001E0-PSG.edf)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sleepfm_cohort_sleepedf.cohort import channel_map_path, participant_of

from sleepfm import registry
from sleepfm.cohorts import load_cohort
from sleepfm.labels import read_hypnogram

SLEEP_EDF = Path("data/psg/sleep-edf")


@pytest.fixture
def real_folder(shared: Path, tmp_path: Path) -> Path:
    source = shared / SLEEP_EDF
    folder = tmp_path / "sleep-edf" / "sleep-cassette"
    folder.mkdir(parents=True)
    shutil.copy(source / "SC4001E0-PSG_first300s.edf", folder / "SC4001E0-PSG.edf")
    shutil.copy(source / "SC4001EC-Hypnogram.edf", folder / "SC4001EC-Hypnogram.edf")
    return tmp_path / "sleep-edf"


def test_registered_through_its_distribution() -> None:
    entry = registry.entry("cohorts", "cohort-sleepedf")
    assert entry.plugin.distribution == "sleepfm-cohort-sleepedf"


@pytest.mark.shared
def test_real_psg_pairs_with_its_hypnogram_by_the_first_six_characters(real_folder: Path) -> None:
    (study,) = load_cohort("cohort-sleepedf").discover(real_folder)
    assert (study.id, study.participant) == ("SC4001E0", "400")
    assert study.signal_path.name == "SC4001E0-PSG.edf"
    assert study.hypnogram_path.name == "SC4001EC-Hypnogram.edf"
    assert study.extra == {"set": "SC", "subject": "00", "night": 1} and study.label_reader == "edf"
    hypnogram = read_hypnogram(study.hypnogram_path, fmt=study.label_reader)
    # README: W 59,910 s, S1 1,740 s, S2 7,500 s, S3 3,030 s + S4 3,570 s, R 3,750 s, ? 6,900 s.
    assert hypnogram.counts() == {"UNS": 230, "W": 1997, "N1": 58, "N2": 250, "N3": 220, "REM": 125}


@pytest.mark.shared
def test_real_channel_labels_are_all_in_the_map_or_deliberately_unmapped(real_folder: Path) -> None:
    import json

    import pyedflib

    (study,) = load_cohort("cohort-sleepedf").discover(real_folder)
    with pyedflib.EdfReader(str(study.signal_path)) as reader:
        labels = reader.getSignalLabels()
    table = json.loads(channel_map_path().read_text())
    mapped = {label for group in table.values() for label in group}
    assert sorted(set(labels) - mapped) == ["Event marker", "Temp rectal"]


def test_naming_of_both_sets_scorers_and_nights(tmp_path: Path) -> None:
    for name in ("SC4001E0-PSG.edf", "SC4001EC-Hypnogram.edf", "SC4002E0-PSG.edf", "SC4002EC-Hypnogram.edf",
                 "SC4012E0-PSG.edf", "SC4012EC-Hypnogram.edf", "ST7011J0-PSG.edf", "ST7011JP-Hypnogram.edf",
                 "ST7022J0-PSG.edf", "SC4031E0-PSG.edf", "README.txt"):
        (tmp_path / name).write_bytes(b"")
    studies = {s.id: s for s in load_cohort("cohort-sleepedf").discover(tmp_path)}
    assert sorted(studies) == ["SC4001E0", "SC4002E0", "SC4012E0", "SC4031E0", "ST7011J0", "ST7022J0"]
    assert studies["SC4002E0"].hypnogram_path.name == "SC4002EC-Hypnogram.edf"
    assert studies["ST7011J0"].hypnogram_path.name == "ST7011JP-Hypnogram.edf"
    assert studies["ST7022J0"].hypnogram_path is None and studies["SC4031E0"].hypnogram_path is None
    # Two nights of subject 00 share a participant; subject 01 and ST subject 01 do not.
    assert studies["SC4001E0"].participant == studies["SC4002E0"].participant == "400"
    assert studies["SC4012E0"].participant == "401" and studies["ST7011J0"].participant == "701"
    assert participant_of("ST7022J0") == "702"


def test_subjects_table_gives_demographics(tmp_path: Path) -> None:
    for name in ("SC4001E0-PSG.edf", "SC4002E0-PSG.edf", "SC4011E0-PSG.edf"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "SC-subjects.csv").write_text(
        "subject,night,age,sex (F=1),LightsOff\n0,1,33,1,00:38\n0,2,33,1,21:57\n1,1,33,2,22:44\n7,1,40,2,23:00\n")
    frame = load_cohort("cohort-sleepedf").demographics(tmp_path)
    assert frame.to_dict("list") == {"Study ID": ["SC4001E0", "SC4002E0", "SC4011E0"], "age": [33.0] * 3,
                                     "sex": ["F", "F", "M"]}


@pytest.mark.shared
@pytest.mark.slow
def test_run_on_the_real_recording(real_folder: Path, shared: Path, tmp_path: Path, capsys) -> None:
    """The real Sleep-EDF night (first 5 minutes: 10 wake epochs) through `sleepfm run`: the
    adapter's channel map gives BAS, RESP and EMG (no ECG), and the scored hypnogram is compared
    over the epochs both cover."""
    import json

    from sleepfm.cli.app import main

    out = tmp_path / "run"
    code = main(["run", "--plugin", "cohort-sleepedf", "--data", str(real_folder), "--out", str(out),
                 "--checkpoints", str(shared / "reference" / "sleepfm-compat")])
    assert code == 0, capsys.readouterr().err
    (study,) = json.loads((out / "report.json").read_text())["studies"]
    assert study["id"] == "SC4001E0" and study["duration_s"] == 300.0
    assert study["modalities"] == ["BAS", "RESP", "EMG"] and study["modalities_missing"] == ["EKG"]
    # All ten scored epochs are wake: the wake row of the confusion matrix is the predicted counts.
    assert study["agreement"]["n_epochs"] == 10
    assert study["agreement"]["confusion"][0] == [study["stage_counts"][s] for s in ("W", "N1", "N2", "N3", "REM")]
