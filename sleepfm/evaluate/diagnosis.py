"""Disease-risk metrics: per outcome (phecode) Harrell's and Uno's C with bootstrap 95% CIs.

Inputs are tables indexed by ``Study ID`` with one column per phecode, in the published
layout: risk scores (the head's log-hazards; higher = higher risk), ``is_event.csv`` (0/1)
and ``time_to_event.csv`` (event or censoring time). An empty cell (NaN) in either label
table leaves that subject out of that outcome only (e.g. a condition prevalent at
baseline). Uno's C needs the training split's labels for the censoring distribution.

Every outcome gets a ``harrell_status``/``uno_status``: ``ok``, ``no events``, ``no
comparable pairs`` (events exist but every one is at or after every other time), and for
Uno ``no training labels`` or the reason the censoring weights are undefined — never a
silent NaN.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sleepfm.errors import InputError
from sleepfm.evaluate.concordance import (
    TIED_TOL,
    CensoringDistribution,
    bootstrap_concordance,
    bootstrap_counts,
    concordance,
    pair_matrices,
    percentile_interval,
)
from sleepfm.evaluate.outputs import write_csv
from sleepfm.json_output import write_json
from sleepfm.labels.tables import read_outcomes

log = logging.getLogger(__name__)

STUDY_ID = "Study ID"


@dataclass(frozen=True)
class SurvivalLabels:
    """Outcomes of a set of studies: ``event`` and ``time`` DataFrames, index Study ID, one column per phecode."""

    event: pd.DataFrame
    time: pd.DataFrame

    def __post_init__(self) -> None:
        if list(self.event.columns) != list(self.time.columns):
            raise InputError("is_event and time_to_event have different phecode columns",
                             fix="both files need the same header, in the same order")
        if not self.event.index.equals(self.time.index):
            if set(self.event.index) != set(self.time.index):
                raise InputError("is_event and time_to_event list different studies")
            object.__setattr__(self, "time", self.time.loc[self.event.index])

    @property
    def phecodes(self) -> list[str]:
        return [str(c) for c in self.event.columns]

    def subset(self, study_ids: Sequence[str]) -> SurvivalLabels:
        return SurvivalLabels(self.event.loc[list(study_ids)], self.time.loc[list(study_ids)])

    @classmethod
    def read(cls, is_event: Path, time_to_event: Path) -> SurvivalLabels:
        """The published pair of tables, read and checked as training reads them."""
        events, times = read_outcomes(Path(is_event), Path(time_to_event)).frames()
        return cls(events.astype(np.float64), times)


def read_outcome_table(path: Path) -> pd.DataFrame:
    """A ``Study ID,<phecode>,...`` CSV as floats indexed by Study ID (phecode headers kept as text)."""
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", where=path)
    try:
        table = pd.read_csv(path, dtype={STUDY_ID: str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(f"not a readable CSV ({exc})", where=path) from None
    if STUDY_ID not in table.columns:
        raise InputError(f"no {STUDY_ID!r} column", where=path, fix=f"the header must start with {STUDY_ID}")
    table = table.set_index(STUDY_ID)
    if table.index.duplicated().any():
        dup = table.index[table.index.duplicated()][0]
        raise InputError(f"study {dup!r} appears twice", where=path)
    try:
        return table.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"non-numeric value ({exc})", where=path) from None


def write_outcome_table(path: Path, table: pd.DataFrame) -> Path:
    """Write a table of the :func:`read_outcome_table` shape."""
    out = table.copy()
    out.index.name = STUDY_ID
    return write_csv(path, out, index=True)


@dataclass(frozen=True)
class DiagnosisEvaluation:
    """One row per phecode (see :data:`COLUMNS`) plus the settings that produced it."""

    table: pd.DataFrame
    settings: dict[str, Any]

    def summary(self) -> dict[str, Any]:
        ok = self.table[self.table["harrell_status"] == "ok"]
        uno_ok = self.table[self.table["uno_status"] == "ok"]
        return {
            **self.settings,
            "n_outcomes": len(self.table),
            "n_evaluated": len(ok),
            "mean_harrell_c": float(ok["harrell_c"].mean()) if len(ok) else float("nan"),
            "median_harrell_c": float(ok["harrell_c"].median()) if len(ok) else float("nan"),
            "mean_uno_c": float(uno_ok["uno_c"].mean()) if len(uno_ok) else float("nan"),
            "status_counts": self.table["harrell_status"].value_counts().to_dict(),
            "outcomes": self.table.to_dict(orient="records"),
        }


def evaluate_diagnosis(
    risk: pd.DataFrame,
    test: SurvivalLabels,
    train: SurvivalLabels | None = None,
    *,
    tau: float | None = None,
    samples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    label_mapping: pd.DataFrame | None = None,
    tied_tol: float = TIED_TOL,
) -> DiagnosisEvaluation:
    """Per-phecode C-indices of ``risk`` (index Study ID, columns phecodes) against ``test``."""
    phecodes = [str(c) for c in risk.columns]
    known = set(test.phecodes)
    missing = [p for p in phecodes if p not in known]
    if missing:
        raise InputError(f"{len(missing)} phecode(s) of the risk scores have no labels, e.g. {missing[0]!r}",
                         fix="use the is_event/time_to_event files the head was trained with")
    shared = [s for s in risk.index if s in test.event.index]
    if not shared:
        raise InputError("no study has both risk scores and labels", fix="check the Study IDs of both files")
    if len(shared) < len(risk.index):
        log.warning("%d of %d studies with risk scores have no labels and are left out",
                    len(risk.index) - len(shared), len(risk.index))
    risk_values = risk.loc[shared].to_numpy(np.float64)
    events = test.event.loc[shared, phecodes].to_numpy(np.float64)
    times = test.time.loc[shared, phecodes].to_numpy(np.float64)
    counts = bootstrap_counts(len(shared), samples, seed) if samples > 0 else None

    training = _training_columns(train, phecodes)
    rows = [
        _evaluate_outcome(phecode, risk_values[:, k], events[:, k], times[:, k], counts, training[k],
                          tau=tau, confidence=confidence, tied_tol=tied_tol)
        for k, phecode in enumerate(phecodes)
    ]
    table = pd.DataFrame(rows)
    if label_mapping is not None:
        table = label_mapping.merge(table, on="phecode", how="right")
    settings = {"n_studies": len(shared), "bootstrap_samples": samples, "confidence": confidence, "seed": seed,
                "tau": tau, "tied_tol": tied_tol}
    return DiagnosisEvaluation(table, settings)


def _training_columns(train: SurvivalLabels | None, phecodes: list[str]) -> list[tuple[np.ndarray, np.ndarray] | None]:
    """Per phecode, the training split's (event, time) without empty cells; ``None`` where unknown."""
    if train is None:
        return [None] * len(phecodes)
    position = {p: i for i, p in enumerate(train.phecodes)}
    events, times = train.event.to_numpy(np.float64), train.time.to_numpy(np.float64)
    columns: list[tuple[np.ndarray, np.ndarray] | None] = []
    for phecode in phecodes:
        if phecode not in position:
            columns.append(None)
            continue
        event, time = events[:, position[phecode]], times[:, position[phecode]]
        keep = np.isfinite(event) & np.isfinite(time)
        columns.append((event[keep] > 0, time[keep]))
    return columns


