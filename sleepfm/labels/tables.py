"""Participant tables, one reader per format, for every command and cohort adapter alike.

``finetune``, ``evaluate``, ``run`` and the cohort adapters read these files here and nowhere
else, so one file means one thing whatever the command. The formats, with every accepted
variant, are documented in ``docs/tables.md``:

outcomes
    The published pair ``is_event.csv`` / ``time_to_event.csv`` (SPEC §3.4): ``Study ID`` then
    one column per outcome (phecode strings of ``label_mapping.csv``), the same columns in the
    same order and the same studies in both. ``is_event`` holds 0/1, ``time_to_event`` the event
    time for events and the follow-up time otherwise (never negative). An empty cell is an
    unknown outcome (e.g. prevalent at baseline): left out of that outcome's risk sets.
demographics, sleepfm's format
    ``Study ID,age,sex``: age in years (0–120), sex as a word (``M``/``F``, ``male``/``female``,
    ``man``/``woman``, any case). Other columns are ignored. Heads receive it encoded by a
    :class:`~sleepfm.config.demographics.DemographicsEncoding` (``[age_normalised, sex_code]``);
    ``sleepfm run`` and ``risk`` read the age and sex themselves (:func:`read_age_sex`).
demographics, published format
    ``Study ID,<feature>,...`` without a ``sex`` column: numbers already encoded as the head
    takes them, every column a covariate in file order. The released head's are ``age``
    (normalised) and ``gender`` (0/1), as in the published ``demo_age_gender.csv``. Heads receive
    it as it is (:func:`read_demographics`); ``sleepfm run`` refuses it, naming the format, as it
    cannot say the age in years or the sex the risk outputs state.
label mapping
    ``label_idx,phecode,phenotype`` (the published ``label_mapping.csv``), ``label_idx`` numbering
    the rows 0…K−1.

Common rules: UTF-8 (with or without a byte-order mark); cells are read as text, so IDs keep
their leading zeros and spaces around cells are dropped; an empty cell (or ``NA``, ``NaN``,
``null``, ``None``, ``N/A``) is missing. A value that cannot be right is refused with its file
and line.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sleepfm.config.demographics import DemographicsEncoding
from sleepfm.errors import InputError

STUDY_ID = "Study ID"
MAX_AGE = 120.0
#: Sex spellings of sleepfm's demographics format (case-insensitive).
SEX_WORDS: dict[str, str] = {"m": "M", "male": "M", "man": "M", "f": "F", "female": "F", "woman": "F"}
#: Cell spellings read as missing, besides an empty cell (case-insensitive).
MISSING = frozenset({"na", "n/a", "nan", "null", "none", "#n/a", "<na>"})
LABEL_COLUMNS = ("label_idx", "phecode", "phenotype")

# ---------------------------------------------------------------------------- cells and columns
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
    require_columns(frame, required, path, what)
    return frame


def require_columns(frame: pd.DataFrame, required: tuple[str, ...], path: Path, what: str) -> None:
    """Refuse ``frame`` (read from ``path``) in one line when it lacks one of ``required``."""
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise InputError(f"{what} CSV lacks column(s) {', '.join(missing)}", where=path,
                         fix=f"it needs {', '.join(required)}")


def _line(index: int) -> int:
    return int(index) + 2  # header is line 1


def _cells(frame: pd.DataFrame, column: str) -> pd.Series:
    text = frame[column].astype(str).str.strip()
    return text.where(~text.str.lower().isin(MISSING), "")


def numbers(frame: pd.DataFrame, column: str, path: Path) -> np.ndarray:
    """A column as float64; missing cells are NaN, anything else that is not a number is an error."""
    text = _cells(frame, column)
    values = pd.to_numeric(text.where(text != "", None), errors="coerce").to_numpy(dtype=np.float64)
    bad = np.flatnonzero(np.isnan(values) & (text != "").to_numpy())
    if bad.size:
        row = int(bad[0])
        raise InputError(f"line {_line(row)}: {column} is {text.iloc[row]!r}, not a number", where=path)
    return values


def map_sex(frame: pd.DataFrame, column: str, codes: Mapping[str, str], path: Path) -> list[str | None]:
    """Cohort sex codes → ``"M"``/``"F"`` (``None`` for a missing cell); keys are matched case-insensitively."""
    lookup = {str(k).strip().lower(): v for k, v in codes.items()}
    out: list[str | None] = []
    for row, raw in enumerate(_cells(frame, column)):
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


def _ids(ids: pd.Series, path: Path) -> pd.Index:
    index = pd.Index(ids.astype(str).str.strip(), name=STUDY_ID)
    repeated = index.duplicated()
    if repeated.any():
        row = int(np.flatnonzero(repeated)[0])
        raise InputError(f"line {_line(row)}: study ID {index[row]!r} appears twice", where=path)
    return index


# ---------------------------------------------------------------------------- outcomes
def outcome_frame(ids: pd.Series, columns: list[str], values: np.ndarray | None, path: Path,
                  *, integer: bool) -> pd.DataFrame:
    """One outcome table indexed by ``Study ID`` (what :meth:`Cohort.outcomes` returns, twice)."""
    data = values if values is not None else np.zeros((len(ids), 0))
    frame = pd.DataFrame(data, columns=columns, index=_ids(ids, path))
    return frame.astype("int64") if integer and not frame.isna().any().any() else frame


@dataclass
class Outcomes:
    """Survival labels of N studies over K outcomes; NaN marks an unknown entry."""

    ids: list[str]
    names: list[str]
    events: np.ndarray  # float32 (N, K): 1 event, 0 censored, NaN unknown
    times: np.ndarray  # float32 (N, K)

    def __post_init__(self) -> None:
        self._index = {sid: i for i, sid in enumerate(self.ids)}

    def row(self, study: str) -> int:
        return self._index[study]

    def frames(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """``(is_event, time_to_event)`` indexed by ``Study ID`` (is_event as integers when complete)."""
        index = pd.Index(self.ids, name=STUDY_ID)
        events = pd.DataFrame(self.events.astype(np.float64), index=index, columns=self.names)
        if not events.isna().any().any():
            events = events.astype("int64")
        return events, pd.DataFrame(self.times.astype(np.float64), index=index, columns=self.names)


def read_outcomes(is_event: Path, time_to_event: Path) -> Outcomes:
    """The published ``is_event.csv`` / ``time_to_event.csv`` pair, each checked and against the other."""
    is_event, time_to_event = Path(is_event), Path(time_to_event)
    events = read_table(is_event, required=(STUDY_ID,), what="is_event")
    times = read_table(time_to_event, required=(STUDY_ID,), what="time_to_event")
    if list(events.columns) != list(times.columns):
        raise InputError("is_event and time_to_event have different outcome columns", where=time_to_event,
                         fix="both need Study ID + the same phecode columns in the same order")
    event_ids, time_ids = _ids(events[STUDY_ID], is_event), _ids(times[STUDY_ID], time_to_event)
    if set(event_ids) != set(time_ids):
        only = sorted(set(event_ids) ^ set(time_ids))[:3]
        raise InputError(f"is_event and time_to_event list different studies (e.g. {', '.join(only)})",
                         where=time_to_event)
    columns = [c for c in events.columns if c != STUDY_ID]
    shape = (len(events), len(columns))
    event_values = np.column_stack([numbers(events, c, is_event) for c in columns]) if columns else np.zeros(shape)
    time_values = np.column_stack([numbers(times, c, time_to_event) for c in columns]) if columns else np.zeros(shape)
    bad = ~np.isnan(event_values) & ~np.isin(event_values, (0.0, 1.0))
    if bad.any():
        row, col = (int(v[0]) for v in np.nonzero(bad))
        raise InputError(f"line {_line(row)}: {columns[col]} is {event_values[row, col]:g}, not 0, 1 or empty",
                         where=is_event)
    negative = np.nan_to_num(time_values, nan=0.0) < 0
    if negative.any():
        row, col = (int(v[0]) for v in np.nonzero(negative))
        raise InputError(f"line {_line(row)}: {columns[col]} is {time_values[row, col]:g}, a negative time",
                         where=time_to_event,
                         fix="leave prevalent (before-baseline) outcomes empty: they are masked out")
    time_values = time_values[time_ids.get_indexer(event_ids)]  # rows in is_event's order
    return Outcomes(list(event_ids), columns, event_values.astype(np.float32), time_values.astype(np.float32))


# ---------------------------------------------------------------------------- demographics
def demographics_frame(ids: pd.Series, ages: np.ndarray, sexes: list[str | None], path: Path) -> pd.DataFrame:
    """Demographics in sleepfm's frame (``Study ID``, ``age`` years, ``sex`` M/F/None), refusing
    impossible ages and repeated IDs."""
    bad = np.flatnonzero((ages < 0) | (ages > MAX_AGE))
    if bad.size:
        row = int(bad[0])
        raise InputError(f"line {_line(row)}: age {ages[row]:g} is outside 0-{MAX_AGE:g} years", where=path)
    index = _ids(ids, path)
    return pd.DataFrame({STUDY_ID: index.to_numpy(), "age": ages, "sex": pd.Series(sexes, dtype=object)})


def read_age_sex(path: Path, *, id_column: str = STUDY_ID, age_column: str = "age",
                 sex_column: str = "sex", sex_codes: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Demographics in sleepfm's format (age in years, sex as words; or a cohort's own columns
    and codes) as sleepfm's frame: ``Study ID``, ``age``, ``sex`` (what :meth:`Cohort.demographics`
    returns)."""
    path = Path(path)
    frame = read_table(path, required=(id_column,), what="demographics")
    if sex_column == "sex" and "sex" not in frame.columns and "gender" in frame.columns:
        raise InputError("demographics in the published covariate format (Study ID,age,gender: age normalised, "
                         "gender coded) do not give the age in years and the sex", where=path,
                         fix="give sleepfm's format Study ID,age,sex (age in years, sex M/F; docs/tables.md)")
    return _sleepfm_demographics(frame, path, id_column, age_column, sex_column, sex_codes or SEX_WORDS)


