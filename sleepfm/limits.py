"""Sane limits on what an input may declare, checked before memory or disk is spent on it.

A header, a hypnogram or a signal store says how long a recording is; a config file says
how deep its structure goes. Each reader checks the declared size against what the file
holds and against these limits first, so that a damaged or hostile file fails in one line
instead of allocating gigabytes (or hanging) on its word.
"""

from __future__ import annotations

import math
from pathlib import Path

from sleepfm.errors import InputError, SleepfmError

#: The longest recording sleepfm accepts: three nights (a multi-night home study in one file).
MAX_RECORDING_HOURS = 72
MAX_RECORDING_SECONDS = MAX_RECORDING_HOURS * 3600.0
#: How deep lists and mappings may nest in a config or JSON file (real ones use fewer than 10).
MAX_NESTING = 100
#: How many values a config may hold once YAML aliases are expanded (real ones hold a few hundred).
MAX_CONFIG_VALUES = 100_000


def check_recording_seconds(seconds: float, what: str, *, where: str | Path | None,
                            fix: str | None = None) -> float:
    """``seconds`` if it is a finite span within :data:`MAX_RECORDING_SECONDS`, else InputError.

    ``what`` says what the span is, as the message's subject ("its 10 data records of 1e+08 s").
    """
    if not math.isfinite(seconds) or seconds > MAX_RECORDING_SECONDS:
        raise InputError(f"{what} span {_span(seconds)}; sleepfm accepts recordings of up to "
                         f"{MAX_RECORDING_HOURS} h", where=where,
                         fix=fix or "the file declares a length it cannot have; re-export it")
    return seconds


def _span(seconds: float) -> str:
    if not math.isfinite(seconds):
        return f"{seconds} s"
    return f"{seconds:.6g} s ({seconds / 3600:.3g} h)"


def check_structure(value: object, *, where: str | Path | None, error: type[SleepfmError] = InputError) -> None:
    """Refuse parsed JSON/YAML nested deeper than :data:`MAX_NESTING` or holding more than
    :data:`MAX_CONFIG_VALUES` values (YAML aliases count once per use: an alias bomb is a few
    hundred bytes that expand to billions). Stops counting at the limit, so it is cheap."""
    stack: list[tuple[object, int]] = [(value, 1)]
    count = 0
    while stack:
        item, depth = stack.pop()
        count += 1
        if count > MAX_CONFIG_VALUES:
            raise error(f"holds more than {MAX_CONFIG_VALUES} values once its aliases are expanded", where=where,
                        fix="a config this large is not one sleepfm wrote; check its anchors (&) and aliases (*)")
        if depth > MAX_NESTING:
            raise error(f"is nested more than {MAX_NESTING} levels deep", where=where,
                        fix="sleepfm's files nest a few levels; check the file's brackets")
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
