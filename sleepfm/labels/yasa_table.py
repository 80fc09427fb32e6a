"""YASA-compatible hypnogram table (writer ``yasa``).

One row per epoch: ``epoch`` (0-based), ``onset`` and ``duration`` (s from the recording
start), ``time`` (the epoch's clock time, ISO 8601, when the start is known), ``stage`` in
YASA's 5-stage vocabulary (``WAKE``, ``N1``, ``N2``, ``N3``, ``REM``, and ``UNS`` for unscored),
then, for a model's staging, the per-epoch probabilities in columns named after the stages
(``WAKE``, ``N1``, ``N2``, ``N3``, ``REM``). Probabilities are written with six decimals and
each row sums to 1, as ``yasa.Hypnogram(proba=...)`` requires. Loading it::

    import pandas as pd, yasa
    table = pd.read_csv("night.yasa.csv")
    proba = table[["WAKE", "N1", "N2", "N3", "REM"]] if "WAKE" in table else None
    start = table["time"].iloc[0] if "time" in table else None
    hyp = yasa.Hypnogram(table["stage"].tolist(), n_stages=5, freq="30s", start=start, proba=proba)

The ``epoch-csv`` reader reads the table back (it takes ``onset``, ``duration`` and ``stage``).
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd

from sleepfm.interfaces.hypnogram_writer import HypnogramExport, HypnogramWriter
from sleepfm.labels.csv_tables import frame_csv_bytes
from sleepfm.labels.hypnogram import Stage

#: YASA's stage strings (``yasa.Hypnogram`` with ``n_stages=5``).
YASA_STAGES: dict[int, str] = {Stage.W: "WAKE", Stage.N1: "N1", Stage.N2: "N2", Stage.N3: "N3", Stage.REM: "REM",
                               Stage.UNS: "UNS"}
PROBABILITY_COLUMNS = ("WAKE", "N1", "N2", "N3", "REM")


def rows_summing_to_one(probabilities: np.ndarray, decimals: int = 6) -> np.ndarray:
    """``probabilities`` rounded to ``decimals``, the residue of the rounding given to each row's largest."""
    rounded = np.round(np.asarray(probabilities, dtype=np.float64), decimals)
    top = rounded.argmax(axis=1)
    rows = np.arange(rounded.shape[0])
    rounded[rows, top] = np.round(1.0 - (rounded.sum(axis=1) - rounded[rows, top]), decimals)
    return rounded


class YasaTableWriter(HypnogramWriter):
    """YASA-compatible table: YASA stage strings (WAKE, N1, N2, N3, REM, UNS) and per-epoch probabilities."""

    extensions = (".yasa.csv",)
    suffix = ".yasa.csv"
    reader = "epoch-csv"

    def render(self, export: HypnogramExport, name: str) -> dict[str, bytes]:
        hypnogram = export.hypnogram
        frame = pd.DataFrame({"epoch": np.arange(hypnogram.n_epochs), "onset": export.onsets,
                              "duration": float(hypnogram.epoch_seconds)})
        if hypnogram.start_time is not None:
            frame["time"] = [(hypnogram.start_time + timedelta(seconds=float(s))).isoformat() for s in export.onsets]
        frame["stage"] = [YASA_STAGES[int(code)] for code in hypnogram.stages]
        if export.probabilities is not None:
            for column, values in zip(PROBABILITY_COLUMNS, rows_summing_to_one(export.probabilities).T, strict=True):
                frame[column] = values
        return {name: frame_csv_bytes(frame)}
