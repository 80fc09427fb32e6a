"""Errors that reach users as one line: what went wrong, where, and what to do.

Every failure a user can cause (bad file, bad config, unknown plugin name) is raised as a
:class:`SleepfmError`. The CLI prints ``str(error)`` on one line and exits with
``error.exit_code``; only ``--debug`` shows a traceback.
"""

from __future__ import annotations

from pathlib import Path


class SleepfmError(Exception):
    """Base class for errors meant for the user.

    Parameters
    ----------
    what:
        What went wrong, in plain words ("not an EDF file").
    where:
        The file, config key or component concerned, if any.
    fix:
        What the user can do about it ("re-export the recording as EDF+").
    """

    exit_code = 1

    def __init__(self, what: str, *, where: str | Path | None = None, fix: str | None = None):
        self.what = what
        self.where = None if where is None else str(where)
        self.fix = fix
        super().__init__(self.message)

    @property
    def message(self) -> str:
        parts = [f"{self.where}: {self.what}" if self.where else self.what]
        if self.fix:
            parts.append(self.fix)
        # One line, always: newlines from wrapped library messages are folded.
        return " — ".join(p.replace("\n", " ").strip() for p in parts)

    def __str__(self) -> str:
        return self.message


class UsageError(SleepfmError):
    """The command line or a config asks for something that cannot be (exit code 2)."""

    exit_code = 2


class ConfigError(UsageError):
    """A configuration file or ``--set`` override is invalid."""


class RegistryError(SleepfmError):
    """A plugin or component problem: unknown name, duplicate registration."""


class UnknownComponentError(RegistryError, UsageError):
    """A component name that no plugin registered."""

    exit_code = 2


class DuplicateComponentError(RegistryError):
    """Two plugins registered the same kind and name without ``override=True``."""


class InputError(SleepfmError):
    """An input file is missing, unreadable or malformed."""


class CheckpointError(SleepfmError):
    """A checkpoint cannot be loaded (wrong format, mismatched keys, unsafe pickle)."""


class DiskFullError(InputError):
    """Writing an output failed because its file system is full."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(f"no space left on device: {path}",
                         fix="free some space there, or write the outputs elsewhere (--out)")


def disk_full(exc: BaseException, where: str | Path | None = None) -> DiskFullError | None:
    """``exc`` as a :class:`DiskFullError` when it is the file system being full, else ``None``.

    HDF5 reports a full disk as an ``OSError`` whose message holds ``errno = 28``; Python's own
    file operations set ``errno`` (and ``filename``).
    """
    import errno
    import re

    if isinstance(exc, DiskFullError):
        return exc
    if not isinstance(exc, OSError):
        return None
    text = str(exc)
    if exc.errno != errno.ENOSPC and "errno = 28" not in text and "No space left on device" not in text:
        return None
    named = re.search(r"filename = '([^']+)'", text)
    path = exc.filename or (named[1] if named else None) or where or "the output folder"
    return DiskFullError(Path(path).parent if str(path).endswith(".tmp") else path)


class SleepfmWarning(UserWarning):
    """A problem that does not stop the work; the command line prints it as one ``warning:`` line."""


class InputWarning(SleepfmWarning):
    """Something about the inputs a user should know (an unpaired hypnogram, a file set aside)."""
