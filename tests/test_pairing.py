"""Hypnogram pairing: every registered naming convention (a plugin's too) against its own examples,
the built-in conventions through cohort-edf and ``stage``, unpaired annotation files reported, and a
hypnogram from another night refused."""

from __future__ import annotations

import json
import warnings
from datetime import datetime
from pathlib import Path

import pytest

from sleepfm.cli.app import main
from sleepfm.cohorts import load_cohort
from sleepfm.cohorts.pairing import other_night
from sleepfm.errors import InputWarning

from .helpers_clinical import COMPAT, NIGHT, START, error_lines, write_night
from .test_cohort_edf import ANNOTATIONS, SIGNALS, write

# Every registered rule (a plugin's too) is checked against its own examples by the generated
# contract tests: tests/test_components_generated.py, pairing_rule_contract.


def test_builtin_conventions_pair_by_their_names(tmp_path: Path) -> None:
    for name, labels in [
        ("SC4001E0-PSG.edf", SIGNALS), ("SC4001EC-Hypnogram.edf", ANNOTATIONS),            # first 7 characters
        ("excerpt3.edf", SIGNALS), ("Hypnogram_excerpt3.txt", None),                       # DREAMS
        ("shhs1-200001.edf", SIGNALS), ("shhs1-200001-nsrr.xml", None),                    # NSRR: nsrr wins ...
        ("shhs1-200001-profusion.xml", None),                                              # ... over profusion
        ("mesa-sleep-0001.edf", SIGNALS), ("mesa-sleep-0001-profusion.xml", None),
        ("SN001.edf", SIGNALS), ("SN001_sleepscoring.edf", ANNOTATIONS),                   # HMC
        ("night1.edf", SIGNALS), ("night1.xml", None),                                     # same stem
        ("x.edf", SIGNALS), ("x.bdf", SIGNALS), ("x-hypnogram.edf", ANNOTATIONS),          # same stem, two formats
        ("SC4002EC-Hypnogram.edf", ANNOTATIONS), ("Hypnogram_orphan.txt", None),           # no recording
        ("orphan.stages.csv", None), ("demographics.csv", None),                           # not an annotation file
    ]:
        write(tmp_path / name, labels, text="x")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        studies = {s.id: s for s in load_cohort("cohort-edf").discover(tmp_path)}
    found = {key: (s.hypnogram_path.name if s.hypnogram_path else None, s.label_reader) for key, s in studies.items()}
    assert found == {
        "SC4001E0-PSG": ("SC4001EC-Hypnogram.edf", "edf"),
        "excerpt3": ("Hypnogram_excerpt3.txt", "dreams"),
        "shhs1-200001": ("shhs1-200001-nsrr.xml", "nsrr-xml"),
        "mesa-sleep-0001": ("mesa-sleep-0001-profusion.xml", "profusion-xml"),
        "SN001": ("SN001_sleepscoring.edf", "edf"),
        "night1": ("night1.xml", None),
        "x.edf": ("x-hypnogram.edf", None),
        "x.bdf": ("x-hypnogram.edf", None),
    }
    lines = [str(w.message) for w in caught if issubclass(w.category, InputWarning)]
    assert lines[0].startswith("4 annotation files not paired with any recording")
    assert sorted(Path(line.split(":")[0]).name for line in lines[1:]) == [
        "Hypnogram_orphan.txt", "SC4002EC-Hypnogram.edf", "orphan.stages.csv", "shhs1-200001-profusion.xml"]


def test_a_cohort_can_choose_its_conventions(tmp_path: Path) -> None:
    write(tmp_path / "excerpt3.edf", SIGNALS)
    write(tmp_path / "Hypnogram_excerpt3.txt", text="x")
    write(tmp_path / "excerpt3.csv", text="x")
    (study,) = load_cohort("cohort-edf", {"pairing_rules": ["same-stem"]}).discover(tmp_path)
    assert study.hypnogram_path.name == "excerpt3.csv"


