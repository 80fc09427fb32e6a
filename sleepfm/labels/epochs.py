"""Epoch grids of scored files: run-length stage annotations → epochs on a common grid.

The folding of epochs (5-s ↔ 30-s) lives with the hypnogram type, in
:mod:`sleepfm.labels.hypnogram`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path

import numpy as np

from sleepfm.errors import InputError
from sleepfm.labels.hypnogram import Hypnogram, StageMapping
from sleepfm.labels.vocabulary import canonical_event, events_frame, stage_code, stage_from_text
from sleepfm.limits import check_recording_seconds


def check_times(onsets: Sequence[float], durations: Sequence[float], *, where: str | None = None) -> None:
    """Refuse non-finite onsets or durations, and stages spanning more than a recording can."""
    for name, values in (("onset", onsets), ("duration", durations)):
        bad = [value for value in values if not math.isfinite(value)]
        if bad:
            raise InputError(f"a stage {name} is {bad[0]}, not a finite number of seconds", where=where,
                             fix="every stage needs a finite onset and duration")
    if onsets:
        end = max(onset + max(duration, 0.0) for onset, duration in zip(onsets, durations, strict=True))
        check_recording_seconds(end - min(onsets), "its stages", where=where,
                                fix="check the stage onsets and durations (seconds)")


def infer_epoch_seconds(onsets: Sequence[float], durations: Sequence[float], preferred: float,
                        *, where: str | None = None) -> float:
    """The epoch length of run-length stage annotations.

    ``preferred`` (the format's usual epoch) when every run starts and lasts a whole number of
    such epochs (to within 1 %), else the largest length of at least one second that divides
    them all (on a 0.1-s grid).
    """
    check_times(onsets, durations, where=where)
    start = min(onsets)
    values = [o - start for o in onsets] + [d for d in durations if d > 0]
    tolerance = 0.01 * preferred
    if all(abs(v - round(v / preferred) * preferred) <= tolerance for v in values):
        return float(preferred)
    step = 0
    for value in values:
        step = math.gcd(step, round(value * 10))
    if step < 10:
        raise InputError(
            "the stage annotations do not fall on a common epoch grid of 1 s or more",
            where=where,
            fix="check that the stage onsets and durations are whole epochs",
        )
    return step / 10


def runs_to_stages(runs: Sequence[tuple[float, float, int]], epoch_seconds: float,
                   fill: int, *, where: str | None = None) -> tuple[float, np.ndarray]:
    """Expand ``(onset, duration, code)`` runs onto an epoch grid starting at the first onset.

    Epochs no run covers get ``fill``. A run shorter than one epoch still marks the epoch it
    starts in. Where runs overlap the later one in the list wins. Returns ``(onset, stages)``.
    """
    if not runs:
        return 0.0, np.zeros(0, dtype=np.int8)
    check_times([run[0] for run in runs], [run[1] for run in runs], where=where)
    start = min(onset for onset, _, _ in runs)
    spans = [(round((onset - start) / epoch_seconds), max(1, round(duration / epoch_seconds)), code)
             for onset, duration, code in runs]
    stages = np.full(max(first + count for first, count, _ in spans), fill, dtype=np.int8)
    for first, count, code in spans:
        stages[first : first + count] = code
    return float(start), stages


def annotated_hypnogram(notes: Iterable[tuple[float, float | None, str]], mapping: StageMapping, *,
                        path: Path, preferred: float = 30.0, start_time: datetime | None = None) -> Hypnogram:
    """A hypnogram from timed text annotations ``(onset, duration or None, text)``.

    Texts that name a stage (:func:`~sleepfm.labels.vocabulary.stage_from_text`) become
    run-length stages (a stage without a duration covers one ``preferred`` epoch); every other
    text becomes an event. Raises :class:`InputError` when no text names a stage.
    """

    notes = list(notes)
    # Events too: an infinite onset would reach the event table and every output made from it.
    check_times([note[0] for note in notes], [note[1] or 0.0 for note in notes], where=str(path))
    runs: list[tuple[float, float, int]] = []
    events = []
    for onset, duration, text in notes:
        value = stage_from_text(text)
        if value is not None:
            runs.append((onset, duration or preferred, stage_code(value, mapping)))
        else:
            events.append((onset, duration or 0.0, canonical_event(text), "", np.nan))
    if not runs:
        raise InputError("no sleep-stage annotations", where=path,
                         fix="stages must be named W/Wake, N1, N2, N3, R/REM or Unscored (or 'Sleep stage X')")
    epoch = infer_epoch_seconds([r[0] for r in runs], [r[1] for r in runs], preferred, where=str(path))
    onset, stages = runs_to_stages(runs, epoch, mapping.code("unscored"), where=str(path))
    return Hypnogram(stages, epoch_seconds=epoch, onset=onset, start_time=start_time, events=events_frame(events),
                     source=Path(path))
