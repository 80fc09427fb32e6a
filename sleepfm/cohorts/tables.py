"""Participant tables a cohort adapter parses: demographics and time-to-event outcomes.

Every adapter returns the same shapes, whatever its cohort's own column names and codes:

demographics
    ``pandas.DataFrame`` with columns ``Study ID``, ``age`` (years, float; NaN when missing)
    and ``sex`` (``"M"``, ``"F"``, or ``None`` when missing).
outcomes
    ``(is_event, time_to_event)``: two frames indexed by ``Study ID`` with the same columns,
    one per outcome (phecode strings of ``label_mapping.csv``, e.g. ``"death"``); ``is_event``
    holds 0/1 integers, ``time_to_event`` the event time for events and the follow-up
    (censoring) time otherwise — the layout of the published ``is_event.csv`` and
    ``time_to_event.csv`` (SPEC §3.4).

Values that cannot be right (an age of 250, a sex code the cohort does not define, an event
without a time) are refused with the file and line; empty cells are kept as missing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from sleepfm.errors import InputError

STUDY_ID = "Study ID"
MAX_AGE = 120.0
#: Sex spellings accepted by generic tables (case-insensitive).
SEX_WORDS: dict[str, str] = {"m": "M", "male": "M", "man": "M", "f": "F", "female": "F", "woman": "F"}


def read_table(path: Path, *, required: tuple[str, ...], what: str) -> pd.DataFrame:
    """A CSV read as text (IDs keep their leading zeros), with one-line errors."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{what} file not found", where=path)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig", skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(f"unreadable {what} CSV ({str(exc).splitlines()[0]})", where=path) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise InputError(f"{what} CSV lacks column(s) {', '.join(missing)}", where=path,
                         fix=f"it needs {', '.join(required)}")
    return frame


def _line(index: int) -> int:
    return int(index) + 2  # header is line 1


def numbers(frame: pd.DataFrame, column: str, path: Path) -> np.ndarray:
    """A column as float64; empty cells are NaN, anything else that is not a number is an error."""
    text = frame[column].astype(str).str.strip()
    values = pd.to_numeric(text.where(text != "", None), errors="coerce").to_numpy(dtype=np.float64)
    bad = np.flatnonzero(np.isnan(values) & (text != "").to_numpy())
    if bad.size:
        row = int(bad[0])
        raise InputError(f"line {_line(row)}: {column} is {text.iloc[row]!r}, not a number", where=path)
    return values


def demographics_frame(ids: pd.Series, ages: np.ndarray, sexes: list[str | None], path: Path) -> pd.DataFrame:
    """The standard demographics frame, refusing impossible ages and repeated IDs."""
    bad = np.flatnonzero((ages < 0) | (ages > MAX_AGE))
    if bad.size:
        row = int(bad[0])
        raise InputError(f"line {_line(row)}: age {ages[row]:g} is outside 0-{MAX_AGE:g} years", where=path)
    frame = pd.DataFrame({STUDY_ID: ids.astype(str).str.strip().to_numpy(), "age": ages,
                          "sex": pd.Series(sexes, dtype=object)})
    repeated = frame[STUDY_ID].duplicated()
    if repeated.any():
        row = int(np.flatnonzero(repeated.to_numpy())[0])
        raise InputError(f"line {_line(row)}: study ID {frame[STUDY_ID].iloc[row]!r} appears twice", where=path)
    return frame


def map_sex(frame: pd.DataFrame, column: str, codes: Mapping[str, str], path: Path) -> list[str | None]:
    """Cohort sex codes → ``"M"``/``"F"`` (``None`` for an empty cell); keys are matched case-insensitively."""
    lookup = {str(k).strip().lower(): v for k, v in codes.items()}
    out: list[str | None] = []
    for row, raw in enumerate(frame[column].astype(str).str.strip()):
        if raw == "":
            out.append(None)
            continue
        key = raw.lower()
        if key not in lookup:
            # "1.0" written by a spreadsheet for code "1".
            with contextlib.suppress(ValueError):
                key = str(int(float(key)))
        if key not in lookup:
            raise InputError(f"line {_line(row)}: {column} is {raw!r}, not one of {', '.join(map(str, codes))}",
                             where=path)
        out.append(lookup[key])
    return out


def read_demographics(path: Path, *, id_column: str = STUDY_ID, age_column: str = "age",
                      sex_column: str = "sex", sex_codes: Mapping[str, str] | None = None) -> pd.DataFrame:
    """A demographics CSV in the standard frame (see the module docstring)."""
    path = Path(path)
    frame = read_table(path, required=(id_column, age_column, sex_column), what="demographics")
    ages = numbers(frame, age_column, path)
    sexes = map_sex(frame, sex_column, sex_codes or SEX_WORDS, path)
    return demographics_frame(frame[id_column], ages, sexes, path)


def read_published_outcomes(is_event: Path, time_to_event: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The published ``is_event.csv`` / ``time_to_event.csv`` pair, checked against each other."""
    events = read_table(is_event, required=(STUDY_ID,), what="is_event")
    times = read_table(time_to_event, required=(STUDY_ID,), what="time_to_event")
    if list(events.columns) != list(times.columns):
        raise InputError("is_event.csv and time_to_event.csv have different columns", where=time_to_event,
                         fix="both need `Study ID` then the same outcome columns in the same order")
    columns = [c for c in events.columns if c != STUDY_ID]
    event_values = np.column_stack([numbers(events, c, Path(is_event)) for c in columns]) if columns else None
    time_values = np.column_stack([numbers(times, c, Path(time_to_event)) for c in columns]) if columns else None
    if event_values is not None:
        bad = ~np.isin(event_values, (0.0, 1.0))
        if bad.any():
            row, col = (int(v[0]) for v in np.nonzero(bad))
            raise InputError(f"line {_line(row)}: {columns[col]} is {event_values[row, col]:g}, not 0 or 1",
                             where=is_event)
    return (outcome_frame(events[STUDY_ID], columns, event_values, Path(is_event), integer=True),
            outcome_frame(times[STUDY_ID], columns, time_values, Path(time_to_event), integer=False))


def outcome_frame(ids: pd.Series, columns: list[str], values: np.ndarray | None, path: Path,
                  *, integer: bool) -> pd.DataFrame:
    """One outcome table indexed by ``Study ID``."""
    data = values if values is not None else np.zeros((len(ids), 0))
    frame = pd.DataFrame(data, columns=columns, index=pd.Index(ids.astype(str).str.strip(), name=STUDY_ID))
    if frame.index.duplicated().any():
        raise InputError(f"study ID {frame.index[frame.index.duplicated()][0]!r} appears twice", where=path)
    return frame.astype("int64") if integer and not frame.isna().any().any() else frame
