"""Cohort: everything sleepfm needs to know about one study collection's conventions.

A cohort adapter bundles a discovery rule (which files are studies, which hypnogram goes
with which recording), the names of the reader, channel mapper and label reader to use,
parsers for demographics and outcomes, and a default configuration.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd


@dataclass(frozen=True)
class Study:
    """One recording of a cohort.

    Attributes
    ----------
    id:
        Study ID, unique in the cohort; names output files (``<id>.h5``).
    participant:
        Participant ID: splits never put one participant's studies on two sides.
    signal_path:
        The PSG file.
    hypnogram_path:
        The scored hypnogram, if any.
    extra:
        Cohort-specific fields (visit number, site, ...).
    """

    id: str
    participant: str
    signal_path: Path
    hypnogram_path: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Cohort(ABC):
    """A cohort adapter. Class attributes name the registry components it uses."""

    reader: ClassVar[str] = "edf"
    channel_mapper: ClassVar[str] = "rules"
    label_reader: ClassVar[str | None] = None

    @abstractmethod
    def discover(self, root: Path) -> list[Study]:
        """All studies under ``root``, sorted by ID."""

    def demographics(self, root: Path) -> pd.DataFrame | None:
        """Columns ``Study ID``, ``age`` (years), ``sex`` (``"M"``/``"F"``); ``None`` if the cohort has none."""
        return None

    def outcomes(self, root: Path) -> tuple[pd.DataFrame, pd.DataFrame] | None:
        """``(is_event, time_to_event)``, each indexed by ``Study ID`` with one column per phecode."""
        return None

    def default_config(self) -> dict[str, Any]:
        """Overrides applied before the user's config (e.g. the channel map to use)."""
        return {}
