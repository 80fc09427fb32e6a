"""What every robustness case checks, in one place: run the real command line in a subprocess
under a memory (address-space) and time ceiling, then assert the outcome contract.

The contract (issue: messy inputs and faults): an outcome is either success with finite output,
or a clean failure — a non-zero exit, exactly one ``error:`` line naming what went wrong, no
traceback, no raw numpy warning, and no partial or temporary file left in the output folder.

A case runs ``python -m sleepfm ARGS`` with ``RLIMIT_AS`` set in the child (what ``ulimit -v``
does), so a memory bomb fails fast inside its own process instead of taking the machine down.
"""

from __future__ import annotations

import contextlib
import io
import os
import resource
import subprocess
import sys
import time
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

#: Address space a case may use. torch, MNE and h5py together map about 1.5 GB before any work.
MEMORY_CEILING_MB = 3072
#: Seconds a case may take; a hang or a runaway allocation loop fails the case.
TIME_CEILING_S = 120.0
#: File names a finished command must not leave behind.
TEMPORARY_MARKERS = (".tmp", ".partial", ".sleepfm-work-")


@dataclass(frozen=True)
class Outcome:
    """What one command did."""

    args: tuple[str, ...]
    code: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.startswith("error:")]

    def describe(self) -> str:
        return f"sleepfm {' '.join(self.args)} → exit {self.code} in {self.seconds:.1f} s\n{self.stderr[-3000:]}"


def _limits(memory_mb: int) -> None:
    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def run_sleepfm(args: Sequence[str | os.PathLike[str]], *, cwd: Path | None = None,
                memory_mb: int = MEMORY_CEILING_MB, timeout: float = TIME_CEILING_S,
                env: dict[str, str] | None = None) -> Outcome:
    """Run ``python -m sleepfm ARGS`` under the memory and time ceilings; a timeout fails the test."""
    argv = tuple(str(a) for a in args)
    environment = {**os.environ, "PYTHONWARNINGS": "default", "COLUMNS": "200", **(env or {})}
    start = time.monotonic()
    try:
        done = subprocess.run([sys.executable, "-m", "sleepfm", *argv], cwd=cwd, env=environment,
                              capture_output=True, text=True, timeout=timeout,
                              preexec_fn=lambda: _limits(memory_mb))
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"sleepfm {' '.join(argv)} ran past the {timeout:g}-s ceiling") from exc
    return Outcome(argv, done.returncode, done.stdout, done.stderr, time.monotonic() - start)


def start_sleepfm(args: Sequence[str | os.PathLike[str]], *, cwd: Path | None = None,
                  memory_mb: int = MEMORY_CEILING_MB) -> subprocess.Popen[str]:
    """Start ``python -m sleepfm ARGS`` under the memory ceiling, in its own process group (as a
    terminal runs a job), for cases that signal it while it works; ``communicate()`` it to finish."""
    argv = [str(a) for a in args]
    environment = {**os.environ, "PYTHONWARNINGS": "default", "COLUMNS": "200"}
    return subprocess.Popen([sys.executable, "-m", "sleepfm", *argv], cwd=cwd, env=environment, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                            preexec_fn=lambda: _limits(memory_mb))


def children_of(pid: int) -> list[int]:
    """Live processes whose parent is ``pid`` (Linux /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie does not count)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def run_inprocess(args: Sequence[str | os.PathLike[str]]) -> Outcome:
    """``sleepfm ARGS`` in this process (fast; no ceilings): stdout, stderr and every warning captured
    as a user's terminal would show them. For cases that cannot exhaust memory or time."""
    from sleepfm.cli.app import main

    argv = tuple(str(a) for a in args)
    stdout, stderr = io.StringIO(), io.StringIO()
    start = time.monotonic()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr), warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = _show_on_stderr  # not pytest's recorder: what a terminal would show
        code = main(list(argv))
    return Outcome(argv, code, stdout.getvalue(), stderr.getvalue(), time.monotonic() - start)


def _show_on_stderr(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                    file: object = None, line: str | None = None) -> None:
    sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


def leftovers(folders: Iterable[Path]) -> list[Path]:
    """Temporary or partial files under ``folders`` (hidden work folders included)."""
    found = []
    for folder in folders:
        if Path(folder).exists():
            found += [p for p in Path(folder).rglob("*") if any(m in p.name for m in TEMPORARY_MARKERS)]
    return found


