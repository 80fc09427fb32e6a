"""PairingRule: how a scored hypnogram file is named after the recording it scores.

Cohorts and labs name hypnograms by conventions (Sleep-EDF's ``SC4001EC-Hypnogram.edf`` beside
``SC4001E0-PSG.edf``, DREAMS' ``Hypnogram_excerpt3.txt``, NSRR's ``<stem>-nsrr.xml``, ...). Each
convention is a registered ``pairing_rules`` component; ``cohort-edf`` and ``sleepfm stage`` on
a folder try every registered rule, so a cohort plugin that registers one more extends both.

A rule is a class built without arguments. It says whether a candidate file is the hypnogram
of a recording (:meth:`PairingRule.pairs`), optionally whether a file looks like a hypnogram
whatever its recording (:meth:`PairingRule.claims`, so that one left unpaired is reported),
how strongly it is preferred when several files qualify (:attr:`priority`, lower first), which
label reader reads what it pairs (:attr:`label_reader`, ``None``: recognised from the contents)
and examples the generated contract tests check (:attr:`examples`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar


class PairingRule(ABC):
    """A naming convention pairing a recording with its scored hypnogram (module docstring)."""

    #: Preference when several files of one recording qualify: lower wins (built-ins: 10 for a
    #: cohort's own convention, 20 for ``<stem>-hypnogram.*`` markers, 30 for ``<stem>.xml``/``.csv``).
    priority: ClassVar[int] = 10
    #: The registered label reader for the files this rule pairs, or ``None`` to detect the format.
    label_reader: ClassVar[str | None] = None
    #: ``(recording file name, hypnogram file name)`` pairs this rule must pair.
    examples: ClassVar[tuple[tuple[str, str], ...]] = ()

    @abstractmethod
    def pairs(self, recording: Path, candidate: Path) -> bool:
        """Whether ``candidate`` is, by this convention, the hypnogram of ``recording``."""

    def claims(self, candidate: Path) -> bool:
        """Whether ``candidate``'s name marks it as a hypnogram by this convention, whatever its
        recording (so that one without a recording is reported). Default: no claim."""
        return False


class NameTemplates(PairingRule):
    """A rule given as file-name templates with ``{stem}``, the recording's name without its
    suffix (``"Hypnogram_{stem}.txt"``), compared without regard to case."""

    templates: ClassVar[tuple[str, ...]] = ()

    def _names(self, stem: str) -> set[str]:
        return {template.format(stem=stem).lower() for template in self.templates}

    def pairs(self, recording: Path, candidate: Path) -> bool:
        return candidate.name.lower() in self._names(recording.stem)

    def claims(self, candidate: Path) -> bool:
        name = candidate.name.lower()
        for template in self.templates:
            before, _, after = template.lower().partition("{stem}")
            if name.startswith(before) and name.endswith(after) and len(name) > len(before) + len(after):
                return True
        return False
