"""Progress (issue 15): a per-study bar with an ETA in a terminal, none in a pipe or with --quiet,
and a count that never passes its total."""

from __future__ import annotations

import os
import pty
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sleepfm.read.edf_writer import synthetic_recording

MONTAGE = {"C3-M2": 256.0, "ECG": 256.0, "Chin": 256.0, "Thor": 32.0}


def _in_a_terminal(args: list[str]) -> str:
    """Run ``python -m sleepfm ARGS`` with stderr on a pseudo-terminal; return what it showed there."""
    main, follower = pty.openpty()
    env = {**os.environ, "COLUMNS": "120", "TERM": "xterm"}
    process = subprocess.Popen([sys.executable, "-m", "sleepfm", *args], stdout=subprocess.DEVNULL,
                               stderr=follower, env=env)
    os.close(follower)
    shown = b""
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:  # the child closed its end
            break
        if not chunk:
            break
        shown += chunk
    process.wait(timeout=120)
    os.close(main)
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", shown.decode("utf-8", "replace"))


@pytest.mark.slow
def test_the_preprocess_bar_counts_to_its_total_in_a_terminal_and_hides_otherwise(tmp_path: Path,
                                                                                  shared: Path) -> None:
    folder = tmp_path / "in"
    for i in range(2):
        synthetic_recording(folder / f"s{i}.edf", 30, MONTAGE, seed=i)
    shutil.copy(shared / "data" / "psg" / "sleep-edf" / "SC4001EC-Hypnogram.edf", folder)  # set aside: counts too
    shown = _in_a_terminal(["preprocess", str(folder), "--out", str(tmp_path / "a")])
    counts = [(int(a), int(b)) for a, b in re.findall(r"\b(\d+)/(\d+)\b", shown)]
    assert "preprocess" in shown and "eta" in shown and (3, 3) in counts, shown
    assert all(done <= total for done, total in counts), shown  # it used to end at "5/3"
    assert "eta" not in _in_a_terminal(["preprocess", str(folder), "--out", str(tmp_path / "b"), "--quiet"])
    piped = subprocess.run([sys.executable, "-m", "sleepfm", "preprocess", str(folder), "--out", str(tmp_path / "c")],
                           capture_output=True, text=True, timeout=120)
    assert piped.returncode == 0 and "eta" not in piped.stderr and "━" not in piped.stderr