def assert_clean_failure(outcome: Outcome, *, contains: str | Sequence[str] = (), code: int | None = None,
                         outputs: Iterable[Path] = ()) -> None:
    """A non-zero exit (``code`` if given), one ``error:`` line holding each of ``contains``, no
    traceback or raw warning, and nothing temporary left under ``outputs``."""
    assert outcome.code != 0, outcome.describe()
    if code is not None:
        assert outcome.code == code, outcome.describe()
    lines = outcome.error_lines
    assert len(lines) == 1, outcome.describe()
    assert "report it" not in lines[0], outcome.describe()  # "unexpected …": not a clean failure
    for text in [contains] if isinstance(contains, str) else contains:
        assert text in lines[0], outcome.describe()
    assert_quiet(outcome)
    assert not leftovers(outputs), (leftovers(outputs), outcome.describe())


def assert_partial_failure(outcome: Outcome, *, failed: Sequence[str], completed: Iterable[Path] = (),
                           outputs: Iterable[Path] = ()) -> None:
    """A batch where only ``failed`` (file names) went wrong: a non-zero exit, each of them named on
    exactly one ``error:`` line, any other error line a count summary, the ``completed`` outputs
    written and finite, nothing temporary left."""
    assert outcome.code != 0, outcome.describe()
    lines = outcome.error_lines
    for name in failed:
        assert sum(name in line for line in lines) == 1, (name, outcome.describe())
    for line in lines:
        assert any(name in line for name in failed) or " of " in line, outcome.describe()
    assert "report it" not in outcome.stderr, outcome.describe()
    assert_quiet(outcome)
    for path in completed:
        assert_finite(Path(path))
    assert not leftovers(outputs), (leftovers(outputs), outcome.describe())


def assert_finite(path: Path) -> None:
    """``path`` exists, and every number in it (HDF5 datasets, CSV columns) is finite."""
    import numpy as np

    assert path.is_file(), f"{path} was not written"
    if path.suffix in (".h5", ".hdf5"):
        import h5py

        with h5py.File(path, "r") as handle:
            def check(name: str, item: object) -> None:
                if isinstance(item, h5py.Dataset) and item.dtype.kind == "f":
                    assert np.isfinite(item[()]).all(), f"{path}:{name} holds NaN or inf"
            handle.visititems(check)
    elif path.suffix == ".csv":
        import pandas as pd

        numbers = pd.read_csv(path).select_dtypes("number").to_numpy(dtype=float)
        assert np.isfinite(numbers).all(), f"{path} holds NaN or inf"


def assert_success(outcome: Outcome, *, outputs: Iterable[Path] = ()) -> None:
    """Exit 0, no error line, no traceback or raw warning, nothing temporary left."""
    assert outcome.code == 0 and not outcome.error_lines, outcome.describe()
    assert_quiet(outcome)
    assert not leftovers(outputs), (leftovers(outputs), outcome.describe())


def assert_contract(outcome: Outcome, *, outputs: Iterable[Path] = ()) -> None:
    """Either contract: success with finite outputs under ``outputs``, or one clean failure line."""
    if outcome.code == 0:
        assert_success(outcome, outputs=outputs)
        for folder in outputs:
            for path in Path(folder).rglob("*"):
                if path.suffix in (".h5", ".hdf5") or path.name.endswith("epochs.csv"):
                    assert_finite(path)
    else:
        assert_clean_failure(outcome, outputs=outputs)


@contextlib.contextmanager
def memory_ceiling(extra_mb: int = 2048) -> Iterator[None]:
    """Limit this process's address space to what it maps now plus ``extra_mb`` for the block,
    so that an in-process case that tries to allocate without bound fails with MemoryError."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    mapped = int(next(line.split()[1] for line in Path("/proc/self/status").read_text().splitlines()
                      if line.startswith("VmSize:"))) * 1024
    limit = mapped + extra_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit if hard == resource.RLIM_INFINITY else min(limit, hard), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def assert_quiet(outcome: Outcome) -> None:
    """No traceback and no raw Python or numpy warning reaches the user."""
    assert "Traceback" not in outcome.stderr, outcome.describe()
    for marker in ("RuntimeWarning", "UserWarning", "DeprecationWarning", "FutureWarning"):
        assert marker not in outcome.stderr, outcome.describe()


def mutated_copy(source: Path, target: Path, edits: dict[int, bytes] | None = None, *,
                 truncate: int | None = None, append: bytes = b"") -> Path:
    """A copy of ``source`` at ``target`` with bytes overwritten at offsets, cut, or extended."""
    data = bytearray(Path(source).read_bytes())
    for offset, replacement in (edits or {}).items():
        data[offset: offset + len(replacement)] = replacement
    if truncate is not None:
        del data[truncate:]
    data += append
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(bytes(data))
    return target


@contextlib.contextmanager
def small_disk(folder: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` (``"2m"``) mounted at ``folder`` for full-disk cases; the test is
    skipped, with the reason, where mounting is not allowed (not root, no mount namespace)."""
    import pytest

    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs for a full-disk case: {mounted.stderr.strip() or 'not root'}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)
