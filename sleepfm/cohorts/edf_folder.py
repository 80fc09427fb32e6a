"""``cohort-edf``: any folder of EDF/BDF recordings, with hypnograms found by a naming rule.

Naming rule
-----------
Recordings
    Every file under the data folder that a registered signal reader claims (``.edf``,
    ``.bdf``, ``.rec``; sub-folders included unless ``recursive: false``; hidden files and
    folders are skipped) and that holds at least one data signal: the rule of every command
    (:mod:`sleepfm.read.discover`). Annotation-only EDF+ files — hypnograms such as
    ``SN001_sleepscoring.edf`` — are not recordings.
Study ID
    The file name without its suffix (``night1.edf`` → ``night1``). When two recordings in
    different folders share a name, each ID is prefixed by its folders
    (``site_a/night1.edf`` → ``site_a-night1``); two in one folder that differ only by suffix
    keep it (``x.edf`` → ``x.edf``, ``x.bdf`` → ``x.bdf``, as ``sleepfm preprocess`` names them).
Participant
    The study ID: a plain folder does not say which nights belong to one person.
Hypnogram
    A file of the recording's folder named after it by one of the registered naming
    conventions (``sleepfm plugins --kind pairing_rules``; :mod:`sleepfm.cohorts.pairing`):
    Sleep-EDF ``SC4001E0-PSG.edf`` ↔ ``SC4001EC-Hypnogram.edf`` (first 7 characters); DREAMS
    ``Hypnogram_<stem>.txt``; NSRR ``<stem>-nsrr.xml`` and ``<stem>-profusion.xml``; HMC
    ``<stem>_sleepscoring.edf``; ``<stem><sep><marker>.<ext>`` (``night1-hypnogram.edf``,
    ``night1.hypnogram.csv`` — what ``sleepfm hypnogram`` writes; markers configurable); and
    ``<stem>.xml``, ``.csv``, ``.txt``, ``.an``. A cohort plugin registers more. The most
    preferred convention wins, then the first file by name. With ``hypnogram_folder`` set (a
    folder, relative to the data folder or absolute): the same names in that folder, where
    ``<stem>.edf``/``.bdf`` counts too (``psg/night1.edf`` ↔ ``hypnograms/night1.edf``),
    after any file beside the recording. Its format is the convention's reader, else recognised
    from its contents, unless ``hypnogram_format`` names one. Each annotation file no recording
    took gets a warning line.

Tables (optional)
    ``demographics.csv`` in the data folder (``Study ID,age,sex``; sex ``M``/``F`` or
    ``male``/``female``), and ``is_event.csv`` + ``time_to_event.csv`` in the published layout.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pandas as pd
from pydantic import Field

from sleepfm.config.base import ConfigModel
from sleepfm.errors import InputError
from sleepfm.interfaces.cohort import Cohort, Study
from sleepfm.labels.tables import read_age_sex, read_outcomes

from .files import check_unique, is_signal_file, require_folder, walk
from .pairing import pair_hypnograms, pairing_rules
from .pairing_rules import MARKERS, SameStemRule


class EdfFolderConfig(ConfigModel):
    """Parameters of ``cohort-edf`` (``cohort.params`` in a run config)."""

    recursive: bool = Field(True, description="Search sub-folders too.")
    hypnogram_markers: list[str] = Field(list(MARKERS), description="Words that mark a hypnogram file name.")
    hypnogram_format: str = Field("auto", description="Label reader for every hypnogram, or auto-detect.")
    hypnogram_folder: Path | None = Field(None, description="Also look for <stem>.* hypnograms in this folder.")
    pairing_rules: list[str] | None = Field(
        None, description="Naming conventions to pair hypnograms by (default: every registered one).")
    demographics: Path | None = Field(None, description="Demographics CSV (default: <data>/demographics.csv).")


class _SameNameElsewhere(SameStemRule):
    """In a separate hypnogram folder, ``<stem>.edf``/``.bdf`` is a hypnogram too."""

    suffixes = (*SameStemRule.suffixes, ".edf", ".bdf")


def study_ids(recordings: list[Path], root: Path) -> dict[Path, str]:
    """Study IDs by the naming rule: the stem; where stems clash, the stem with its suffix
    (``x.edf`` beside ``x.bdf``); where that still clashes, the stem prefixed by its folders
    (``site_a-night1``), with its suffix if even that clashes."""
    def folders(path: Path) -> str:
        return "-".join((*path.relative_to(root).parent.parts, path.stem))

    steps = (lambda p: p.stem + p.suffix.lower(), folders, lambda p: folders(p) + p.suffix.lower())
    ids = {path: path.stem for path in recordings}
    for step in steps:
        counts: dict[str, int] = {}
        for name in ids.values():
            counts[name] = counts.get(name, 0) + 1
        ids = {path: step(path) if counts[name] > 1 else name for path, name in ids.items()}
    return ids


class EdfFolderCohort(Cohort):
    """A folder of EDF/BDF recordings; hypnograms beside them named ``<stem>-hypnogram.*`` and the like."""

    Config: ClassVar[type[EdfFolderConfig]] = EdfFolderConfig
    config: EdfFolderConfig

    def discover(self, root: Path) -> list[Study]:
        root = require_folder(root)
        files = walk(root, recursive=self.config.recursive)
        recordings = [path for path in files if is_signal_file(path)]
        ids = study_ids(recordings, root)
        rules = pairing_rules(self.config.pairing_rules, markers=self.config.hypnogram_markers)
        pairing = pair_hypnograms(recordings, files, rules, elsewhere=self._hypnogram_folder(root),
                                  elsewhere_rules=[_SameNameElsewhere()])
        pairing.warn_unpaired()
        forced = None if self.config.hypnogram_format == "auto" else self.config.hypnogram_format
        studies = []
        for path in recordings:
            paired = pairing.hypnograms[path]
            studies.append(Study(id=ids[path], participant=ids[path], signal_path=path,
                                 hypnogram_path=paired.path if paired else None,
                                 label_reader=forced or (paired.label_reader if paired else None)))
        return check_unique(studies, where=root)

    def _hypnogram_folder(self, root: Path) -> list[Path]:
        folder = self.config.hypnogram_folder
        if folder is None:
            return []
        folder = folder if folder.is_absolute() else root / folder
        if not folder.is_dir():
            raise InputError("hypnogram folder not found", where=folder, fix="check cohort.params.hypnogram_folder")
        return walk(folder)

    def demographics(self, root: Path) -> pd.DataFrame | None:
        path = self.config.demographics or Path(root) / "demographics.csv"
        return read_age_sex(path) if Path(path).is_file() or self.config.demographics else None

    def outcomes(self, root: Path) -> tuple[pd.DataFrame, pd.DataFrame] | None:
        is_event, times = Path(root) / "is_event.csv", Path(root) / "time_to_event.csv"
        if not (is_event.is_file() and times.is_file()):
            return None
        return read_outcomes(is_event, times).frames()
