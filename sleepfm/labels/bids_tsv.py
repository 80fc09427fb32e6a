"""BIDS sleep staging: ``*_hypnogram.tsv`` (+ JSON sidecar) and stage rows of ``*_events.tsv``.

Follows the BIDS sleep extension proposal (bids-specification PR 2208, "Sleep Data and
Annotations"), written in the style of BIDS ``events.tsv`` files:

``<name>_hypnogram.tsv``
    Tab-separated, columns ``onset`` and ``duration`` (seconds from the start of the
    recording) and ``stage`` (``Wake``, ``N1``, ``N2``, ``N3``, ``REM``, ``Unscored``); runs of
    equal stages are merged into one row, as the proposal recommends.
``<name>_hypnogram.json``
    The sidecar: each column described (BIDS ``Description``/``Units``/``Levels``), the epoch
    length, the scoring standard (AASM), ``Scorer`` (``sleepfm`` and the checkpoint for a
    model's staging, else who scored it), ``GeneratedBy`` (sleepfm and its version) and the
    recording's start as ``RecordingStartTime`` when known.

Reader ``bids-tsv``: a ``_hypnogram.tsv`` or an ``events.tsv`` whose ``stage``, ``trial_type``,
``value`` or ``description`` column names stages (``Wake``/``W``, ``N1``, ``Sleep stage R``,
``REM``, ``n/a`` …; see :func:`~sleepfm.labels.vocabulary.stage_from_text`). Rows naming no
stage become events. BIDS TSVs carry no clock time, so the start time stays unknown.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from sleepfm import __version__
from sleepfm.errors import InputError
from sleepfm.interfaces.hypnogram_writer import HypnogramExport, HypnogramWriter
from sleepfm.interfaces.label_reader import LabelReader
from sleepfm.labels.epochs import annotated_hypnogram
from sleepfm.labels.hypnogram import Hypnogram, Stage, StageMapping
from sleepfm.labels.nsrr_xml import stage_runs

#: The ``stage`` values written, with the sidecar's description of each.
BIDS_STAGES: dict[int, tuple[str, str]] = {
    Stage.W: ("Wake", "Wakefulness (AASM stage W)"),
    Stage.N1: ("N1", "NREM stage 1"),
    Stage.N2: ("N2", "NREM stage 2"),
    Stage.N3: ("N3", "NREM stage 3 (slow-wave sleep)"),
    Stage.REM: ("REM", "REM sleep (AASM stage R)"),
    Stage.UNS: ("Unscored", "No stage was given to this epoch"),
}
#: Columns that may hold the stage, in order of preference.
STAGE_COLUMNS = ("stage", "trial_type", "value", "description")


def _columns(path: Path) -> list[str]:
    with open(path, encoding="utf-8-sig", errors="replace") as handle:
        return [cell.strip() for cell in handle.readline(2000).rstrip("\r\n").split("\t")]


class BidsTsvReader(LabelReader):
    """BIDS sleep staging: _hypnogram.tsv (onset, duration, stage) or stage rows of an events.tsv."""

    extensions: ClassVar[tuple[str, ...]] = (".tsv",)

    def sniff(self, path: Path) -> bool:
        columns = set(_columns(path))
        return Path(path).suffix.lower() == ".tsv" and "onset" in columns and bool(columns & set(STAGE_COLUMNS))

    def read(self, path: Path, mapping: StageMapping | None = None) -> Hypnogram:
        path = Path(path)
        try:
            frame = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, encoding="utf-8-sig")
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise InputError(f"unreadable TSV ({' '.join(str(exc).split())})", where=path) from None
        except UnicodeDecodeError:
            raise InputError("not a UTF-8 text file", where=path, fix="BIDS events files are UTF-8 TSV") from None
        column = next((c for c in STAGE_COLUMNS if c in frame.columns), None)
        if "onset" not in frame.columns or column is None:
            raise InputError("TSV lacks an onset column or a stage column", where=path,
                             fix=f"BIDS hypnograms have onset, duration and one of {', '.join(STAGE_COLUMNS)}")
        onsets = pd.to_numeric(frame["onset"], errors="coerce").to_numpy(dtype=np.float64)
        durations = (pd.to_numeric(frame["duration"], errors="coerce").to_numpy(dtype=np.float64)
                     if "duration" in frame.columns else np.full(len(frame), np.nan))
        if (bad := np.flatnonzero(~np.isfinite(onsets))).size:
            raise InputError(f"line {bad[0] + 2}: onset {frame['onset'].iloc[bad[0]]!r} is not a number", where=path)
        notes = [(float(onset), None if not np.isfinite(duration) or duration <= 0 else float(duration), text)
                 for onset, duration, text in zip(onsets, durations, frame[column].astype(str), strict=True)]
        return annotated_hypnogram(notes, mapping or StageMapping(), path=path)


def sidecar_name(name: str) -> str:
    """The JSON sidecar of a TSV (``x_hypnogram.tsv`` → ``x_hypnogram.json``)."""
    return Path(name).with_suffix(".json").name


def _sidecar(export: HypnogramExport) -> dict[str, Any]:
    hypnogram = export.hypnogram
    start = hypnogram.start_time.isoformat() if hypnogram.start_time is not None else None
    return {
        "onset": {"Description": "Start of the run of epochs, from the beginning of the recording", "Units": "s"},
        "duration": {"Description": "Length of the run of epochs", "Units": "s"},
        "stage": {"Description": "Sleep stage of every epoch in the run (AASM)",
                  "Levels": {label: text for label, text in BIDS_STAGES.values()}},
        "EpochLength": float(hypnogram.epoch_seconds),
        "ScoringStandard": "AASM",
        "Scorer": export.scorer,
        "ScorerType": "automatic" if export.probabilities is not None else "unknown",
        "GeneratedBy": [{"Name": "sleepfm", "Version": __version__,
                         "Description": "exported with sleepfm's bids hypnogram writer"}],
        "Provenance": export.provenance,
        "RecordingStartTime": start,
    }


class BidsTsvWriter(HypnogramWriter):
    """BIDS sleep extension: _hypnogram.tsv (onset, duration, stage; runs merged) and its JSON sidecar."""

    extensions = ("_hypnogram.tsv", ".tsv")
    suffix = "_hypnogram.tsv"
    reader = "bids-tsv"

    def render(self, export: HypnogramExport, name: str) -> dict[str, bytes]:
        hypnogram = export.hypnogram
        epoch = float(hypnogram.epoch_seconds)
        lines = ["onset\tduration\tstage"]
        for first, count, code in stage_runs(hypnogram.stages):
            lines.append(f"{hypnogram.onset + first * epoch:.10g}\t{count * epoch:.10g}\t{BIDS_STAGES[code][0]}")
        sidecar = json.dumps(_sidecar(export), indent=2, default=str)
        return {name: ("\n".join(lines) + "\n").encode("utf-8"), sidecar_name(name): (sidecar + "\n").encode("utf-8")}
