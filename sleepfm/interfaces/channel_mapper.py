"""ChannelMapper: channel labels → the modality each channel belongs to, or none and why."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sleepfm.interfaces.modality import Modality


@dataclass(frozen=True)
class ChannelAssignment:
    """The decision for one channel label.

    Attributes
    ----------
    label:
        The label that was mapped, unchanged.
    modality:
        Its modality, or ``None`` when the channel is unmapped (it is still stored).
    rule:
        Which rule decided, for ``sleepfm channels`` and debugging (e.g. ``"alias:EOG(L)"``,
        ``"table:BAS"``, ``"no-match"``).
    reason:
        Why an unmapped channel is unmapped (``None`` when mapped).
    """

    label: str
    modality: Modality | None
    rule: str
    reason: str | None = None

    @property
    def mapped(self) -> bool:
        return self.modality is not None


class ChannelMapper(ABC):
    """Assigns modalities to channel labels. Must be deterministic and order-preserving."""

    @abstractmethod
    def assign(self, labels: Sequence[str]) -> list[ChannelAssignment]:
        """One :class:`ChannelAssignment` per label, in the same order."""

    def for_recording(self, path: Path) -> ChannelMapper:
        """The mapper to use for the recording at ``path``: itself, unless it reads a file that comes
        with each recording (the BIDS ``channels.tsv`` beside it), when it returns one bound to that file."""
        return self
