"""Writing sleepfm's JSON outputs (stats, risk, qc, reports, run records, training state).

One rule for every file: what JSON cannot hold is turned into what any reader accepts — numpy
scalars and arrays into numbers and lists, an undefined metric (NaN, ±inf) into ``null``,
paths, dates and other objects into their text — and the file appears whole or not at all.
Python's ``json`` would otherwise write ``NaN``, which strict readers (JavaScript, jq, R's
jsonlite in strict mode) refuse.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from sleepfm.config.base import atomic_write_text


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON data (module docstring)."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def json_text(payload: Any, *, indent: int | None = 2, ensure_ascii: bool = True) -> str:
    """The JSON text of ``payload`` (after :func:`jsonable`), ending with a newline."""
    return json.dumps(jsonable(payload), indent=indent, allow_nan=False, ensure_ascii=ensure_ascii) + "\n"


def write_json(path: Path, payload: Any, *, indent: int | None = 2, ensure_ascii: bool = True) -> Path:
    """Write ``payload`` to ``path`` atomically (module docstring); returns ``path``."""
    atomic_write_text(Path(path), json_text(payload, indent=indent, ensure_ascii=ensure_ascii))
    return Path(path)
