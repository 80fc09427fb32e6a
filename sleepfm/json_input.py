"""Reading a user-supplied JSON file with the one-line errors every caller wants."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sleepfm.errors import InputError, SleepfmError
from sleepfm.limits import check_structure


def read_json(path: Path, what: str, *, missing_fix: str | None = None,
              error: type[SleepfmError] = InputError) -> Any:
    """The parsed contents of ``path``; ``what`` names the file in messages ("channel map").

    A missing file, invalid JSON (or text that is not UTF-8) and contents nested absurdly
    deep or large (:func:`~sleepfm.limits.check_structure`) raise ``error`` naming the file;
    the shape of the contents is the caller's to check.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise error(f"{what} not found", where=path, fix=missing_fix) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise error(f"{what} is not valid JSON ({exc})", where=path) from None
    except RecursionError:
        raise error(f"{what} is nested too deeply to read", where=path) from None
    check_structure(data, where=path, error=error)
    return data
