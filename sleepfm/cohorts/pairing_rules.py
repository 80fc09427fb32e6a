"""The built-in hypnogram naming conventions (``pairing_rules`` components).

======================  ==============================================  ==========================
rule                    recording ↔ hypnogram                           read by
======================  ==============================================  ==========================
``sleep-edf``           ``SC4001E0-PSG.edf`` ↔ ``SC4001EC-Hypnogram.edf``  ``edf``
                        (the first 7 characters; the 8th names the
                        scorer)
``dreams``              ``excerpt3.edf`` ↔ ``Hypnogram_excerpt3.txt``    ``dreams``
                        (also ``HypnogramAASM_``, ``HypnogramR&K_``)
``nsrr``                ``shhs1-200001.edf`` ↔ ``shhs1-200001-nsrr.xml``  ``nsrr-xml``
``profusion``           ``<stem>.edf`` ↔ ``<stem>-profusion.xml``        ``profusion-xml``
``hmc``                 ``SN001.edf`` ↔ ``SN001_sleepscoring.edf``       ``edf``
``marked``              ``<stem><sep><marker>.<ext>``: ``sep`` one of    from the contents
                        ``- _ .`` or a space, ``marker`` one of
                        :data:`MARKERS`, ``ext`` one of
                        :data:`MARKED_SUFFIXES` (``night1-hypnogram.edf``,
                        ``night1.hypnogram.csv``)
``same-stem``           ``<stem>.xml``, ``.csv``, ``.txt``, ``.an``       from the contents
======================  ==============================================  ==========================

Priorities: a cohort's own convention (10; ``profusion`` 11, so NSRR's XML wins when both
exist) before the markers (20) before a bare same-stem file (30).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import ClassVar

from sleepfm.interfaces.pairing_rule import NameTemplates, PairingRule

MARKERS: tuple[str, ...] = (
    "hypnogram", "hypno", "stages", "staging", "scoring", "sleepscoring", "annotations", "nsrr", "labels",
)
MARKED_SUFFIXES: tuple[str, ...] = (".edf", ".bdf", ".xml", ".csv", ".txt", ".an")
SAME_STEM_SUFFIXES: tuple[str, ...] = (".xml", ".csv", ".txt", ".an")
SEPARATORS = "-_. "

_SLEEP_EDF_PSG = re.compile(r"^(.{7}).-PSG", re.IGNORECASE)
_SLEEP_EDF_HYPNOGRAM = re.compile(r"^(.{7}).-Hypnogram\.edf$", re.IGNORECASE)


class SleepEdfRule(PairingRule):
    """Sleep-EDF: ``SC4001E0-PSG.edf`` ↔ ``SC4001EC-Hypnogram.edf``, paired by the first 7 characters."""

    label_reader: ClassVar[str | None] = "edf"
    examples: ClassVar[tuple[tuple[str, str], ...]] = (
        ("SC4001E0-PSG.edf", "SC4001EC-Hypnogram.edf"), ("ST7011J0-PSG.edf", "ST7011JP-Hypnogram.edf"),
        ("SC4001E0-PSG_first300s.edf", "SC4001EC-Hypnogram.edf"),
    )

    def pairs(self, recording: Path, candidate: Path) -> bool:
        psg, hypnogram = _SLEEP_EDF_PSG.match(recording.name), _SLEEP_EDF_HYPNOGRAM.match(candidate.name)
        return bool(psg and hypnogram) and psg[1].upper() == hypnogram[1].upper()  # type: ignore[index]

    def claims(self, candidate: Path) -> bool:
        return _SLEEP_EDF_HYPNOGRAM.match(candidate.name) is not None


class DreamsRule(NameTemplates):
    """DREAMS: ``excerpt3.edf`` ↔ ``Hypnogram_excerpt3.txt`` (or ``HypnogramAASM_``/``HypnogramR&K_``)."""

    label_reader: ClassVar[str | None] = "dreams"
    templates: ClassVar[tuple[str, ...]] = ("Hypnogram_{stem}.txt", "HypnogramAASM_{stem}.txt",
                                            "HypnogramR&K_{stem}.txt")
    examples: ClassVar[tuple[tuple[str, str], ...]] = (
        ("excerpt3.edf", "Hypnogram_excerpt3.txt"), ("subject1.edf", "HypnogramAASM_subject1.txt"))


class NsrrRule(NameTemplates):
    """NSRR: ``shhs1-200001.edf`` ↔ ``shhs1-200001-nsrr.xml`` (the standardised annotations)."""

    label_reader: ClassVar[str | None] = "nsrr-xml"
    templates: ClassVar[tuple[str, ...]] = ("{stem}-nsrr.xml",)
    examples: ClassVar[tuple[tuple[str, str], ...]] = (("shhs1-200001.edf", "shhs1-200001-nsrr.xml"),)


class ProfusionRule(NameTemplates):
    """NSRR: ``shhs1-200001.edf`` ↔ ``shhs1-200001-profusion.xml`` (Compumedics Profusion annotations)."""

    priority: ClassVar[int] = 11
    label_reader: ClassVar[str | None] = "profusion-xml"
    templates: ClassVar[tuple[str, ...]] = ("{stem}-profusion.xml",)
    examples: ClassVar[tuple[tuple[str, str], ...]] = (("mesa-sleep-0001.edf", "mesa-sleep-0001-profusion.xml"),)


class HmcRule(NameTemplates):
    """HMC: ``SN001.edf`` ↔ ``SN001_sleepscoring.edf``."""

    label_reader: ClassVar[str | None] = "edf"
    templates: ClassVar[tuple[str, ...]] = ("{stem}_sleepscoring.edf",)
    examples: ClassVar[tuple[tuple[str, str], ...]] = (("SN001.edf", "SN001_sleepscoring.edf"),)


class MarkedRule(PairingRule):
    """``<stem><sep><marker>.<ext>``: ``night1-hypnogram.edf``, ``night1.hypnogram.csv``, ``night1_stages.xml``."""

    priority: ClassVar[int] = 20
    examples: ClassVar[tuple[tuple[str, str], ...]] = (
        ("night1.edf", "night1-hypnogram.edf"), ("night1.edf", "night1.hypnogram.csv"),
        ("night1.edf", "night1 stages.xml"))

    def __init__(self, markers: tuple[str, ...] = MARKERS) -> None:
        self.markers = tuple(m.lower() for m in markers)

    def _marker_of(self, candidate: Path) -> tuple[str, str] | None:
        """``(stem, marker)`` if ``candidate`` is named ``<stem><sep><marker>.<ext>``."""
        if candidate.suffix.lower() not in MARKED_SUFFIXES:
            return None
        name = candidate.name[: -len(candidate.suffix)].lower()
        for marker in self.markers:
            if name.endswith(marker) and len(name) > len(marker) + 1 and name[-len(marker) - 1] in SEPARATORS:
                return name[: -len(marker) - 1], marker
        return None

    def pairs(self, recording: Path, candidate: Path) -> bool:
        found = self._marker_of(candidate)
        return found is not None and found[0] == recording.stem.lower()

    def claims(self, candidate: Path) -> bool:
        return self._marker_of(candidate) is not None


class SameStemRule(PairingRule):
    """``<stem>.xml``, ``<stem>.csv``, ``<stem>.txt``, ``<stem>.an`` beside ``<stem>.edf``."""

    priority: ClassVar[int] = 30
    suffixes: tuple[str, ...] = SAME_STEM_SUFFIXES
    examples: ClassVar[tuple[tuple[str, str], ...]] = (("night1.edf", "night1.xml"), ("slp01a.edf", "slp01a.an"))

    def pairs(self, recording: Path, candidate: Path) -> bool:
        return candidate.suffix.lower() in self.suffixes and candidate.stem.lower() == recording.stem.lower()
