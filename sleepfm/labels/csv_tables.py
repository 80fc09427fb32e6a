"""CSV hypnograms: the published SleepFM label CSV and sleepfm's own epoch table.

Published label CSV (SPEC §3.3)
    ``Start,Stop,StageName,StageNumber[,EmbeddingNumber]``, one row per 5-s embedding token
    (row *i* ↔ seconds [5i, 5i+5) from the recording start). ``StageNumber`` is -1 Unknown,
    0 Wake, 1 Stage 1, 2 Stage 2, 3 Stage 3, 4 REM; Unknown is *unscored* (the published
    training code turns it into Wake — ``StageMapping(unscored="W")`` reproduces that). Rows
    spanning several tokens (``0,5190,Wake,0``) are expanded.
Epoch table (``sleepfm hypnogram --out x.csv``, ``sleepfm stage``; writer ``csv``)
    ``onset,duration[,clock_time],stage[,p_W,p_N1,p_N2,p_N3,p_REM]`` with ``stage`` one of
    ``W N1 N2 N3 REM UNS`` (UNS is *unscored*), ``clock_time`` when the start is known and the
    stage probabilities of a model's staging; extra columns are ignored when reading.
"""

from __future__ import annotations

import csv
from datetime import timedelta
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd

from sleepfm.config.base import atomic_write_text
from sleepfm.errors import InputError, UsageError
from sleepfm.interfaces.hypnogram_writer import PROBABILITY_STAGES, HypnogramExport, HypnogramWriter
from sleepfm.interfaces.label_reader import LabelReader
from sleepfm.labels.epochs import infer_epoch_seconds, runs_to_stages
from sleepfm.labels.hypnogram import EVENT_COLUMNS, Hypnogram, Stage, StageMapping, resample_hypnogram
from sleepfm.labels.vocabulary import Scored, stage_code, stage_name

PUBLISHED_EPOCH_SECONDS = 5.0
PUBLISHED_NAMES: dict[int, str] = {-1: "Unknown", 0: "Wake", 1: "Stage 1", 2: "Stage 2", 3: "Stage 3", 4: "REM"}
_PUBLISHED_STAGES: dict[int, Scored] = {-1: "unscored", **{s.value: s for s in Stage if s is not Stage.UNS}}
EPOCH_COLUMNS = ("onset", "duration", "stage")
PROBABILITY_COLUMNS = tuple(f"p_{stage}" for stage in PROBABILITY_STAGES)


def _header(path: Path) -> list[str]:
    with open(path, encoding="utf-8-sig", errors="replace") as handle:
        first = handle.readline(1000)
    return [cell.strip() for cell in next(csv.reader([first]), [])]


def _read_csv(path: Path, required: tuple[str, ...]) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path, encoding="utf-8-sig", skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(f"unreadable CSV ({exc})", where=path) from None
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise InputError(f"CSV lacks column(s) {', '.join(missing)}", where=path,
                         fix=f"expected columns {', '.join(required)}")
    if frame.empty:
        raise InputError("CSV has no rows", where=path)
    return frame


def _numeric(frame: pd.DataFrame, column: str, path: Path) -> np.ndarray:
    # As text: a 400-digit number parses as a Python int that does not fit a float.
    values = pd.to_numeric(frame[column].astype(str), errors="coerce").to_numpy(dtype=np.float64)
    if not np.isfinite(values).all():
        row = int(np.flatnonzero(~np.isfinite(values))[0])
        text = str(frame[column].iloc[row])
        raise InputError(f"line {row + 2}: {column} is {text!r}, {_not_a_number(text)}", where=path)
    return values


def _not_a_number(text: str) -> str:
    try:
        float(text)
    except ValueError:
        return "not a number"
    return "not a finite number"


def _hypnogram(path: Path, onsets: np.ndarray, durations: np.ndarray, codes: np.ndarray, preferred: float,
               mapping: StageMapping) -> Hypnogram:
    if (durations <= 0).any():
        row = int(np.flatnonzero(durations <= 0)[0]) + 2
        raise InputError(f"line {row}: the epoch ends before it starts", where=path)
    epoch = infer_epoch_seconds(onsets.tolist(), durations.tolist(), preferred, where=str(path))
    runs = list(zip(onsets.tolist(), durations.tolist(), codes.tolist(), strict=True))
    onset, stages = runs_to_stages(runs, epoch, mapping.code("unscored"), where=str(path))
    return Hypnogram(stages, epoch_seconds=epoch, onset=onset, source=path)


class PublishedCsvReader(LabelReader):
    """Published SleepFM label CSV (Start,Stop,StageName,StageNumber), 5-s rows, -1 Unknown."""

    extensions: ClassVar[tuple[str, ...]] = (".csv",)

    def sniff(self, path: Path) -> bool:
        return {"Start", "Stop", "StageNumber"} <= set(_header(path))

    def read(self, path: Path, mapping: StageMapping | None = None) -> Hypnogram:
        mapping, path = mapping or StageMapping(), Path(path)
        frame = _read_csv(path, ("Start", "Stop", "StageNumber"))
        start, stop = _numeric(frame, "Start", path), _numeric(frame, "Stop", path)
        numbers = _numeric(frame, "StageNumber", path)
        invalid = ~np.isin(numbers, list(_PUBLISHED_STAGES))
        if invalid.any():
            row = int(np.flatnonzero(invalid)[0])
            raise InputError(f"line {row + 2}: StageNumber {numbers[row]:g} is not -1..4", where=path)
        numbers = numbers.astype(int)
        if "StageName" in frame.columns:
            names = frame["StageName"].astype(str).str.strip().to_numpy()
            expected = np.array([PUBLISHED_NAMES[n] for n in numbers])
            if (wrong := np.flatnonzero(names != expected)).size:
                row = int(wrong[0])
                raise InputError(f"line {row + 2}: StageName {names[row]!r} contradicts StageNumber "
                                 f"{numbers[row]} ({expected[row]})", where=path)
        table = {number: stage_code(value, mapping) for number, value in _PUBLISHED_STAGES.items()}
        codes = np.array([table[n] for n in numbers], dtype=np.int8)
        return _hypnogram(path, start, stop - start, codes, PUBLISHED_EPOCH_SECONDS, mapping)


