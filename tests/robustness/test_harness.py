"""The robustness harness itself: its ceilings bite and its contract catches what it should."""

from __future__ import annotations

from pathlib import Path

import pytest

from .harness import Outcome, assert_clean_failure, leftovers, mutated_copy, run_sleepfm


def test_a_missing_input_is_one_clean_line(tmp_path: Path) -> None:
    outcome = run_sleepfm(["preprocess", tmp_path / "nope.edf", "--out", tmp_path / "out"])
    assert_clean_failure(outcome, contains="nope.edf", code=2, outputs=[tmp_path / "out"])


def test_the_memory_ceiling_stops_the_child_not_the_machine(tmp_path: Path) -> None:
    # 40 MB of address space cannot even hold the interpreter with sleepfm's imports.
    outcome = run_sleepfm(["plugins"], memory_mb=40)
    assert outcome.code != 0


def test_the_contract_rejects_tracebacks_and_leftovers(tmp_path: Path) -> None:
    (tmp_path / "x.h5.tmp").write_bytes(b"")
    raw = Outcome(("x",), 1, "", "Traceback (most recent call last):\nerror: boom\n", 0.1)
    with pytest.raises(AssertionError):
        assert_clean_failure(raw)
    assert leftovers([tmp_path]) == [tmp_path / "x.h5.tmp"]


def test_mutated_copy_overwrites_cuts_and_appends(tmp_path: Path) -> None:
    source = tmp_path / "a.bin"
    source.write_bytes(b"0123456789")
    copy = mutated_copy(source, tmp_path / "b.bin", {2: b"xy"}, truncate=6, append=b"!")
    assert copy.read_bytes() == b"01xy45!"
