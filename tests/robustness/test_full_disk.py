"""A full disk (issue 10.4): the studies that do not fit fail alone with "no space left on device",
the others complete, nothing temporary is left, and nothing crashes (h5py used to segfault)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from sleepfm.read.edf_writer import synthetic_recording

from .harness import Outcome, assert_clean_failure, assert_quiet, leftovers, run_sleepfm, small_disk

COMPAT = Path("reference/sleepfm-compat")

MONTAGE = {"C3-M2": 256.0, "E1-M2": 256.0, "ECG": 256.0, "Chin": 256.0, "Thor": 32.0, "SpO2": 1.0}


@pytest.fixture
def three_nights(tmp_path: Path) -> Path:
    """Three 10-min recordings whose signal stores take 0.94 MB each."""
    for i in range(3):
        synthetic_recording(tmp_path / "in" / f"s{i}.edf", 600, MONTAGE, seed=i)
    return tmp_path / "in"


@pytest.mark.slow
@pytest.mark.parametrize("workers", ["1", "2"])
def test_preprocess_fails_only_the_study_that_does_not_fit(three_nights: Path, tmp_path: Path, workers: str) -> None:
    with small_disk(tmp_path / "disk", "2m") as disk:
        out = disk / "h5"
        outcome = run_sleepfm(["preprocess", three_nights, "--out", out, "--workers", workers])
        with open(out / "manifest.csv", newline="") as handle:
            statuses = [row["status"] for row in csv.DictReader(handle)]
        assert_failed_for_space(outcome, failed=statuses.count("failed"), outputs=[out])
        # Two fit; with two workers the third may start while a second is still being written.
        assert statuses.count("done") == len(list(out.glob("*.h5"))) >= 1 and len(statuses) == 3


def assert_failed_for_space(outcome: Outcome, *, failed: int, outputs: list[Path]) -> None:
    """Exit 1, one line per failed study, each saying the disk is full; no crash, nothing left."""
    assert outcome.code == 1 and failed >= 1, outcome.describe()
    assert len(outcome.error_lines) == failed, outcome.describe()
    assert all("no space left on device" in line for line in outcome.error_lines), outcome.describe()
    assert_quiet(outcome)
    assert not leftovers(outputs), outcome.describe()


@pytest.mark.slow
def test_a_disk_full_from_the_start_is_one_line(three_nights: Path, tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk", "4k") as disk:
        outcome = run_sleepfm(["preprocess", three_nights, "--out", disk / "h5", "--workers", "2"])
        assert_clean_failure(outcome, contains="no space left on device", code=1, outputs=[disk])


@pytest.mark.slow
def test_embed_fails_each_study_that_does_not_fit(tmp_path: Path, shared: Path) -> None:
    from tests.helpers_models import STUDY, write_study

    for i in range(2):
        write_study(tmp_path / "h5" / f"s{i}.h5", STUDY, 2 * 38400, seed=i)
    with small_disk(tmp_path / "disk", "64k") as disk:  # the resolved config fits, no embedding file does
        out = disk / "emb"
        outcome = run_sleepfm(["embed", tmp_path / "h5", "--checkpoint", shared / COMPAT / "model_base", "--out", out])
        studies = [line for line in outcome.error_lines if "s0.h5" in line or "s1.h5" in line]
        assert outcome.code == 1 and len(studies) == 2, outcome.describe()
        assert all("no space left on device" in line for line in studies), outcome.describe()
        assert_quiet(outcome)
        assert not leftovers([out]) and not list(out.glob("*.h5"))


@pytest.mark.slow
def test_run_on_a_full_disk_says_so_and_leaves_nothing_half_written(tmp_path: Path, shared: Path) -> None:
    from tests.helpers_clinical import NIGHT, write_night

    for i in range(2):
        write_night(tmp_path / "data" / f"night{i}.edf", NIGHT, seed=i)
    with small_disk(tmp_path / "disk", "3m") as disk:  # one night's signal store fits, not two
        out = disk / "run"
        outcome = run_sleepfm(["run", "--data", tmp_path / "data", "--out", out, "--checkpoints", shared / COMPAT,
                               "--set", "risk.enabled=off", "--quiet"])
        assert outcome.code == 1 and outcome.error_lines, outcome.describe()
        assert all("no space left on device" in line for line in outcome.error_lines), outcome.describe()
        assert_quiet(outcome)
        assert not leftovers([out])
