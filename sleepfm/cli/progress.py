"""Per-study progress with an ETA on stderr, for every command that works through studies.

Shown only when stderr is a terminal and ``--quiet`` is not given, so logs and pipes get the
result lines alone. Lines printed through :data:`sleepfm.cli.console.err` while it runs appear
above the bar.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sleepfm.cli.console import err


class StudyProgress:
    """A bar of studies done out of :meth:`start`'s total, naming the last one."""

    def __init__(self, bar: Any = None) -> None:
        self._bar = bar
        self._task = bar.add_task("", total=None) if bar is not None else None

    def start(self, total: int) -> None:
        if self._bar is not None:
            self._bar.update(self._task, total=total)

    def advance(self, name: str) -> None:
        if self._bar is not None:
            self._bar.update(self._task, advance=1, description=name)


@contextmanager
def study_progress(label: str, *, quiet: bool = False) -> Iterator[StudyProgress]:
    """``with study_progress("stage") as progress: progress.start(n); ... progress.advance(name)``."""

    if quiet or not err.is_terminal:
        yield StudyProgress()
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    bar = Progress(TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   TextColumn("eta"), TimeRemainingColumn(), TextColumn("{task.description}"), console=err,
                   transient=True)
    with bar:
        yield StudyProgress(bar)
