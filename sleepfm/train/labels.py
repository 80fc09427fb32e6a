"""Training targets: sleep stages per 5-s embedding token, and per-outcome survival labels.

Staging: token i covers seconds ``[5i, 5i + 5)`` from the recording start (the start of the
first 5-minute chunk), as in the published pipeline. Hypnograms are read by
:mod:`sleepfm.labels` (the published CSV ``Start,Stop,StageName,StageNumber`` in 5-s rows or
longer runs, 30-s AASM epochs in NSRR XML or EDF+, ...) and each token takes the stage of the
epoch holding its midpoint, wherever the scoring starts. Stages: Wake 0, N1 1, N2 2, N3 3,
REM 4; unscored tokens are -1 and ignored by training and metrics unless ``unscored="wake"``
(the published behaviour, SPEC §10.4).

Diagnosis: ``is_event.csv`` and ``time_to_event.csv`` (``Study ID`` + one column per
phecode, same columns in the same order) and demographics ``Study ID,age,gender``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from sleepfm.errors import InputError

TOKEN_SECONDS = 5.0
N_STAGES = 5
UNSCORED = -1
STUDY_COLUMN = "Study ID"
LABEL_SUFFIXES = (".csv", ".xml", ".txt", ".tsv", ".edf", ".hyp", ".annot", ".json")

Unscored = Literal["mask", "wake"]


def hypnogram_to_tokens(stages: np.ndarray, epoch_seconds: float, onset: float = 0.0,
                        token_seconds: float = TOKEN_SECONDS) -> np.ndarray:
    """Stage of each 5-s token (int8, -1 unscored) from consecutive epochs starting ``onset`` s
    into the recording: the epoch that holds the token's midpoint."""
    stages = np.asarray(stages, dtype=np.int8)
    end = onset + stages.size * epoch_seconds
    midpoints = (np.arange(int(np.ceil(max(end, 0.0) / token_seconds))) + 0.5) * token_seconds
    epoch = np.floor((midpoints - onset) / epoch_seconds).astype(np.int64)
    inside = (epoch >= 0) & (epoch < stages.size)
    tokens = np.full(midpoints.size, UNSCORED, dtype=np.int8)
    tokens[inside] = stages[epoch[inside]]
    return tokens


def read_stage_tokens(path: Path) -> np.ndarray:
    """Per-token stages of a hypnogram file in any format :func:`sleepfm.labels.read_hypnogram` reads
    (the published CSV, NSRR XML, EDF+ annotations, ...)."""
    from sleepfm.labels import read_hypnogram

    hypnogram = read_hypnogram(path)
    return hypnogram_to_tokens(hypnogram.stages, hypnogram.epoch_seconds, hypnogram.onset)


def align_tokens(tokens: np.ndarray, n_tokens: int, unscored: Unscored = "mask") -> np.ndarray:
    """Targets for ``n_tokens`` embeddings: truncated or padded with unscored (int64)."""
    out = np.full(n_tokens, UNSCORED, dtype=np.int64)
    n = min(n_tokens, tokens.size)
    out[:n] = tokens[:n]
    if unscored == "wake":
        out[out == UNSCORED] = 0
    return out


def find_label_files(folder: Path) -> dict[str, Path]:
    """Label files under ``folder`` by study ID (stem; NSRR ``-nsrr``/``-profusion`` suffixes dropped)."""
    found: dict[str, Path] = {}
    for path in sorted(Path(folder).rglob("*")):
        if not path.is_file() or path.suffix.lower() not in LABEL_SUFFIXES or path.name.startswith("."):
            continue
        key = path.stem
        for suffix in ("-nsrr", "-profusion", ".edf"):
            if key.lower().endswith(suffix):
                key = key[: -len(suffix)]
        if key in found:
            raise InputError(f"two label files for study {key!r}: {found[key]} and {path}", where=folder,
                             fix="keep one hypnogram per study in the labels folder")
        found[key] = path
    return found


@dataclass
class Outcomes:
    """Survival labels of N studies over K outcomes; NaN marks an unknown entry."""

    ids: list[str]
    names: list[str]
    events: np.ndarray  # float32 (N, K): 1 event, 0 censored, NaN unknown
    times: np.ndarray  # float32 (N, K)

    def row(self, study: str) -> int:
        return self._index[study]

    def __post_init__(self) -> None:
        self._index = {sid: i for i, sid in enumerate(self.ids)}


def _read_table(path: Path, what: str) -> pd.DataFrame:
    try:
        table = pd.read_csv(path, dtype={STUDY_COLUMN: str})
    except FileNotFoundError:
        raise InputError(f"{what} file not found", where=path) from None
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {what} CSV ({exc})", where=path) from None
    if STUDY_COLUMN not in table.columns:
        raise InputError(f"{what} CSV has no {STUDY_COLUMN!r} column", where=path,
                         fix=f"the first column must be {STUDY_COLUMN!r}")
    duplicated = table[STUDY_COLUMN][table[STUDY_COLUMN].duplicated()]
    if len(duplicated):
        raise InputError(f"{what} CSV lists study {duplicated.iloc[0]!r} twice", where=path)
    return table.set_index(STUDY_COLUMN)


def _numeric(table: pd.DataFrame, path: Path, what: str) -> np.ndarray:
    try:
        return table.apply(pd.to_numeric, errors="raise").to_numpy(np.float32)
    except (ValueError, TypeError) as exc:
        raise InputError(f"{what} CSV holds a non-numeric value ({exc})", where=path) from None


def read_outcomes(is_event: Path, time_to_event: Path) -> Outcomes:
    """Read the published pair of outcome tables (same studies, same phecode columns in order)."""
    events_table = _read_table(is_event, "is_event")
    times_table = _read_table(time_to_event, "time_to_event")
    if list(events_table.columns) != list(times_table.columns):
        raise InputError("is_event and time_to_event have different outcome columns", where=time_to_event,
                         fix="both need Study ID + the same phecode columns in the same order")
    if set(events_table.index) != set(times_table.index):
        only = sorted(set(events_table.index) ^ set(times_table.index))[:3]
        raise InputError(f"is_event and time_to_event list different studies (e.g. {', '.join(only)})",
                         where=time_to_event)
    times_table = times_table.loc[events_table.index]
    events = _numeric(events_table, is_event, "is_event")
    times = _numeric(times_table, time_to_event, "time_to_event")
    known = events[~np.isnan(events)]
    if not np.isin(known, (0.0, 1.0)).all():
        raise InputError("is_event holds values other than 0, 1 or empty", where=is_event)
    if (times[~np.isnan(times)] < 0).any():
        raise InputError("time_to_event holds negative times", where=time_to_event,
                         fix="leave prevalent (before-baseline) outcomes empty: they are masked out")
    return Outcomes([str(s) for s in events_table.index], [str(c) for c in events_table.columns], events, times)


def read_demographics(path: Path) -> tuple[dict[str, np.ndarray], list[str]]:
    """Covariates per study (float32 vector) and the column names, from ``Study ID,age,gender``."""
    table = _read_table(path, "demographics")
    values = _numeric(table, path, "demographics")
    if np.isnan(values).any():
        row = int(np.argwhere(np.isnan(values))[0, 0])
        raise InputError(f"demographics of study {table.index[row]!r} are incomplete", where=path,
                         fix="fill every covariate or drop the study")
    return {str(s): values[i] for i, s in enumerate(table.index)}, [str(c) for c in table.columns]
