"""Reading PSG recordings: readers are ``readers`` plugins; :func:`read_recording` picks one per file."""

from __future__ import annotations

from pathlib import Path

from sleepfm import registry
from sleepfm.errors import InputError
from sleepfm.interfaces.signal_reader import Recording, SignalReader


def reader_for(path: Path, name: str = "auto") -> SignalReader:
    """The reader named ``name``, or with ``"auto"`` the first registered reader claiming ``path``.

    ``edf`` is asked first, then the others in name order, so a plugin can add formats
    without shadowing EDF (a plugin that wants ``.edf`` registers ``edf`` with ``override=True``).
    """
    if name != "auto":
        return registry.create("readers", name)
    names = registry.names("readers")
    for candidate in sorted(names, key=lambda n: (n != "edf", n)):
        reader = registry.create("readers", candidate)
        if reader.can_read(Path(path)):
            return reader
    known = sorted({ext for n in names for ext in registry.get("readers", n).extensions})
    raise InputError(
        f"no signal reader for {Path(path).suffix or 'files without an extension'!r}",
        where=path,
        fix=f"readers know {', '.join(known) or 'nothing'} (see `sleepfm plugins --kind readers`)",
    )


def read_recording(path: str | Path, reader: str = "auto") -> Recording:
    """Open a PSG recording: channel headers now, signals on demand, one channel at a time.

    >>> with read_recording("night.edf") as rec:            # doctest: +SKIP
    ...     for info in rec.channels:
    ...         print(info.label, info.rate, info.unit)
    ...     eeg = rec.read(0)                                # float64, physical units, own rate
    """
    path = Path(path)
    return reader_for(path, reader).open(path)


def signal_extensions() -> tuple[str, ...]:
    """File extensions (lower case, with the dot) some registered reader claims."""
    found: set[str] = set()
    for name in registry.names("readers"):
        found.update(registry.get("readers", name).extensions)
    return tuple(sorted(found))


__all__ = ["read_recording", "reader_for", "signal_extensions"]
