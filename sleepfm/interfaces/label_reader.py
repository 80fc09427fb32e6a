"""LabelReader: a scored hypnogram file → per-epoch sleep stages plus an event table."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd


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
    """

    stages: np.ndarray
    epoch_seconds: float = 30.0
    onset: float = 0.0
    start_time: datetime | None = None
    events: pd.DataFrame = field(default_factory=empty_events)
    source: Path | None = None

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
        :mod:`sleepfm.labels.epochs`); shorter ones repeat the stage.
        """
        from sleepfm.labels.epochs import resample_hypnogram

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


class LabelReader(ABC):
    """Reads one hypnogram format.

    Subclasses set :attr:`extensions` and implement :meth:`sniff` (cheap: look at the first
    bytes) and :meth:`read`, raising :class:`sleepfm.errors.InputError` for a file that is
    not of their format or is malformed.
    """

    extensions: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def sniff(self, path: Path) -> bool:
        """Whether ``path`` looks like this format."""

    @abstractmethod
    def read(self, path: Path, mapping: StageMapping | None = None) -> Hypnogram:
        """Read the stages and events of ``path``."""
