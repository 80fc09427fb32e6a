"""HypnogramWriter: a :class:`~sleepfm.labels.hypnogram.Hypnogram` → the file(s) of one format.

Writers render in memory (file name → bytes); the caller writes every file atomically, so
a failure leaves no half-written export. A writer names the label reader that reads its
output back (:attr:`HypnogramWriter.reader`): the generated round-trip tests read every
registered writer's output through that reader and compare stages, onsets and epoch length.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from sleepfm.labels.hypnogram import Hypnogram

#: Column order of :attr:`HypnogramExport.probabilities` (the staging head's output order).
PROBABILITY_STAGES: tuple[str, ...] = ("W", "N1", "N2", "N3", "REM")


@dataclass(frozen=True)
class HypnogramExport:
    """What a writer writes.

    Attributes
    ----------
    hypnogram:
        The stages (UNS allowed), epoch length, onset from the recording start and, when known,
        the recording's clock start (``start_time``).
    probabilities:
        ``(n_epochs, 5)`` stage probabilities in :data:`PROBABILITY_STAGES` order, or ``None``
        for a scored hypnogram.
    scorer:
        Who scored it: ``"sleepfm"`` for the model, else a scorer's name or the source file.
    provenance:
        Where it came from (software version, checkpoint, source file); writers that have a
        metadata field or sidecar record it there.
    """

    hypnogram: Hypnogram
    probabilities: np.ndarray | None = None
    scorer: str = "sleepfm"
    provenance: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.probabilities is not None:
            probabilities = np.asarray(self.probabilities, dtype=np.float64)
            expected = (self.hypnogram.n_epochs, len(PROBABILITY_STAGES))
            if probabilities.shape != expected:
                raise ValueError(f"probabilities have shape {probabilities.shape}, expected {expected}")
            object.__setattr__(self, "probabilities", probabilities)

    @property
    def onsets(self) -> np.ndarray:
        """Seconds from the recording start to the start of each epoch."""
        hypnogram = self.hypnogram
        return hypnogram.onset + np.arange(hypnogram.n_epochs) * hypnogram.epoch_seconds


class HypnogramWriter(ABC):
    """Writes a hypnogram in one file format.

    Class attributes
    ----------------
    extensions:
        Endings of a file name that select this writer when no format is named
        (``sleepfm hypnogram night.hypnogram.edf``); the longest match among all writers wins.
    suffix:
        What ``sleepfm stage``/``run`` append to a study's stem (``night`` → ``night.hypnogram.edf``).
    reader:
        The registered label reader that reads the output back, or ``None`` if none does.
    keeps_start_time:
        Whether the format records the recording's clock start (the round trip then checks it).
    """

    extensions: ClassVar[tuple[str, ...]] = ()
    suffix: ClassVar[str] = ""
    reader: ClassVar[str | None] = None
    keeps_start_time: ClassVar[bool] = False

    @abstractmethod
    def render(self, export: HypnogramExport, name: str) -> dict[str, bytes]:
        """The files of the export named ``name``: ``name`` itself first, then any sidecar, each
        a file name in the same folder → its bytes."""
