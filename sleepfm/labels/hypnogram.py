"""Hypnograms: the stage codes, the :class:`Hypnogram` of one night, and its epoch folding.

One home for the data type every part of sleepfm passes around (readers produce it, staging
predicts it, reports and writers consume it), YASA ``hypno.py``-style, with its conversions
beside it. Reading files is :mod:`sleepfm.labels`' job; this module imports no reader.

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
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum
from pathlib import Path

import numpy as np
import pandas as pd

from sleepfm.errors import UsageError


class Stage(IntEnum):
    """Stage codes used everywhere in sleepfm (the published staging numbering).

    ``UNS`` (-1) marks unscored epochs; they are masked out of training and metrics unless a
    configuration maps them to a stage explicitly.
    """

    UNS = -1
    W = 0
    N1 = 1
    N2 = 2
    N3 = 3
    REM = 4


#: Column names of :attr:`Hypnogram.events`.
EVENT_COLUMNS = ("onset", "duration", "event", "channel", "nadir")


def empty_events() -> pd.DataFrame:
    """An event table with no rows and the standard columns."""
    return pd.DataFrame({c: pd.Series(dtype="float64" if c in ("onset", "duration", "nadir") else "object")
                         for c in EVENT_COLUMNS})


@dataclass
class Hypnogram:
    """Scored sleep stages of one recording.

    Attributes
    ----------
    stages:
        int8 array, one :class:`Stage` code per epoch.
    epoch_seconds:
        Length of one epoch in seconds (30 for AASM files, 5 for DREAMS).
    onset:
        Seconds from the recording start to the start of the first epoch.
    start_time:
        Wall-clock start of the scoring, when the file gives one.
    events:
        Respiratory, arousal and other scored events; columns :data:`EVENT_COLUMNS`:
        ``onset`` and ``duration`` in seconds from the recording start, ``event`` a name
        (``"obstructive apnea"``, ``"hypopnea"``, ``"desaturation"``, ``"arousal"``, ...),
        ``channel`` where scored (may be empty), ``nadir`` the lowest SpO2 in % for
        desaturations (NaN otherwise).
    source:
        The file it was read from.
    onsets_from_recording_start:
        True when the format defines onsets as seconds from the recording's start whatever
        ``start_time`` says (NSRR XML): the clock is then informative, never used to shift them.
    """

    stages: np.ndarray
    epoch_seconds: float = 30.0
    onset: float = 0.0
    start_time: datetime | None = None
    events: pd.DataFrame = field(default_factory=empty_events)
    source: Path | None = None
    onsets_from_recording_start: bool = False

    def __post_init__(self) -> None:
        self.stages = np.asarray(self.stages, dtype=np.int8)

    @property
    def n_epochs(self) -> int:
        return int(self.stages.size)

    @property
    def duration(self) -> float:
        return self.n_epochs * self.epoch_seconds

    def counts(self) -> dict[str, int]:
        """Number of epochs per stage name, unscored included (``{"W": 12, ..., "UNS": 3}``)."""
        return {s.name: int(np.sum(self.stages == s.value)) for s in Stage}

    def to_epoch_seconds(self, epoch_seconds: float) -> Hypnogram:
        """The same night on epochs of ``epoch_seconds`` (a whole multiple or divisor of the current).

        Longer epochs take the stage filling most of them (the folding rule of
        this module); shorter ones repeat the stage.
        """
        return resample_hypnogram(self, epoch_seconds)

    def to_30s(self) -> Hypnogram:
        """30-s (AASM) epochs: six 5-s epochs fold into one by the greatest-part rule."""
        return self.to_epoch_seconds(30.0)

    def to_5s(self) -> Hypnogram:
        """5-s epochs, one per SleepFM embedding token: each 30-s stage is repeated six times."""
        return self.to_epoch_seconds(5.0)


@dataclass(frozen=True)
class StageMapping:
    """How the codes a format cannot express as W/N1/N2/N3/REM are mapped.

    Each field is a stage name (``"W"``, ``"N1"``, ``"N2"``, ``"N3"``, ``"REM"``) or ``"UNS"``.
    The defaults keep every doubtful epoch out of training and metrics.
    """

    unscored: str = "UNS"
    movement: str = "UNS"
    artefact: str = "UNS"

    def code(self, kind: str) -> int:
        return int(Stage[getattr(self, kind)])



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
