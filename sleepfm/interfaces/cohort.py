"""Cohort: everything sleepfm needs to know about one study collection's conventions.

A cohort adapter bundles a discovery rule (which files are studies, which hypnogram goes
with which recording and which label reader reads it), parsers for demographics and
outcomes, a default configuration (e.g. the channel mapper to preprocess with), and its
own parameters (:attr:`Cohort.Config`, set under ``cohort.params`` in a run config).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from sleepfm.config.base import ConfigModel

if TYPE_CHECKING:  # only for annotations: discovering studies does not import pandas
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
    label_reader:
        The registered label reader that reads ``hypnogram_path`` (``sleepfm plugins --kind
        label_readers``), or ``None`` to recognise the file's format from its contents.
    extra:
        Cohort-specific fields (visit number, site, ...).
    """

    id: str
    participant: str
    signal_path: Path
    hypnogram_path: Path | None = None
    label_reader: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class NoParameters(ConfigModel):
    """The parameters of an adapter that takes none: any key given is refused."""


class Cohort(ABC):
    """A cohort adapter.

    An adapter with parameters sets :attr:`Config` to a :class:`~sleepfm.config.base.ConfigModel`
    of them; it is built with a validated instance (``cls(config)``) and keeps it as
    ``self.config``. One without parameters keeps the default, which refuses any.
    """

    Config: ClassVar[type[ConfigModel]] = NoParameters

    def __init__(self, config: ConfigModel | None = None) -> None:
        self.config = config if config is not None else self.Config()

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