class EpochCsvReader(LabelReader):
    """sleepfm epoch table (onset,duration,stage with W/N1/N2/N3/REM/UNS), as `sleepfm hypnogram` writes."""

    extensions: ClassVar[tuple[str, ...]] = (".csv",)

    def sniff(self, path: Path) -> bool:
        return {"onset", "stage"} <= set(_header(path))

    def read(self, path: Path, mapping: StageMapping | None = None) -> Hypnogram:
        mapping, path = mapping or StageMapping(), Path(path)
        frame = _read_csv(path, ("onset", "stage"))
        onsets = _numeric(frame, "onset", path)
        if "duration" in frame.columns:
            durations = _numeric(frame, "duration", path)
        else:
            steps = np.diff(onsets)
            durations = np.append(steps, steps[-1] if steps.size else 30.0)
        codes = np.empty(onsets.size, dtype=np.int8)
        for row, text in enumerate(frame["stage"].astype(str)):
            try:
                name = stage_name(text)
            except UsageError:
                raise InputError(f"line {row + 2}: stage {text!r} is not W, N1, N2, N3, REM or UNS",
                                 where=path) from None
            codes[row] = mapping.code("unscored") if name == "UNS" else Stage[name].value
        return _hypnogram(path, onsets, durations, codes, 30.0, mapping)


# ------------------------------------------------------------------------------- writing
def epoch_frame(hypnogram: Hypnogram, probabilities: np.ndarray | None = None) -> pd.DataFrame:
    """``onset,duration[,clock_time],stage[,p_W..p_REM]``, one row per epoch (module docstring)."""
    onsets = hypnogram.onset + np.arange(hypnogram.n_epochs) * hypnogram.epoch_seconds
    frame = pd.DataFrame({"onset": onsets, "duration": float(hypnogram.epoch_seconds)})
    if hypnogram.start_time is not None:
        frame["clock_time"] = [(hypnogram.start_time + timedelta(seconds=float(s))).isoformat(timespec="seconds")
                               for s in onsets]
    frame["stage"] = [Stage(int(code)).name for code in hypnogram.stages]
    if probabilities is not None:
        for column, values in zip(PROBABILITY_COLUMNS, np.asarray(probabilities).T, strict=True):
            frame[column] = np.round(values, 4)
    return frame


def frame_csv_bytes(frame: pd.DataFrame) -> bytes:
    """``frame`` as CSV bytes, numbers in their shortest exact form."""
    return frame.to_csv(index=False, float_format="%.10g", lineterminator="\n").encode("utf-8")


class EpochCsvWriter(HypnogramWriter):
    """sleepfm's epoch table: onset, duration, clock_time, stage and stage probabilities per epoch."""

    extensions = (".csv",)
    suffix = ".hypnogram.csv"
    reader = "epoch-csv"

    def render(self, export: HypnogramExport, name: str) -> dict[str, bytes]:
        return {name: frame_csv_bytes(epoch_frame(export.hypnogram, export.probabilities))}


def frame_to_csv(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame`` as CSV atomically (a temporary file in the same folder, then a rename)."""
    atomic_write_text(Path(path), frame_csv_bytes(frame).decode("utf-8"))


def write_epoch_csv(hypnogram: Hypnogram, path: Path) -> None:
    """Write :func:`epoch_frame` of ``hypnogram`` (at its own epoch length) atomically."""
    frame_to_csv(epoch_frame(hypnogram), path)


def write_events_csv(hypnogram: Hypnogram, path: Path) -> None:
    """Write the event table (columns :data:`EVENT_COLUMNS`) atomically."""
    frame_to_csv(hypnogram.events.loc[:, list(EVENT_COLUMNS)], path)


def write_published_csv(hypnogram: Hypnogram, path: Path) -> None:
    """Write the published 5-s label CSV, row *i* covering [5i, 5i+5) s from the recording start.

    The stages are expanded (or folded) to 5-s epochs; time before ``hypnogram.onset`` is
    written as Unknown so that rows stay aligned with embedding tokens.
    """
    fine = resample_hypnogram(hypnogram, PUBLISHED_EPOCH_SECONDS)
    lead = fine.onset / PUBLISHED_EPOCH_SECONDS
    if lead < 0 or abs(lead - round(lead)) > 1e-6:
        raise InputError(f"hypnogram onset {fine.onset:g} s is not a non-negative multiple of 5 s",
                         where=hypnogram.source, fix="the published CSV counts 5-s tokens from the recording start")
    codes = np.concatenate([np.full(round(lead), Stage.UNS.value, dtype=np.int8), fine.stages])
    start = np.arange(codes.size) * PUBLISHED_EPOCH_SECONDS
    frame = pd.DataFrame({"Start": start, "Stop": start + PUBLISHED_EPOCH_SECONDS,
                          "StageName": [PUBLISHED_NAMES[int(c)] for c in codes], "StageNumber": codes,
                          "EmbeddingNumber": np.arange(codes.size)})
    frame_to_csv(frame, path)
