"""A task is one study's work; an outcome is its result or its one-line failure.

A task is a chain of steps, each a module-level function (workers import it by name, never
the caller's ``__main__``) called with the previous step's value and its own arguments. A
step marked ``gpu`` runs only where a GPU is advertised; on a local machine every step of a
task runs in one worker.

How a failure counts (the same under every executor):

* a :class:`~sleepfm.errors.SleepfmError` (bad input, full disk) is that study's failure at
  once: trying again would fail the same way;
* any other exception, or the worker process dying, is tried again up to ``retries`` times
  (elsewhere, where the executor can), then is that study's failure.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sleepfm.errors import SleepfmError, disk_full


@dataclass(frozen=True)
class Step:
    fn: Callable[..., Any]
    args: tuple[Any, ...] = ()
    gpu: bool = False


@dataclass(frozen=True)
class Task:
    """One study's work: ``key`` names it in messages (its file or ID)."""

    key: str
    steps: tuple[Step, ...]

    @classmethod
    def call(cls, key: str, fn: Callable[..., Any], *args: Any, gpu: bool = False) -> Task:
        """A one-step task: ``fn(*args)``."""
        return cls(key, (Step(fn, args, gpu),))

    @property
    def gpu(self) -> bool:
        return any(step.gpu for step in self.steps)


@dataclass
class Outcome:
    """A task's value, or ``error``: the one line saying why it failed."""

    task: Task
    value: Any = None
    error: str | None = None
    attempts: int = 1

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class Failed:
    """A step's deterministic failure, handed along the chain instead of raised (not retried)."""

    error: str


@dataclass
class Attempts:
    """Tries per task, against the ``retries`` limit."""

    retries: int
    counts: dict[int, int] = field(default_factory=dict)

    def again(self, index: int) -> bool:
        """Count a failed try of task ``index``; whether it may be tried once more."""
        self.counts[index] = self.counts.get(index, 0) + 1
        return self.counts[index] <= self.retries

    def of(self, index: int) -> int:
        return self.counts.get(index, 0) + 1


_START = object()
_ALLOCATOR_TUNED = False


def tune_allocator() -> None:
    """Undo, once per process, what dask's nanny does to glibc's allocator in its workers.

    The nanny starts workers with ``MALLOC_TRIM_THRESHOLD_=65536``, to hand freed memory back to
    the system at once. Setting it turns off glibc's adaptive mmap threshold: every array over
    128 KiB is then mapped and unmapped again, page by page, and a study's steps ran 2.5× slower
    on such a worker (preprocessing an 8-h night 9 s instead of 3.6 s, embedding it 40 s instead
    of 14 s). The thresholds are set where the adaptive rule would take them.
    """
    global _ALLOCATOR_TUNED
    if _ALLOCATOR_TUNED or "MALLOC_TRIM_THRESHOLD_" not in os.environ or not sys.platform.startswith("linux"):
        return
    _ALLOCATOR_TUNED = True
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc
        return
    m_trim_threshold, m_mmap_threshold = -1, -3
    libc.mallopt(m_mmap_threshold, 32 * 2**20)
    libc.mallopt(m_trim_threshold, 64 * 2**20)


def run_steps(steps: Sequence[Step], value: Any = _START) -> Any:
    """Run ``steps`` in order (in a worker); the first gets only its own arguments unless a
    ``value`` is handed in. A deterministic failure becomes :class:`Failed` and skips the rest;
    an unexpected exception propagates, so that the executor may retry."""
    tune_allocator()
    for step in steps:
        if isinstance(value, Failed):
            return value
        args = step.args if value is _START else (value, *step.args)
        try:
            value = step.fn(*args)
        except SleepfmError as exc:
            return Failed(str(exc))
        except OSError as exc:
            if (full := disk_full(exc)) is None:
                raise
            return Failed(str(full))
    return value


def unexpected(exc: BaseException) -> str:
    """The one line for an exception that was not a user error."""
    message = " ".join(str(exc).split())
    return f"unexpected {type(exc).__name__}: {message} — rerun with --debug and report it"


def settle(task: Task, value: Any, attempts: int = 1) -> Outcome:
    """The outcome of a task whose steps returned ``value``."""
    if isinstance(value, Failed):
        return Outcome(task, error=value.error, attempts=attempts)
    return Outcome(task, value, attempts=attempts)
