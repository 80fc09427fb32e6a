"""Task functions for the executor tests: module-level, so worker processes import them by name."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from sleepfm.errors import InputError


def square(x: int) -> int:
    return x * x


def add(x: int, y: int) -> int:
    return x + y


def refuse(name: str) -> None:
    raise InputError("not a recording", where=name)


def die_once(marker: str) -> str:
    """Kill this worker process the first time (the marker file remembers), then succeed."""
    if not Path(marker).exists():
        Path(marker).write_text("died")
        os.kill(os.getpid(), signal.SIGKILL)
    return "survived"


def always_die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def fail_once(marker: str) -> str:
    """An unexpected error the first time, then success."""
    if not Path(marker).exists():
        Path(marker).write_text("failed")
        raise RuntimeError("a passing hiccup")
    return "recovered"


def pid() -> int:
    return os.getpid()


def slow(marker: str, seconds: float = 3.0) -> str:
    """Leave this process's PID in ``marker`` (appended: one line per try), then take a while."""
    import time

    with open(marker, "a") as handle:
        handle.write(f"{os.getpid()}\n")
    time.sleep(seconds)
    return "finished"


def where(before: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The names of the dask workers this chain of steps ran on, so far."""
    from distributed import get_worker

    return (*before, str(get_worker().name))
