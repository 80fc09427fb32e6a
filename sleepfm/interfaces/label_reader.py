"""LabelReader: a scored hypnogram file → per-epoch sleep stages plus an event table.

The data types a reader returns (:class:`~sleepfm.labels.hypnogram.Hypnogram`,
:class:`~sleepfm.labels.hypnogram.Stage`, :class:`~sleepfm.labels.hypnogram.StageMapping`)
live in :mod:`sleepfm.labels.hypnogram`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar

from sleepfm.labels.hypnogram import Hypnogram, StageMapping


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
