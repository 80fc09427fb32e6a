"""Hypnogram files → :class:`~sleepfm.interfaces.label_reader.Hypnogram`.

The readers are registered as ``label_readers`` by the built-in plugin
:mod:`sleepfm.plugins.hypnograms`; third-party readers registered the same way take part in
format auto-detection too (unless their class sets ``auto_detect = False``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sleepfm import registry
from sleepfm.errors import InputError
from sleepfm.labels.hypnogram import Hypnogram, StageMapping

if TYPE_CHECKING:  # the interface imports labels.hypnogram, whose package is this one
    from sleepfm.interfaces.label_reader import LabelReader

AUTO = "auto"


def _reader(name: str) -> LabelReader:
    return registry.create("label_readers", name)


def detect_format(path: str | Path) -> str:
    """The name of the registered label reader whose ``sniff`` recognises ``path``.

    Readers whose extensions include the file's suffix are asked first, so that a file two
    formats could claim goes to the one its name suggests.
    """
    path = _existing(path)
    candidates = [e for e in registry.get_registry().entries("label_readers")
                  if getattr(e.load(), "auto_detect", True)]
    suffix = path.suffix.lower()
    candidates.sort(key=lambda e: suffix not in getattr(e.load(), "extensions", ()))
    for entry in candidates:
        try:
            if _reader(entry.name).sniff(path):
                return entry.name
        except OSError as exc:
            raise InputError(f"cannot read file ({exc.strerror or exc})", where=path) from None
    raise InputError(
        "not a hypnogram format sleepfm recognises",
        where=path,
        fix=f"supported formats: {', '.join(registry.names('label_readers'))} (name one with --format)",
    )


def _existing(path: str | Path) -> Path:
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", where=path)
    if not path.is_file():
        raise InputError("not a file", where=path)
    return path


def read_hypnogram(path: str | Path, fmt: str = AUTO, mapping: StageMapping | None = None) -> Hypnogram:
    """Read a scored hypnogram in any registered format.

    Parameters
    ----------
    path:
        The hypnogram file.
    fmt:
        A registered label-reader name (``sleepfm plugins --kind label_readers``) or ``"auto"``
        to recognise the format from the file's contents.
    mapping:
        Where unscored, movement and artefact epochs go; default: all ``UNS``.

    Raises
    ------
    InputError
        Missing or unreadable file, unrecognised or malformed contents.
    UnknownComponentError
        ``fmt`` names no registered reader.
    """
    path = _existing(path)
    name = detect_format(path) if fmt == AUTO else fmt
    reader = _reader(name)
    try:
        return reader.read(path, mapping or StageMapping())
    except OSError as exc:
        raise InputError(f"cannot read file ({exc.strerror or exc})", where=path) from None
    except UnicodeDecodeError as exc:
        raise InputError(f"not a text file of the {name} format ({exc.reason})", where=path) from None
    except (ValueError, KeyError, IndexError) as exc:
        # A reader's own checks raise InputError; anything else a malformed file trips over
        # still reaches the user as one line, never a traceback.
        raise InputError(f"malformed {name} file ({type(exc).__name__}: {exc})", where=path) from None


__all__ = ["AUTO", "detect_format", "read_hypnogram"]
