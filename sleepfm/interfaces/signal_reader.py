"""SignalReader: a PSG file (EDF, BDF, ...) → a :class:`Recording` of physical signals.

A reader must never load every channel at the file's highest rate: it exposes the
channel headers first and reads one channel at a time, at that channel's own rate.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import ClassVar

import numpy as np


@dataclass(frozen=True)
class ChannelInfo:
    """Header of one signal channel.

    Attributes
    ----------
    index:
        Position of the channel among the file's signal channels (annotation channels excluded).
    label:
        The label as written in the file, surrounding whitespace stripped.
    rate:
        Sampling rate in Hz (samples per second of this channel, not the file's maximum).
    unit:
        Physical unit, normalised (``"µV"``, ``"mV"``, ``"V"``, ``"%"``, ``"bpm"``, ...; ``""``
        when the file gives none).
    n_samples:
        Number of samples the channel holds.
    transducer, prefilter:
        Free-text header fields, kept for provenance.
    physical_min, physical_max:
        The limits the recording can represent, in ``unit`` (EDF header), or ``None`` when the
        format has none. Samples held at them are clipped (``sleepfm qc``).
    """

    index: int
    label: str
    rate: float
    unit: str
    n_samples: int
    transducer: str = ""
    prefilter: str = ""
    physical_min: float | None = None
    physical_max: float | None = None

    @property
    def duration(self) -> float:
        """Seconds covered by this channel."""
        return self.n_samples / self.rate if self.rate else 0.0


class Recording(ABC):
    """An opened PSG recording. Use as a context manager; signals are read on demand.

    Attributes
    ----------
    path:
        The file it was opened from.
    channels:
        Header of every signal channel, in file order.
    start_time:
        Wall-clock start of the recording (naive, as written in the header), or ``None``.
    duration:
        Length of the recording in seconds.
    backend:
        Which library read it (e.g. ``"pyedflib"`` or ``"mne"``), for logs and manifests.
    """

    path: Path
    channels: list[ChannelInfo]
    start_time: datetime | None
    duration: float
    backend: str = ""

    @abstractmethod
    def read(self, channel: int) -> np.ndarray:
        """Physical values of channel ``channel`` (its :attr:`ChannelInfo.index`).

        Returns a 1-D float64 array of ``n_samples`` values in :attr:`ChannelInfo.unit`.
        """

    def iter_signals(self) -> Iterator[tuple[ChannelInfo, np.ndarray]]:
        """Yield ``(header, signal)`` one channel at a time (at most one signal in memory)."""
        for info in self.channels:
            yield info, self.read(info.index)

    def close(self) -> None:  # noqa: B027 - optional for readers holding no handle
        """Release the file handle."""

    def __enter__(self) -> Recording:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SignalReader(ABC):
    """Opens PSG files of the formats it knows.

    Subclasses set :attr:`extensions` (lower case, with the dot) and implement :meth:`open`,
    which raises :class:`sleepfm.errors.InputError` with a one-line reason for a file it
    cannot read (empty, truncated, not this format).
    """

    extensions: ClassVar[tuple[str, ...]] = ()

    def can_read(self, path: Path) -> bool:
        """Whether this reader claims ``path`` (by default: by its extension, any case)."""
        return Path(path).suffix.lower() in self.extensions

    @abstractmethod
    def open(self, path: Path) -> Recording:
        """Open ``path`` and read its header; signals are read later with :meth:`Recording.read`."""
