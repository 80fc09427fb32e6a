"""One staged night: model probabilities → hypnograms, tables, statistics and the figure.

The staging head scores every 5-s embedding token (classes W, N1, N2, N3, REM). A 30-s
epoch takes the **mean of its six token probabilities** and the stage with the highest mean
(an epoch whose tokens split between two stages goes to the one the model is surer of over
the whole epoch). Only whole 30-s epochs inside the recording are reported; tokens past its
end (padding of the last 5-minute chunk) are dropped.

A scored hypnogram is placed on the recording's time axis by its own clock time when both
files have one (time of day only, so the anonymised dates of NSRR and Sleep-EDF files do not
matter), else its onsets are taken as seconds from the recording start — how EDF+, NSRR XML
and CSV hypnograms give them. NSRR XML defines its onsets as seconds from the recording's
start, so its clock never shifts them; when it disagrees with the recording's, a note says so.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from sleepfm.config.base import atomic_write_text
from sleepfm.errors import InputError
from sleepfm.interfaces.hypnogram_writer import HypnogramExport
from sleepfm.json_output import write_json
from sleepfm.labels.csv_tables import PROBABILITY_COLUMNS, epoch_frame  # noqa: F401 - re-exported
from sleepfm.labels.export import render_formats, write_files
from sleepfm.labels.hypnogram import Hypnogram, Stage, fold_probabilities
from sleepfm.report.hypnogram_plot import render_hypnogram, write_png
from sleepfm.report.sleep_stats import agreement, lights_from_events, sleep_statistics

TOKEN_SECONDS = 5.0
EPOCH_SECONDS = 30.0
TOKENS_PER_EPOCH = 6
#: Head output order = stage codes 0..4.
CLASSES: tuple[Stage, ...] = (Stage.W, Stage.N1, Stage.N2, Stage.N3, Stage.REM)
#: The hypnogram format(s) written when none is asked for (``--format``): sleepfm's epoch table.
DEFAULT_FORMATS = ("csv",)
_DAY = 86400.0


@dataclass(frozen=True)
class StagedNight:
    """The model's staging of one recording."""

    probabilities_5s: np.ndarray  # (n_epochs * 6, 5), rows sum to 1
    probabilities_30s: np.ndarray  # (n_epochs, 5)
    hypnogram: Hypnogram  # 30-s predicted stages
    duration: float  # seconds of recording

    @property
    def hypnogram_5s(self) -> Hypnogram:
        stages = np.argmax(self.probabilities_5s, axis=1).astype(np.int8)
        return Hypnogram(stages, epoch_seconds=TOKEN_SECONDS, start_time=self.hypnogram.start_time)