def _evaluate_outcome(
    phecode: str,
    risk: np.ndarray,
    event: np.ndarray,
    time: np.ndarray,
    counts: np.ndarray | None,
    train: tuple[np.ndarray, np.ndarray] | None,
    *,
    tau: float | None,
    confidence: float,
    tied_tol: float,
) -> dict[str, Any]:
    keep = np.isfinite(event) & np.isfinite(time) & np.isfinite(risk)
    event_flags = event[keep] > 0
    row: dict[str, Any] = {"phecode": phecode, "n": int(keep.sum()), "events": int(event_flags.sum())}
    pairs = pair_matrices(event_flags, time[keep], risk[keep], tied_tol)
    harrell = concordance(pairs)
    row["comparable_pairs"] = harrell.comparable_pairs
    row["harrell_status"] = _status(row["events"], harrell.comparable_pairs)
    row["harrell_c"] = harrell.value

    uno_weights, row["uno_status"] = _uno_weights(event_flags, time[keep], train, tau)
    row["uno_c"] = float("nan")
    if uno_weights is not None:
        uno = concordance(pairs, uno_weights)
        row["uno_c"] = uno.value
        if not np.isfinite(uno.value):
            row["uno_status"] = "no comparable pairs before tau" if tau is not None else "no comparable pairs"

    intervals = {"harrell": (np.nan, np.nan, 0), "uno": (np.nan, np.nan, 0)}
    if counts is not None and row["harrell_status"] == "ok":
        with_uno = uno_weights is not None and row["uno_status"] == "ok"
        drawn = counts if keep.all() else counts[:, keep]
        boot = bootstrap_concordance(pairs, drawn, [None, uno_weights] if with_uno else [None])
        intervals["harrell"] = percentile_interval(boot[0], confidence)
        if with_uno:
            intervals["uno"] = percentile_interval(boot[1], confidence)
    for name in ("harrell", "uno"):
        low, high, valid = intervals[name]
        row[f"{name}_ci_low"], row[f"{name}_ci_high"], row[f"{name}_bootstrap_valid"] = low, high, valid
    return row


def _status(events: int, comparable_pairs: int) -> str:
    if events == 0:
        return "no events"
    if comparable_pairs == 0:
        return "no comparable pairs"
    return "ok"


def _uno_weights(
    event: np.ndarray, time: np.ndarray, train: tuple[np.ndarray, np.ndarray] | None, tau: float | None
) -> tuple[np.ndarray | None, str]:
    """Squared inverse-probability-of-censoring weights (n,), or ``None`` and why not."""
    if train is None or train[1].size == 0:
        return None, "no training labels"
    if not event.any():
        return None, "no events"
    if tau is not None and not (event & (time < tau)).any():
        return None, "no events before tau"
    censoring = CensoringDistribution.fit(*train)
    try:
        return censoring.squared_ipcw(event, time, tau), "ok"
    except ValueError as exc:
        return None, f"censoring weights undefined ({exc}); set tau below {float(train[1].max()):g}"


COLUMNS = (
    "label_idx", "phecode", "phenotype", "n", "events", "comparable_pairs", "harrell_c", "harrell_ci_low",
    "harrell_ci_high", "harrell_status", "uno_c", "uno_ci_low", "uno_ci_high", "uno_status",
    "harrell_bootstrap_valid", "uno_bootstrap_valid",
)


def write_diagnosis_report(evaluation: DiagnosisEvaluation, out_dir: Path) -> list[Path]:
    """``diagnosis_metrics.csv`` (one row per phecode) and ``diagnosis_metrics.json`` (summary + rows)."""
    out_dir = Path(out_dir)
    table = evaluation.table[[c for c in COLUMNS if c in evaluation.table.columns]]
    return [
        write_csv(out_dir / "diagnosis_metrics.csv", table),
        write_json(out_dir / "diagnosis_metrics.json", DiagnosisEvaluation(table, evaluation.settings).summary()),
    ]
