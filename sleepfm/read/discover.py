"""Which files are inputs: one rule for every command that takes recordings or signal stores.

Inputs
    Files, folders and glob patterns, in any mix. A folder is searched recursively; a pattern
    (``night*.edf``, ``'cohort/**/*.edf'`` quoted so the shell leaves it alone) is expanded
    here. From folders and patterns only files with a wanted suffix are taken (any case:
    ``.EDF``, ``.Bdf``); a file named directly is taken whatever its suffix, so that the
    command can say what is wrong with it. Hidden files and folders (``.name``) are skipped:
    sleepfm and most tools write partial outputs under such names. A path that does not
    exist, or a pattern that matches nothing, is a usage error before any work.
Recordings
    Files whose suffix a registered signal reader claims (``.edf``, ``.bdf``, ``.rec``;
    ``sleepfm plugins --kind readers``).
Annotation-only files
    An EDF+/BDF+ file whose every signal is an annotation signal is a hypnogram (Sleep-EDF's
    ``*-Hypnogram.edf``, HMC's ``*_sleepscoring.edf``), not a recording. Wherever it comes
    from — a folder, a pattern or its own name — it is set aside and reported, never
    converted or failed; with nothing else left, that is an error saying so.
Output names
    :func:`output_names`: the file's stem; inputs sharing a stem (``x.edf`` and ``x.bdf``)
    keep their suffix (``x.edf``, ``x.bdf``); inputs that still clash (``a/x.edf``,
    ``b/x.edf``) are named by their path below the folder they share, ``/`` → ``__``
    (``a__x.edf``). Decided over the whole input list, so every shard of a job array agrees.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sleepfm.errors import InputError, UsageError
from sleepfm.read import signal_extensions
from sleepfm.read.edf_header import is_annotation_file

STORE_SUFFIXES: tuple[str, ...] = (".h5", ".hdf5")


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def walk(root: Path, *, recursive: bool = True) -> list[Path]:
    """Regular files under ``root`` (sorted), leaving out hidden files and folders (``.name``).
    Linked folders are followed (a lab's data folder is often a link to a share), each real
    folder once, so a link loop ends."""
    root = Path(root)
    if not recursive:
        return sorted(p for p in root.iterdir() if p.is_file() and not p.name.startswith("."))
    found: list[Path] = []
    seen: set[str] = set()
    for folder, subfolders, files in os.walk(root, followlinks=True):
        real = os.path.realpath(folder)
        if real in seen:
            subfolders[:] = []
            continue
        seen.add(real)
        subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
        found.extend(Path(folder) / name for name in files if not name.startswith("."))
    return sorted(p for p in found if p.is_file())


def _is_pattern(text: str) -> bool:
    return glob.has_magic(text)


def _pattern_root(pattern: str) -> Path:
    """The longest leading part of ``pattern`` without wildcards (hidden parts below it are skipped)."""
    parts: list[str] = []
    for part in Path(pattern).parts:
        if _is_pattern(part):
            break
        parts.append(part)
    return Path(*parts) if parts else Path(".")


def expand(inputs: Iterable[str | Path], suffixes: Sequence[str], *, what: str = "recordings") -> list[Path]:
    """Files, folders and glob patterns → files (module docstring), sorted, each once."""
    wanted = tuple(s.lower() for s in suffixes)
    found: dict[Path, None] = {}
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found.update(dict.fromkeys(p for p in walk(path) if p.suffix.lower() in wanted))
        elif path.is_file():
            found[path] = None
        elif _is_pattern(str(item)):
            root = _pattern_root(str(item))
            matches = sorted(Path(m) for m in glob.glob(str(item), recursive=True))
            files = [m for m in matches if m.is_file() and m.suffix.lower() in wanted
                     and not (m.is_relative_to(root) and _hidden(m, root))]
            if not files:
                raise UsageError(f"no {what} match {str(item)!r}",
                                 fix=f"check the pattern; {what} end in {', '.join(wanted)}")
            found.update(dict.fromkeys(files))
        elif path.exists():
            raise UsageError(f"not a file or folder: {path}", fix=f"give {what} as files or folders")
        else:
            raise UsageError(f"input not found: {path}", fix="check the path; folders are searched recursively")
    return sorted(found)


@dataclass(frozen=True)
class Found:
    """Recordings among the inputs, and the annotation-only files set aside."""

    recordings: list[Path]
    annotations: list[Path] = field(default_factory=list)

    def set_aside_note(self) -> str | None:
        """One line about the annotation-only files set aside, or ``None`` when there are none."""
        if not self.annotations:
            return None
        count = len(self.annotations)
        names = ", ".join(p.name for p in self.annotations[:3]) + (", …" if count > 3 else "")
        return (f"{count} annotation-only file{'s' * (count != 1)} (hypnograms, not recordings) set aside: "
                f"{names}")


def find_recordings(inputs: Iterable[str | Path], *, require: bool = True, also: Sequence[str] = ()) -> Found:
    """The recordings among ``inputs`` (files, folders, patterns) and the annotation-only files
    set aside. With ``require``, finding no recording is an error naming what was found instead.
    ``also``: more suffixes to take from folders and patterns (``STORE_SUFFIXES`` for commands
    that read signal stores as well)."""

    items = list(inputs)
    if not items:
        raise UsageError("no recordings given", fix="name EDF/BDF files, folders or patterns")
    recordings, annotations = [], []
    for path in expand(items, (*signal_extensions(), *also)):
        (annotations if is_annotation_file(path) else recordings).append(path)
    found = Found(recordings, annotations)
    if require and not recordings:
        given = ", ".join(str(i) for i in items[:3]) + (", …" if len(items) > 3 else "")
        if len(annotations) == 1:
            raise InputError("holds only annotations (a hypnogram, not a recording)", where=annotations[0],
                             fix="pass the recording that holds the signals; read hypnograms with sleepfm hypnogram")
        if annotations:
            raise InputError(f"only annotation-only files (hypnograms, not recordings) among the inputs: "
                             f"{', '.join(p.name for p in annotations[:3])}{', …' if len(annotations) > 3 else ''}",
                             where=given, fix="pass the recordings that hold the signals")
        known = ", ".join(signal_extensions())
        raise InputError("no recordings found", where=given,
                         fix=f"recordings end in {known} (see `sleepfm plugins --kind readers`)")
    return found


def find_stores(inputs: Iterable[str | Path]) -> list[Path]:
    """The HDF5 signal stores among ``inputs`` (files, folders, patterns). A recording given
    where a store is wanted (``sleepfm embed night.edf``) is an error saying to preprocess it."""

    items = list(inputs)
    stores = expand(items, STORE_SUFFIXES, what="signal stores")
    fix = "sleepfm preprocess RECORDINGS --out h5/ writes the stores; then give h5/ here"
    named = [p for p in stores if p.suffix.lower() in signal_extensions()]
    if named:
        kind = named[0].suffix.lstrip(".").upper()
        raise InputError(f"this is a recording ({kind}), not a signal store: preprocess it first",
                         where=named[0], fix=fix)
    if not stores and expand(items, signal_extensions()):
        raise InputError("holds recordings, not signal stores: preprocess them first",
                         where=", ".join(str(i) for i in items), fix=fix)
    return stores


def output_names(files: Sequence[Path]) -> list[str]:
    """One distinct output name per input (module docstring), in input order."""
    def clashing(names: list[str]) -> set[str]:
        seen: dict[str, int] = {}
        for name in names:
            seen[name] = seen.get(name, 0) + 1
        return {name for name, count in seen.items() if count > 1}

    names = [source.stem for source in files]
    repeated = clashing(names)
    names = [source.name if name in repeated else name for source, name in zip(files, names, strict=True)]
    repeated = clashing(names)
    if repeated:
        root = Path(os.path.commonpath([p.resolve().parent for p in files]))
        names = ["__".join(source.resolve().relative_to(root).parts) if name in repeated else name
                 for source, name in zip(files, names, strict=True)]
    return names