def _sleepfm_demographics(frame: pd.DataFrame, path: Path, id_column: str, age_column: str, sex_column: str,
                          sex_codes: Mapping[str, str]) -> pd.DataFrame:
    require_columns(frame, (id_column, age_column, sex_column), path, "demographics")
    ages = numbers(frame, age_column, path)
    return demographics_frame(frame[id_column], ages, map_sex(frame, sex_column, sex_codes, path), path)


def read_demographics(path: Path, encoding: DemographicsEncoding | None = None
                      ) -> tuple[dict[str, np.ndarray], list[str]]:
    """What a head with covariates receives per study (float32 vector) and the covariates' names,
    from a demographics CSV in either format, told apart by its ``sex`` column: sleepfm's format
    encoded by ``encoding`` (default :class:`DemographicsEncoding`: ``[age_normalised,
    sex_code]``), the published one as it is. Every study must be complete."""
    path = Path(path)
    encoding = encoding or DemographicsEncoding()
    table = read_table(path, required=(STUDY_ID,), what="demographics")
    if "sex" in table.columns:
        frame = _sleepfm_demographics(table, path, STUDY_ID, "age", "sex", SEX_WORDS)
        ids, names = frame[STUDY_ID], ["age_normalised", "sex_code"]
        values = np.array([encoding.encode(age, sex) if sex is not None and not np.isnan(age) else (np.nan, np.nan)
                           for age, sex in zip(frame["age"], frame["sex"], strict=True)], dtype=np.float64)
    else:
        names = [c for c in table.columns if c != STUDY_ID]
        if not names:
            raise InputError("demographics CSV has no covariate column", where=path,
                             fix="Study ID,age,sex (sleepfm's format) or Study ID,age,gender (published)")
        try:
            values = np.column_stack([numbers(table, c, path) for c in names])
        except InputError as exc:
            raise InputError(exc.what, where=path, fix="sex as words goes in a `sex` column, with the age in "
                             "years (sleepfm's format, docs/tables.md)") from None
        ids = table[STUDY_ID]
    index = _ids(ids, path)
    values = values.reshape(len(index), len(names))
    incomplete = np.flatnonzero(np.isnan(values).any(axis=1))
    if incomplete.size:
        raise InputError(f"demographics of study {index[int(incomplete[0])]!r} are incomplete", where=path,
                         fix="fill every covariate or drop the study")
    return {sid: values[i].astype(np.float32) for i, sid in enumerate(index)}, names


