"""The permissions a finished output file gets: what ``open()`` would give it (0644 under the
usual umask 022), the same as the signal stores, never the owner-only 0600 of ``mkstemp``."""

from __future__ import annotations

import os
from pathlib import Path


def umask() -> int:
    """The process's umask, read without changing it where Linux says it (``/proc``), since the
    set-and-restore dance briefly leaves other threads' new files world-writable."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    current = os.umask(0o022)
    os.umask(current)
    return current


def make_shareable(path: str | os.PathLike[str]) -> None:
    """Give ``path`` (written through a temporary file) the mode a newly opened file would have."""
    os.chmod(path, 0o666 & ~umask())
