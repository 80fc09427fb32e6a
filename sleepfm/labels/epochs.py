"""Epoch grids: run-length stage annotations → epochs, and 5-s ↔ 30-s conversion.

Folding rule (fine epochs → one coarse epoch, e.g. six 5-s epochs → one 30-s epoch)
-------------------------------------------------------------------------------------
The coarse epoch takes the stage that fills the greatest part of it — the AASM rule for an
epoch that spans a stage change. In detail, over the ``k`` fine epochs it covers:

1. Count the fine epochs of each stage W, N1, N2, N3, REM and the unscored ones (UNS).
2. The candidate is the scored stage with the highest count; when two or more stages tie,
   the one that occurs first in the epoch wins (``N1 N1 N1 N2 N2 N2`` → N1).
3. The coarse epoch is UNS only when unscored fine epochs outnumber the candidate strictly
   (``UNS UNS UNS UNS N2 N2`` → UNS, ``UNS UNS UNS N2 N2 N2`` → N2, ``UNS UNS N1 N1 N2 N2`` → N1).
4. A trailing group shorter than ``k`` (a record whose length is not a multiple of 30 s) is
   padded with UNS, so it is scored only when the fine epochs present are a strict majority
   of a full epoch or tie with the padding.

Expanding (coarse → fine) repeats each stage ``k`` times. Folding then expanding returns the
original wherever all ``k`` fine epochs agreed.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

from sleepfm.errors import InputError, UsageError
from sleepfm.interfaces.label_reader import Hypnogram, Stage

_SCORED = np.array([s.value for s in Stage if s is not Stage.UNS], dtype=np.int8)


def _ratio(coarse: float, fine: float) -> int | None:
    ratio = coarse / fine
    k = round(ratio)
    return k if k >= 1 and math.isclose(ratio, k, rel_tol=1e-6) else None


def fold_stages(stages: np.ndarray, factor: int) -> np.ndarray:
    """Fold every ``factor`` consecutive epochs into one by the module's folding rule."""
    stages = np.asarray(stages, dtype=np.int8)
    if factor == 1:
        return stages.copy()
    n_out = -(-stages.size // factor)
    padded = np.full(n_out * factor, Stage.UNS.value, dtype=np.int8)
    padded[: stages.size] = stages
    groups = padded.reshape(n_out, factor)
    hits = groups[:, :, None] == _SCORED[None, None, :]  # (n_out, factor, 5)
    counts = hits.sum(axis=1)
    first = np.where(hits.any(axis=1), hits.argmax(axis=1), factor)
    # Count dominates; among equal counts the earliest first occurrence wins.
    best = np.argmax(counts * (factor + 1) - first, axis=1)
    best_count = counts[np.arange(n_out), best]
    unscored = (groups == Stage.UNS.value).sum(axis=1)
    return np.where(unscored > best_count, Stage.UNS.value, _SCORED[best]).astype(np.int8)


def fold_probabilities(probabilities: np.ndarray, factor: int) -> np.ndarray:
    """Average stage probabilities ``(n, 5)`` over every ``factor`` consecutive epochs.

    A trailing group shorter than ``factor`` is averaged over the epochs it has.
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    n_out = -(-probabilities.shape[0] // factor)
    sums = np.add.reduceat(probabilities, np.arange(0, probabilities.shape[0], factor), axis=0)
    sizes = np.minimum(factor, probabilities.shape[0] - np.arange(n_out) * factor)
    return sums / sizes[:, None]


def resample_hypnogram(hypnogram: Hypnogram, epoch_seconds: float) -> Hypnogram:
    """The same hypnogram on epochs of ``epoch_seconds`` (a multiple or divisor of the current length)."""
    current = float(hypnogram.epoch_seconds)
    if (factor := _ratio(epoch_seconds, current)) is not None:
        stages = fold_stages(hypnogram.stages, factor)
    elif (factor := _ratio(current, epoch_seconds)) is not None:
        stages = np.repeat(hypnogram.stages, factor)
    else:
        raise UsageError(
            f"cannot convert {current:g}-s epochs to {epoch_seconds:g}-s epochs",
            fix="the new epoch length must be a whole multiple or divisor of the old one",
        )
    return dataclasses.replace(hypnogram, stages=stages, epoch_seconds=float(epoch_seconds))


def infer_epoch_seconds(onsets: Sequence[float], durations: Sequence[float], preferred: float,
                        *, where: str | None = None) -> float:
    """The epoch length of run-length stage annotations.

    ``preferred`` (the format's usual epoch) when every run starts and lasts a whole number of
    such epochs (to within 1 %), else the largest length of at least one second that divides
    them all (on a 0.1-s grid).
    """
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
                   fill: int) -> tuple[float, np.ndarray]:
    """Expand ``(onset, duration, code)`` runs onto an epoch grid starting at the first onset.

    Epochs no run covers get ``fill``. A run shorter than one epoch still marks the epoch it
    starts in. Where runs overlap the later one in the list wins. Returns ``(onset, stages)``.
    """
    if not runs:
        return 0.0, np.zeros(0, dtype=np.int8)
    start = min(onset for onset, _, _ in runs)
    spans = [(round((onset - start) / epoch_seconds), max(1, round(duration / epoch_seconds)), code)
             for onset, duration, code in runs]
    stages = np.full(max(first + count for first, count, _ in spans), fill, dtype=np.int8)
    for first, count, code in spans:
        stages[first : first + count] = code
    return float(start), stages