def test_the_shared_real_folders_pair(shared: Path, tmp_path: Path) -> None:
    psg = shared / "data" / "psg"
    for folder in ("sleep-edf", "dreams_cc-by-nc-nd", "hmc"):
        (tmp_path / folder).symlink_to(psg / folder)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        studies = {s.id: s for s in load_cohort("cohort-edf").discover(tmp_path)}
    assert {key: s.hypnogram_path.name for key, s in studies.items()} == {
        "SC4001E0-PSG_first300s.edf": "SC4001EC-Hypnogram.edf", "SC4001E0-PSG_first300s.bdf": "SC4001EC-Hypnogram.edf",
        "excerpt3": "Hypnogram_excerpt3.txt"}
    unpaired = sorted(Path(str(w.message).split(":")[0]).name for w in caught
                      if "annotation file not" in str(w.message))
    assert unpaired == ["HypnogramAASM_subject1.txt", "Hypnogram_excerpt1.txt", "Hypnogram_excerpt2.txt",
                        "SN001_sleepscoring.edf"]


@pytest.mark.parametrize(("recording", "scored", "verdict"), [
    (datetime(2024, 3, 1, 22, 30), datetime(2024, 3, 1, 22, 30), None),
    (datetime(2024, 3, 1, 23, 58), datetime(2024, 3, 2, 0, 1), None),             # over midnight: same night
    (datetime(2024, 3, 1, 22, 30), datetime(2024, 3, 2, 22, 30), "1.0 days after"),
    (datetime(2024, 3, 3, 22, 30), datetime(2024, 3, 1, 22, 30), "2.0 days before"),
    (datetime(2024, 3, 1, 22, 30), datetime(1985, 1, 1, 22, 30), None),           # NSRR / EDF "unknown"
    (datetime(2001, 1, 1, 23, 59), datetime(2024, 3, 1, 23, 59), None),           # HMC's anonymised date
    (datetime(2024, 3, 1, 22, 30), None, None),                                   # a text format: no date
])
def test_other_night_compares_real_dates_only(recording: datetime, scored: datetime | None,
                                              verdict: str | None) -> None:
    problem = other_night(recording, scored)
    assert (problem is None) if verdict is None else (verdict in problem and "another night" in problem)


def test_stage_refuses_a_hypnogram_from_another_night_before_any_work(shared: Path, tmp_path: Path,
                                                                      capsys) -> None:
    edf = write_night(tmp_path / "night.edf", NIGHT[:10])
    other = tmp_path / "other.edf"
    write_night(tmp_path / "unused.edf", NIGHT[:10], hypnogram=other, start=START.replace(day=START.day + 1))
    out = tmp_path / "out"
    assert main(["stage", str(edf), "--hypnogram", str(other), "--checkpoints", str(shared / COMPAT),
                 "--out", str(out)]) == 1
    (line,) = error_lines(capsys.readouterr().err)
    assert "1.0 days after the recording (2024-03-01 22:30:00): it scores another night" in line
    assert "--accept-other-night" in line and not out.exists()


@pytest.mark.slow
def test_run_pairs_real_files_keeps_edf_and_bdf_apart_and_leaves_out_another_nights_hypnogram(
        shared: Path, tmp_path: Path, capsys) -> None:
    data = tmp_path / "data"
    data.mkdir()
    psg = shared / "data" / "psg"
    for name in ("SC4001E0-PSG_first300s.edf", "SC4001E0-PSG_first300s.bdf", "SC4001EC-Hypnogram.edf"):
        (data / name).symlink_to(psg / "sleep-edf" / name)
    (data / "Hypnogram_excerpt1.txt").symlink_to(psg / "dreams_cc-by-nc-nd" / "Hypnogram_excerpt1.txt")
    write_night(data / "night.edf", NIGHT[:10])
    write_night(tmp_path / "unused.edf", NIGHT[:10], hypnogram=data / "night-hypnogram.edf",
                start=START.replace(day=START.day + 1))
    out = tmp_path / "run"
    assert main(["run", "--data", str(data), "--out", str(out), "--checkpoints", str(shared / COMPAT),
                 "--set", "staging.plots=false"]) == 0
    err = capsys.readouterr().err
    assert "1 annotation file not paired with any recording" in err and "Hypnogram_excerpt1.txt: annotation" in err
    assert "night: " in err and "it scores another night; not used" in err
    report = json.loads((out / "report.json").read_text())
    studies = {s["id"]: s for s in report["studies"]}
    assert sorted(studies) == ["SC4001E0-PSG_first300s.bdf", "SC4001E0-PSG_first300s.edf", "night"]
    assert all(studies[k]["agreement"]["n_epochs"] == 10 for k in studies if k.startswith("SC4001"))
    assert studies["night"]["agreement"] is None
    assert any("scored hypnogram not used" in note and "another night" in note for note in studies["night"]["notes"])
