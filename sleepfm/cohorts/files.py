"""File-system helpers shared by cohort adapters: walking a data folder, telling signal
recordings from annotation-only EDF+ files, and checking that study IDs are unique."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from sleepfm.errors import InputError
from sleepfm.interfaces.cohort import Study


def require_folder(root: str | Path) -> Path:
    """``root`` as a Path, or a one-line error when it is missing or not a folder."""
    root = Path(root)
    if not root.exists():
        raise InputError("data folder not found", where=root, fix="check the path given to --data")
    if not root.is_dir():
        raise InputError("not a folder", where=root, fix="--data takes the folder holding the cohort's files")
    return root


def walk(root: Path, *, recursive: bool = True) -> list[Path]:
    """Regular files under ``root`` (sorted), leaving out hidden files and folders (``.name``):
    sleepfm and most tools write partial outputs under hidden names. The walk every command's
    input discovery uses (:mod:`sleepfm.read.discover`)."""
    from sleepfm.read.discover import walk as walk_files

    return walk_files(root, recursive=recursive)


def data_signal_count(path: Path) -> int | None:
    """How many signals of an EDF/BDF file are not annotation signals; ``None`` if the header is unreadable.

    An annotation-only EDF+ (Sleep-EDF's ``*-Hypnogram.edf``, HMC's ``*_sleepscoring.edf``)
    has 0: it is a hypnogram, not a recording.
    """
    from sleepfm.read.edf_header import ANNOTATION_LABELS, signal_labels

    labels = signal_labels(path)
    return None if labels is None else sum(label not in ANNOTATION_LABELS for label in labels)


def is_signal_file(path: Path) -> bool:
    """A recording to preprocess: a suffix a registered signal reader claims and, for a readable
    EDF/BDF header, at least one data signal — the rule of :func:`sleepfm.read.discover.find_recordings`.
    A file whose header cannot be read still counts, so that it is reported as a failed study
    rather than silently skipped."""
    from sleepfm.read import signal_extensions
    from sleepfm.read.edf_header import is_annotation_file

    return Path(path).suffix.lower() in signal_extensions() and not is_annotation_file(Path(path))


def check_unique(studies: Iterable[Study], *, where: Path) -> list[Study]:
    """The studies sorted by ID; two studies sharing an ID are an error naming both files."""
    seen: dict[str, Study] = {}
    for study in studies:
        other = seen.get(study.id)
        if other is not None:
            raise InputError(
                f"two recordings have study ID {study.id!r}: {other.signal_path} and {study.signal_path}",
                where=where,
                fix="rename one of them or move it out of the data folder",
            )
        seen[study.id] = study
    return [seen[key] for key in sorted(seen)]
