"""Writing hypnograms through the registered writers (kind ``hypnogram_writers``).

:func:`writer_for` picks a writer by name or, without one, by the output's file name: the
writer with the longest matching ending wins (``night.yasa.csv`` → ``yasa`` before ``csv``).
:func:`write_export` renders every file in memory first and then writes each atomically, so
a writer that fails leaves nothing behind.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from sleepfm import registry
from sleepfm.config.base import atomic_write_bytes
from sleepfm.errors import UsageError
from sleepfm.interfaces.hypnogram_writer import HypnogramExport, HypnogramWriter

AUTO = "auto"


def writer(name: str) -> HypnogramWriter:
    """The registered hypnogram writer ``name`` (one-line error listing the others when unknown)."""
    return registry.create("hypnogram_writers", name)


def writer_name_for(path: str | Path) -> str:
    """The writer whose extensions match the end of ``path``'s name (longest match wins)."""
    name = Path(path).name.lower()
    matches = [(len(ext), entry.name) for entry in registry.get_registry().entries("hypnogram_writers")
               for ext in getattr(entry.load(), "extensions", ()) if name.endswith(ext.lower())]
    if not matches:
        raise UsageError(f"cannot tell the hypnogram format from the file name {Path(path).name!r}",
                         fix=f"name one with --to ({', '.join(registry.names('hypnogram_writers'))}) or use its "
                         "usual ending (.csv, .edf, .xml, _hypnogram.tsv, .yasa.csv, _annotations.txt)")
    return max(matches)[1]


def writer_for(path: str | Path, fmt: str = AUTO) -> tuple[str, HypnogramWriter]:
    """``(name, writer)`` for ``fmt``, or for ``path``'s name when ``fmt`` is ``auto``."""
    name = writer_name_for(path) if fmt == AUTO else fmt
    return name, writer(name)


def parse_formats(values: Iterable[str] | str | None) -> list[str]:
    """Writer names from ``--format edf,bids`` (repeatable, comma-separated), checked, in order, once each."""
    if values is None:
        return []
    items = [values] if isinstance(values, str) else list(values)
    names: list[str] = []
    for item in items:
        for name in (part.strip() for part in str(item).split(",")):
            if name and name not in names:
                writer(name)  # refuses an unknown name with the registered ones
                names.append(name)
    return names


def render_formats(export: HypnogramExport, stem: str, formats: Iterable[str]) -> dict[str, bytes]:
    """The files of ``export`` in each format, named ``<stem><writer suffix>`` (sidecars included)."""
    files: dict[str, bytes] = {}
    for name in formats:
        chosen = writer(name)
        rendered = chosen.render(export, f"{stem}{chosen.suffix}")
        if clash := set(rendered) & set(files):
            raise UsageError(f"formats write the same file {sorted(clash)[0]}", fix="name each format once")
        files.update(rendered)
    return files


def write_files(folder: Path, files: dict[str, bytes]) -> list[Path]:
    """Write rendered files into ``folder``, each atomically; returns their paths in order."""
    return [atomic_write_bytes(Path(folder) / name, content) for name, content in files.items()]


def write_export(export: HypnogramExport, path: str | Path, fmt: str = AUTO) -> list[Path]:
    """Write ``export`` to ``path`` in ``fmt`` (or the format its name says); returns every file written."""
    path = Path(path)
    _, chosen = writer_for(path, fmt)
    return write_files(path.parent, chosen.render(export, path.name))