def stage_night(probabilities_5s: np.ndarray, *, duration: float, start_time: datetime | None) -> StagedNight:
    """Fold 5-s token probabilities into the night's 30-s hypnogram (see the module docstring)."""
    probabilities = np.asarray(probabilities_5s, dtype=np.float64)
    if probabilities.ndim != 2 or probabilities.shape[1] != len(CLASSES):
        raise InputError(f"stage probabilities have shape {probabilities.shape}, expected (tokens, 5)")
    n_epochs = min(int(duration // EPOCH_SECONDS), probabilities.shape[0] // TOKENS_PER_EPOCH)
    if n_epochs == 0:
        raise InputError(f"the recording holds no whole 30-s epoch that was embedded ({duration:g} s)",
                         fix="sleepfm stages recordings of at least 5 minutes")
    tokens = probabilities[: n_epochs * TOKENS_PER_EPOCH]
    epochs = fold_probabilities(tokens, TOKENS_PER_EPOCH)
    stages = np.argmax(epochs, axis=1).astype(np.int8)
    hypnogram = Hypnogram(stages, epoch_seconds=EPOCH_SECONDS, start_time=start_time)
    return StagedNight(tokens, epochs, hypnogram, float(duration))


def align_scored(scored: Hypnogram, start_time: datetime | None, duration: float | None = None,
                 notes: list[str] | None = None) -> Hypnogram:
    """The scored hypnogram in 30-s epochs on the recording's time axis (module docstring); with
    ``duration``, only its epochs inside the recording ``[0, duration)``, so that its statistics
    cover the same span as the predicted night's (a Sleep-EDF hypnogram scores the whole day).
    A clock that disagrees but is not used (NSRR) is said in ``notes``."""
    scored = scored.to_30s()
    offset = 0.0
    if scored.start_time is not None and start_time is not None:
        seconds = (_clock(scored.start_time) - _clock(start_time)) % _DAY
        offset = seconds - _DAY if seconds >= _DAY / 2 else seconds
        if scored.onsets_from_recording_start:
            if abs(offset) >= 1.0 and notes is not None:
                name = scored.source.name if scored.source is not None else "the scored hypnogram"
                notes.append(f"{name} says the recording started at {scored.start_time:%H:%M:%S}, its header "
                             f"{start_time:%H:%M:%S}; its onsets count from the recording's start (NSRR), so "
                             "they are used as they are")
            offset = 0.0
    events = scored.events.assign(onset=scored.events["onset"] + offset) if offset else scored.events
    onset, stages = scored.onset + offset, scored.stages
    if duration is not None:
        first = max(0, math.ceil(-onset / scored.epoch_seconds - 1e-9))
        last = min(stages.size, math.floor((duration - onset) / scored.epoch_seconds + 1e-9))
        if last <= first:
            raise InputError("the scored hypnogram does not overlap the recording",
                             fix="check that the hypnogram belongs to this recording (clock times, onsets)")
        onset, stages = onset + first * scored.epoch_seconds, stages[first:last]
    return dataclasses.replace(scored, stages=stages, onset=onset, start_time=start_time, events=events)


def _clock(moment: datetime) -> float:
    return moment.hour * 3600.0 + moment.minute * 60.0 + moment.second + moment.microsecond / 1e6


def night_statistics(night: StagedNight, scored: Hypnogram | None) -> dict[str, Any]:
    """Statistics of the predicted night; with a scored hypnogram, its statistics and the agreement."""
    result: dict[str, Any] = {"predicted": sleep_statistics(night.hypnogram).as_dict(), "scored": None,
                              "agreement": None}
    if scored is not None:
        off, on = lights_from_events(scored)
        result["scored"] = sleep_statistics(scored, lights_off=off, lights_on=on).as_dict()
        result["agreement"] = agreement(scored, night.hypnogram).as_dict()
    return result


@dataclass(frozen=True)
class NightOutputs:
    """Everything written for one recording, rendered in memory first."""

    hypnograms: dict[str, dict[str, bytes]]  # format → file name suffix (after the stem) → bytes
    tokens_csv: str | None
    png: bytes | None
    stats: dict[str, Any]
    notes: list[str] = dataclasses.field(default_factory=list)

    def write(self, out: Path, stem: str) -> dict[str, Path]:
        """The hypnogram in each format (``<stem>.hypnogram.csv``, ``<stem>.hypnogram.edf``, ...),
        ``<stem>.hypnogram-5s.csv`` (on request), ``<stem>.png``, ``<stem>.stats.json``; returns
        them by kind: ``hypnogram`` (the CSV) or ``hypnogram_<format>``, ``hypnogram_5s``, ``plot``,
        ``statistics``."""
        out = Path(out)
        written: dict[str, Path] = {}
        for fmt, files in self.hypnograms.items():
            paths = write_files(out, {stem + suffix: data for suffix, data in files.items()})
            written["hypnogram" if fmt == "csv" else f"hypnogram_{fmt}"] = paths[0]
        if self.tokens_csv is not None:
            written["hypnogram_5s"] = out / f"{stem}.hypnogram-5s.csv"
            atomic_write_text(written["hypnogram_5s"], self.tokens_csv)
        if self.png is not None:
            written["plot"] = write_png(self.png, out / f"{stem}.png")
        written["statistics"] = out / f"{stem}.stats.json"
        write_json(written["statistics"], self.stats)
        return written


def render_night(night: StagedNight, *, scored: Hypnogram | None = None, title: str = "",
                 detail_5s: bool = False, plot: bool = True, about: dict[str, Any] | None = None,
                 formats: Sequence[str] = DEFAULT_FORMATS) -> NightOutputs:
    """Render the outputs of one staged night; ``about`` is merged into the statistics JSON and its
    ``model`` entry names the scorer in the hypnogram formats that record one. Notes about the
    scored hypnogram go to the statistics' ``notes`` and to :attr:`NightOutputs.notes`."""
    notes: list[str] = []
    aligned = align_scored(scored, night.hypnogram.start_time, night.duration, notes) if scored is not None else None
    stats = {**(about or {}), **night_statistics(night, aligned), **({"notes": notes} if notes else {})}
    export = HypnogramExport(night.hypnogram, night.probabilities_30s, scorer="sleepfm",
                             provenance=dict((about or {}).get("model") or {}))
    # Rendered under a placeholder stem, so the files can be named for any study when written.
    hypnograms = {fmt: {name[1:]: data for name, data in render_formats(export, "_", [fmt]).items()}
                  for fmt in formats}
    tokens_csv = (epoch_frame(night.hypnogram_5s, night.probabilities_5s).to_csv(index=False)
                  if detail_5s else None)
    png = (render_hypnogram(night.hypnogram, probabilities=night.probabilities_30s, scored=aligned, title=title)
           if plot else None)
    return NightOutputs(hypnograms, tokens_csv, png, stats, notes)
