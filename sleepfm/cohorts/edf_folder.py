"""``cohort-edf``: any folder of EDF/BDF recordings, with hypnograms found by a naming rule.

Naming rule
-----------
Recordings
    Every ``.edf``, ``.bdf`` or ``.rec`` file under the data folder (sub-folders included
    unless ``recursive: false``; hidden files and folders are skipped) that holds at least one
    data signal. Annotation-only EDF+ files — hypnograms such as ``SN001_sleepscoring.edf`` —
    are not recordings.
Study ID
    The file name without its suffix (``night1.edf`` → ``night1``). When two recordings in
    different folders share a name, each ID is prefixed by its folders
    (``site_a/night1.edf`` → ``site_a-night1``).
Participant
    The study ID: a plain folder does not say which nights belong to one person.
Hypnogram
    A file in the recording's folder named after it, in this order of preference:

    1. ``<stem><sep><marker>.<ext>`` — ``sep`` one of ``-``, ``_``, ``.`` or a space; ``marker``
       one of ``hypnogram``, ``hypno``, ``stages``, ``staging``, ``scoring``, ``sleepscoring``,
       ``annotations``, ``nsrr``, ``labels`` (configurable, case-insensitive); ``ext`` one of
       ``.edf .bdf .xml .csv .txt .an``. Examples: ``night1-hypnogram.edf``,
       ``SN001_sleepscoring.edf``, ``night1.hypnogram.csv`` (what ``sleepfm hypnogram`` writes),
       ``shhs1-200001-nsrr.xml``.
    2. ``<stem>.<ext>`` with ``ext`` one of ``.xml .csv .txt .an`` (``slp01a.an``, ``night1.xml``).

    3. With ``hypnogram_folder`` set (a folder, relative to the data folder or absolute): the
       same names in that folder, where ``<stem>.edf``/``.bdf`` counts too (``psg/night1.edf``
       ↔ ``hypnograms/night1.edf``).

    Several candidates of the same rank: the first by name wins. Its format is recognised
    from its contents (``hypnogram_format: auto``) unless a reader is named.

Tables (optional)
    ``demographics.csv`` in the data folder (``Study ID,age,sex``; sex ``M``/``F`` or
    ``male``/``female``), and ``is_event.csv`` + ``time_to_event.csv`` in the published layout.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import pandas as pd
from pydantic import Field

from sleepfm.config.base import ConfigModel
from sleepfm.errors import InputError
from sleepfm.interfaces.cohort import Cohort, Study
from sleepfm.labels.tables import read_age_sex, read_outcomes

from .files import check_unique, is_signal_file, require_folder, walk

MARKERS: tuple[str, ...] = (
    "hypnogram", "hypno", "stages", "staging", "scoring", "sleepscoring", "annotations", "nsrr", "labels",
)
MARKED_SUFFIXES: tuple[str, ...] = (".edf", ".bdf", ".xml", ".csv", ".txt", ".an")
SAME_STEM_SUFFIXES: tuple[str, ...] = (".xml", ".csv", ".txt", ".an")
_SEPARATORS = "-_. "


class EdfFolderConfig(ConfigModel):
    """Parameters of ``cohort-edf`` (``cohort.params`` in a run config)."""

    recursive: bool = Field(True, description="Search sub-folders too.")
    hypnogram_markers: list[str] = Field(list(MARKERS), description="Words that mark a hypnogram file name.")
    hypnogram_format: str = Field("auto", description="Label reader for every hypnogram, or auto-detect.")
    hypnogram_folder: Path | None = Field(None, description="Also look for <stem>.* hypnograms in this folder.")
    demographics: Path | None = Field(None, description="Demographics CSV (default: <data>/demographics.csv).")


def _hypnogram_rank(candidate: Path, stem: str, markers: tuple[str, ...],
                    same_stem: tuple[str, ...] = SAME_STEM_SUFFIXES) -> int | None:
    name, suffix = candidate.name.lower(), candidate.suffix.lower()
    stem = stem.lower()
    if suffix in MARKED_SUFFIXES and name.startswith(stem) and len(name) > len(stem) + len(suffix):
        rest = name[len(stem) : -len(suffix)]
        if rest[0] in _SEPARATORS and rest[1:] in markers:
            return 0
    if suffix in same_stem and candidate.stem.lower() == stem:
        return 1
    return None


def find_hypnogram(recording: Path, siblings: list[Path], markers: tuple[str, ...] = MARKERS,
                   elsewhere: Sequence[Path] = ()) -> Path | None:
    """The hypnogram of ``recording`` among the files of its folder (``siblings``) and of the
    hypnogram folder (``elsewhere``), by the module's naming rule."""
    anywhere = (*SAME_STEM_SUFFIXES, *MARKED_SUFFIXES)
    ranked = [
        (rank, path.name, path)
        for path in siblings
        if path != recording and (rank := _hypnogram_rank(path, recording.stem, markers)) is not None
    ] + [
        (2 + rank, path.name, path)
        for path in elsewhere
        if path != recording and (rank := _hypnogram_rank(path, recording.stem, markers, anywhere)) is not None
    ]
    return min(ranked)[2] if ranked else None


def study_ids(recordings: list[Path], root: Path) -> dict[Path, str]:
    """Study IDs by the naming rule: the stem, prefixed by its folders where stems clash."""
    counts: dict[str, int] = {}
    for path in recordings:
        counts[path.stem] = counts.get(path.stem, 0) + 1
    ids = {}
    for path in recordings:
        if counts[path.stem] == 1:
            ids[path] = path.stem
        else:
            ids[path] = "-".join((*path.relative_to(root).parent.parts, path.stem))
    return ids


class EdfFolderCohort(Cohort):
    """A folder of EDF/BDF recordings; hypnograms beside them named ``<stem>-hypnogram.*`` and the like."""

    Config: ClassVar[type[EdfFolderConfig]] = EdfFolderConfig
    config: EdfFolderConfig

    def discover(self, root: Path) -> list[Study]:
        root = require_folder(root)
        files = walk(root, recursive=self.config.recursive)
        by_folder: dict[Path, list[Path]] = {}
        for path in files:
            by_folder.setdefault(path.parent, []).append(path)
        recordings = [path for path in files if is_signal_file(path)]
        ids = study_ids(recordings, root)
        markers = tuple(m.lower() for m in self.config.hypnogram_markers)
        elsewhere = self._hypnogram_folder(root)
        studies = []
        for path in recordings:
            hypnogram = find_hypnogram(path, by_folder[path.parent], markers, elsewhere)
            reader = None if self.config.hypnogram_format == "auto" else self.config.hypnogram_format
            studies.append(Study(id=ids[path], participant=ids[path], signal_path=path, hypnogram_path=hypnogram,
                                 label_reader=reader))
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
