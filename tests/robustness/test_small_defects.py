"""Small defects seen while trying sleepfm as a new user (issue class 8): an NSRR XML whose
clock disagrees with the EDF header, and the unversioned SHHS dataset table."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from sleepfm.cohorts import load_cohort

from ..helpers_clinical import NIGHT
from .harness import assert_finite, assert_success, run_inprocess

NSRR_CODES = {0: "Wake|0", 1: "Stage 1 sleep|1", 2: "Stage 2 sleep|2", 3: "Stage 3 sleep|3", 4: "REM sleep|5"}


def _nsrr_xml(path: Path, clock: str) -> Path:
    events = [f"<ScoredEvent><EventType/><EventConcept>Recording Start Time</EventConcept><Start>0</Start>"
              f"<Duration>600</Duration><ClockTime>00.00.00 {clock}</ClockTime></ScoredEvent>"]
    events += [f"<ScoredEvent><EventType>Stages|Stages</EventType><EventConcept>{NSRR_CODES[stage]}</EventConcept>"
               f"<Start>{30 * k}</Start><Duration>30</Duration></ScoredEvent>" for k, stage in enumerate(NIGHT)]
    path.write_text("<?xml version='1.0'?><PSGAnnotation><EpochLength>30</EpochLength><ScoredEvents>"
                    + "".join(events) + "</ScoredEvents></PSGAnnotation>")
    return path


@pytest.mark.shared
@pytest.mark.slow
def test_an_nsrr_clock_that_disagrees_with_the_edf_trusts_the_start_offsets(night: Path, compat: Path,
                                                                           tmp_path: Path) -> None:
    # The EDF starts at 22:30:00; the XML says 23.45.00. NSRR Start offsets count from the
    # recording's start, so the scoring still covers the night, epoch for epoch.
    xml = _nsrr_xml(tmp_path / "night-nsrr.xml", "23.45.00")
    outcome = run_inprocess(["stage", night, "--checkpoints", compat, "--out", tmp_path / "out",
                             "--hypnogram", xml, "--no-plot", "--device", "cpu"])
    assert_success(outcome, outputs=[tmp_path / "out"])
    warnings = [line for line in outcome.stderr.splitlines() if line.startswith("warning:")]
    assert any("night-nsrr.xml" in line and "23:45:00" in line and "22:30:00" in line for line in warnings), \
        outcome.describe()
    assert_finite(tmp_path / "out" / "night.hypnogram.csv")
    stats = pd.read_json(tmp_path / "out" / "night.stats.json", typ="series")
    assert stats["agreement"]["n_epochs"] == len(NIGHT)


def test_cohort_shhs_finds_a_dataset_table_without_a_version(tmp_path: Path) -> None:
    pytest.importorskip("sleepfm_cohort_shhs")
    from sleepfm_cohort_shhs.synthetic import SyntheticStudy, write_shhs_cohort

    write_shhs_cohort(tmp_path / "shhs", [SyntheticStudy("200001", NIGHT, age=55, male=True)])
    tables = tmp_path / "shhs" / "datasets"
    shutil.move(tables / "shhs1-dataset-0.21.0.csv", tables / "shhs1-dataset.csv")
    shutil.move(tables / "shhs-cvd-summary-dataset-0.21.0.csv", tables / "shhs-cvd-summary-dataset.csv")
    cohort = load_cohort("cohort-shhs")
    demographics = cohort.demographics(tmp_path / "shhs")
    assert demographics is not None and len(demographics) == 1
    assert cohort.outcomes(tmp_path / "shhs") is not None


def test_a_versioned_shhs_table_wins_over_an_unversioned_one(tmp_path: Path) -> None:
    pytest.importorskip("sleepfm_cohort_shhs")
    from sleepfm_cohort_shhs.synthetic import SyntheticStudy, write_shhs_cohort

    write_shhs_cohort(tmp_path / "shhs", [SyntheticStudy("200001", NIGHT, age=55, male=True)])
    tables = tmp_path / "shhs" / "datasets"
    (tables / "shhs1-dataset.csv").write_text("nsrrid,age_s1,gender\n200001,99,1\n")
    demographics = load_cohort("cohort-shhs").demographics(tmp_path / "shhs")
    assert demographics is not None and 99 not in demographics.to_numpy()
