"""Crash safety: a batch killed with SIGKILL mid-way, then re-run, redoes nothing and leaves nothing corrupt."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sleepfm.preprocessing.batch import is_complete
from sleepfm.read.edf_writer import synthetic_recording
from sleepfm.store.signal_store import SignalStore

from .conftest import REPO

MONTAGE = {"C3-M2": 256.0, "E1-M2": 256.0, "ECG": 256.0, "Chin": 256.0, "Thor": 32.0, "SpO2": 1.0}
STUDIES = 8


@pytest.mark.slow
def test_sigkill_mid_batch_then_rerun(tmp_path: Path) -> None:
    for i in range(STUDIES):
        synthetic_recording(tmp_path / "in" / f"s{i}.edf", 600, MONTAGE, seed=i)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "sleepfm", "preprocess", str(tmp_path / "in"), "--out", str(out),
               "--workers", "2"]
    # Its own session, so that the kill takes the whole job (workers included), as a cluster
    # scheduler or the OOM killer would.
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    deadline = time.monotonic() + 120
    while not list(out.glob("*.h5")) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    finished = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in out.glob("*.h5")}
    assert 1 <= len(finished) < STUDIES, "the batch must be killed part-way"
    assert all(is_complete(out / name) for name in finished)  # what exists under the final name is whole

    rerun = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{STUDIES - len(finished)} converted, {len(finished)} already done, 0 failed" in rerun.stdout
    # Completed studies were not redone: same file, untouched.
    assert {name: (p.stat().st_ino, p.stat().st_mtime_ns) for name in finished for p in [out / name]} == finished
    # Every study is complete and readable; no temporary file of the killed run is left.
    assert sorted(p.name for p in out.glob("*.h5")) == sorted(f"s{i}.h5" for i in range(STUDIES))
    for path in out.glob("*.h5"):
        with SignalStore(path) as store:
            assert store.duration == 600 and len(store.channels) == len(MONTAGE)
            store.read_block([c.name for c in store.channels], 0, store.n_samples)
    assert list(out.glob(".*")) == []
    with open(out / "manifest.csv", newline="") as handle:
        statuses = {row["output"]: row["status"] for row in csv.DictReader(handle)}
    assert statuses == {f"s{i}.h5": "skipped" if f"s{i}.h5" in finished else "done" for i in range(STUDIES)}