# ---------------------------------------------------------------------------- label mapping
def read_label_mapping(path: Path, n_outputs: int | None = None, *, ordered: bool = False) -> pd.DataFrame:
    """``label_idx,phecode,phenotype``, each ``label_idx`` a whole number used once.

    ``ordered`` (the table names a diagnosis head's outputs; implied by ``n_outputs``, their
    number when known): ``label_idx`` must number the rows 0…K−1, K = ``n_outputs``, and the
    rows come back in label order. Otherwise any subset of the published table names phecodes,
    as ``evaluate --label-mapping`` uses it."""
    path = Path(path)
    if not path.is_file():
        raise InputError("label mapping not found", where=path, fix="check the path given to --labels")
    frame = read_table(path, required=(), what="label mapping")
    missing = [c for c in LABEL_COLUMNS if c not in frame.columns]
    if missing:
        raise InputError(f"label mapping lacks column(s) {', '.join(missing)}", where=path,
                         fix="expected columns label_idx,phecode,phenotype")
    index = pd.to_numeric(frame["label_idx"], errors="coerce")
    if index.isna().any() or (index % 1 != 0).any() or index.duplicated().any():
        raise InputError("label_idx must be whole numbers, each used once", where=path)
    frame = frame.assign(label_idx=index.astype(int))
    if ordered or n_outputs is not None:
        if not np.array_equal(np.sort(frame["label_idx"].to_numpy()), np.arange(len(frame))):
            raise InputError("label_idx must number the rows 0, 1, 2, ... once each", where=path)
        if n_outputs is not None and len(frame) != n_outputs:
            raise InputError(f"label mapping has {len(frame)} rows but the diagnosis head gives {n_outputs} outputs",
                             where=path, fix="pass --labels with the label_mapping.csv that belongs to this head "
                             "(or put it in its model_diagnosis/ folder)")
        frame = frame.sort_values("label_idx").reset_index(drop=True)
    return frame[list(LABEL_COLUMNS)]
