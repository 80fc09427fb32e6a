"""Interrupts (issue 10.5): Ctrl-C stops a ``--workers N`` batch within seconds, saying so, with the
finished studies in the manifest; kill -9 of the command leaves no worker converting for nobody."""

from __future__ import annotations

import csv
import os
import signal
import time
from pathlib import Path

import pytest

from sleepfm.read.edf_writer import synthetic_recording

from .harness import Outcome, alive, assert_quiet, children_of, leftovers, start_sleepfm

MONTAGE = {"C3-M2": 256.0, "E1-M2": 256.0, "ECG": 256.0, "Chin": 256.0, "Thor": 32.0, "SpO2": 1.0}
STUDIES = 8


def _batch(tmp_path: Path) -> tuple[list[str], Path]:
    for i in range(STUDIES):
        synthetic_recording(tmp_path / "in" / f"s{i}.edf", 1800, MONTAGE, seed=i)
    out = tmp_path / "out"
    return ["preprocess", str(tmp_path / "in"), "--out", str(out), "--workers", "2"], out


def _wait_for(condition, seconds: float = 120.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


@pytest.mark.slow
def test_ctrl_c_stops_a_parallel_batch_within_seconds(tmp_path: Path) -> None:
    args, out = _batch(tmp_path)
    process = start_sleepfm(args)
    _wait_for(lambda: list(out.glob("*.h5")) or process.poll() is not None)
    workers = children_of(process.pid)
    os.killpg(process.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole process group
    sent = time.monotonic()
    stdout, stderr = process.communicate(timeout=60)
    outcome = Outcome(tuple(args), process.returncode, stdout, stderr, time.monotonic() - sent)
    assert outcome.code == 130 and outcome.seconds < 10, outcome.describe()
    assert outcome.error_lines == ["error: interrupted"], outcome.describe()
    assert_quiet(outcome)
    assert workers and not any(alive(pid) for pid in workers)
    finished = {p.name for p in out.glob("*.h5")}
    assert 1 <= len(finished) < STUDIES, "the batch must be stopped part-way"
    with open(out / "manifest.csv", newline="") as handle:
        assert {row["output"]: row["status"] for row in csv.DictReader(handle)} == dict.fromkeys(finished, "done")
    assert not leftovers([out])


@pytest.mark.slow
def test_kill_9_leaves_no_orphan_workers(tmp_path: Path) -> None:
    args, out = _batch(tmp_path)
    process = start_sleepfm(args)
    _wait_for(lambda: len(children_of(process.pid)) == 2 or process.poll() is not None)
    workers = children_of(process.pid)
    os.kill(process.pid, signal.SIGKILL)  # the command only, as the OOM killer would
    process.communicate(timeout=60)
    _wait_for(lambda: not any(alive(pid) for pid in workers), seconds=15)
    converted = {p.name for p in out.glob("*.h5")}
    time.sleep(2)
    assert {p.name for p in out.glob("*.h5")} == converted, "no study may be converted after the kill"
    assert len(converted) < STUDIES and not leftovers([out])  # the workers unwound their temporary files


@pytest.mark.slow
@pytest.mark.shared
def test_a_run_killed_part_way_resumes_and_reports_as_if_never_stopped(shared: Path, tmp_path: Path) -> None:
    """A cluster job killed mid-cohort (SIGKILL to the whole job) and started again keeps the
    studies it finished, redoes the others, and its report equals an uninterrupted run's."""
    import json

    from sleepfm.cli.app import main
    from tests.helpers_clinical import COMPAT, NIGHT, write_night

    data = tmp_path / "clinic"
    for i in range(6):
        write_night(data / f"night{i}.edf", NIGHT, seed=i)
    common = ["--data", str(data), "--checkpoints", str(shared / COMPAT), "--quiet", "--set", "risk.enabled=off",
              "--set", "staging.plots=false"]
    killed = tmp_path / "killed"
    process = start_sleepfm(["run", *common, "--out", killed, "--workers", "2"])
    _wait_for(lambda: len(list((killed / "records").glob("*.json"))) >= 2)
    os.killpg(process.pid, signal.SIGKILL)  # the job and its workers, as a scheduler ends a job
    process.communicate()
    finished = {p.stem for p in (killed / "records").glob("*.json")}
    assert 2 <= len(finished) < 6, "the run must be stopped part-way"

    assert main(["run", *common, "--out", str(killed)]) == 0
    assert main(["run", *common, "--out", str(tmp_path / "whole")]) == 0

    def studies(out: Path) -> dict[str, dict]:
        report = json.loads((out / "report.json").read_text())
        return {s["id"]: {k: v for k, v in s.items() if k != "reused"} for s in report["studies"]}

    resumed = json.loads((killed / "report.json").read_text())["studies"]
    assert {s["id"] for s in resumed if s["reused"] == ["preprocess", "embed", "stage"]} == finished
    assert studies(killed) == studies(tmp_path / "whole")
    assert not leftovers([killed])
