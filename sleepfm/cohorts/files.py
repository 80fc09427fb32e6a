"""File-system helpers shared by cohort adapters: walking a data folder, telling signal
recordings from annotation-only EDF+ files, and checking that study IDs are unique."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from sleepfm.errors import InputError
from sleepfm.interfaces.cohort import Study

#: Suffixes of signal recordings (lower case): EDF/EDF+, BDF/BDF+, and Sleep-EDF's old ``.rec``.
SIGNAL_SUFFIXES: tuple[str, ...] = (".edf", ".bdf", ".rec")
_ANNOTATION_LABELS = (b"EDF Annotations", b"BDF Annotations")


def require_folder(root: str | Path) -> Path:
    """``root`` as a Path, or a one-line error when it is missing or not a folder."""
    root = Path(root)
    if not root.exists():
        raise InputError("data folder not found", where=root, fix="check the path given to --data")
    if not root.is_dir():
        raise InputError("not a folder", where=root, fix="--data takes the folder holding the cohort's files")
    return root


def walk(root: Path, *, recursive: bool = True) -> list[Path]:
    """Regular files under ``root`` (sorted), leaving out hidden files and folders (``.name``).

    Hidden names are skipped because sleepfm and most tools write partial outputs under them.
    """
    found = root.rglob("*") if recursive else root.iterdir()
    return sorted(
        path for path in found
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(root).parts)
    )


def data_signal_count(path: Path) -> int | None:
    """How many signals of an EDF/BDF file are not annotation signals; ``None`` if the header is unreadable.

    An annotation-only EDF+ (Sleep-EDF's ``*-Hypnogram.edf``, HMC's ``*_sleepscoring.edf``)
    has 0: it is a hypnogram, not a recording.
    """
    try:
        with open(path, "rb") as handle:
            head = handle.read(256)
            if len(head) < 256 or head[:8] not in (b"0       ", b"\xffBIOSEMI"):
                return None
            count = int(head[252:256])
            labels = handle.read(16 * count)
    except (OSError, ValueError):
        return None
    if len(labels) < 16 * count:
        return None
    names = [labels[i * 16 : (i + 1) * 16].strip() for i in range(count)]
    return sum(name not in _ANNOTATION_LABELS for name in names)


def is_signal_file(path: Path) -> bool:
    """A recording to preprocess: a signal suffix and, for a readable EDF/BDF header, at least one
    data signal. A file whose header cannot be read still counts, so that it is reported as a
    failed study rather than silently skipped."""
    if path.suffix.lower() not in SIGNAL_SUFFIXES:
        return False
    return data_signal_count(path) != 0


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
