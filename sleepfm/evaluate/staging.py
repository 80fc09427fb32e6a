"""Sleep-staging metrics at 5-s token and 30-s epoch resolution.

Inputs are per-study arrays: softmax probabilities (S, 5) over Wake, N1, N2, N3, REM, the
scored stage of every 5-s token (S,) with -1 for unscored, and ``valid`` (S,) — ``False``
where the model's temporal mask marks a padded token. A token counts at 5-s resolution
when it is valid and scored.

30-s epochs are the six tokens ``6e … 6e + 5`` of each study (epochs start at token 0, the
recording start, like the hypnogram epochs the labels were expanded from; a trailing
partial epoch is completed with absent tokens):

* predicted probabilities = the mean of the valid tokens' probabilities, then argmax; an
  epoch with no valid token has no prediction and is left out;
* label = the AASM rule as :func:`sleepfm.labels.epochs.fold_stages` applies it to any
  5-s → 30-s conversion in sleepfm: the stage that fills the greatest part of the epoch (on
  a tie, the one that comes first); the epoch is left out only when unscored or absent
  tokens strictly outnumber that stage (4 unscored + 2 N2 → left out, 3 + 3 → N2).

Metrics follow scikit-learn's definitions (the tests check equality): per-class precision,
recall and F1 with 0 where undefined, macro-F1 over all five classes, Cohen's kappa and
accuracy, all from one confusion matrix (rows = scored stage, columns = prediction).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sleepfm.errors import InputError
from sleepfm.evaluate.outputs import agg_figure, save_figure, write_csv
from sleepfm.json_output import write_json
from sleepfm.labels.hypnogram import Hypnogram, fold_probabilities, fold_stages
from sleepfm.report.hypnogram_plot import hypnogram_figure
from sleepfm.report.sleep_stats import confusion_matrix

STAGE_NAMES: tuple[str, ...] = ("Wake", "N1", "N2", "N3", "REM")
N_CLASSES = len(STAGE_NAMES)
TOKENS_PER_EPOCH = 6
UNSCORED = -1


@dataclass(frozen=True)
class StudyPredictions:
    """One study's staging output and labels, at 5-s token resolution."""

    study_id: str
    probabilities: np.ndarray  # float32 (S, 5), rows sum to 1
    labels: np.ndarray  # int (S,), -1 = unscored
    valid: np.ndarray  # bool (S,), False = padded by the model

    def __post_init__(self) -> None:
        probs = np.asarray(self.probabilities, dtype=np.float32)
        labels = np.asarray(self.labels)
        valid = np.asarray(self.valid, dtype=bool)
        where = f"study {self.study_id}"
        if probs.ndim != 2 or probs.shape[1] != N_CLASSES:
            raise InputError(f"probabilities have shape {probs.shape}, expected (tokens, {N_CLASSES})", where=where)
        if labels.shape != (probs.shape[0],) or valid.shape != (probs.shape[0],):
            raise InputError(
                f"labels {labels.shape} and valid {valid.shape} do not match {probs.shape[0]} tokens", where=where
            )
        if labels.size and (labels.min() < UNSCORED or labels.max() >= N_CLASSES):
            raise InputError("stage labels must be -1 (unscored) or 0..4 (Wake, N1, N2, N3, REM)", where=where)
        object.__setattr__(self, "probabilities", probs)
        object.__setattr__(self, "labels", labels.astype(np.int8))
        object.__setattr__(self, "valid", valid)

    @property
    def predicted(self) -> np.ndarray:
        return self.probabilities.argmax(axis=1).astype(np.int8)


@dataclass(frozen=True)
class ClassificationMetrics:
    """Everything derived from one confusion matrix."""

    confusion: np.ndarray  # int64 (5, 5), rows = scored stage, columns = predicted
    precision: np.ndarray = field(init=False)
    recall: np.ndarray = field(init=False)
    f1: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        cm = np.asarray(self.confusion, dtype=np.int64)
        object.__setattr__(self, "confusion", cm)
        tp = np.diag(cm).astype(float)
        scored, predicted = cm.sum(axis=1), cm.sum(axis=0)
        object.__setattr__(self, "precision", _safe_ratio(tp, predicted))
        object.__setattr__(self, "recall", _safe_ratio(tp, scored))
        object.__setattr__(self, "f1", _safe_ratio(2 * tp, scored + predicted))

    @property
    def n(self) -> int:
        return int(self.confusion.sum())

    @property
    def support(self) -> np.ndarray:
        return self.confusion.sum(axis=1)

    @property
    def accuracy(self) -> float:
        return float(np.trace(self.confusion) / self.n) if self.n else float("nan")

    @property
    def macro_f1(self) -> float:
        return float(self.f1.mean()) if self.n else float("nan")

    @property
    def kappa(self) -> float:
        if not self.n:
            return float("nan")
        observed = np.trace(self.confusion) / self.n
        expected = float(self.confusion.sum(axis=1) @ self.confusion.sum(axis=0)) / self.n**2
        # Every token in one class on both sides: agreement beyond chance is undefined.
        return float((observed - expected) / (1 - expected)) if expected < 1 else float("nan")

    @property
    def row_percent(self) -> np.ndarray:
        """Confusion matrix normalised per scored stage, in percent (NaN for a stage never scored)."""
        rows = self.confusion.sum(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(rows > 0, 100.0 * self.confusion / np.maximum(rows, 1), np.nan)

    def as_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "accuracy": self.accuracy,
            "macro_f1": self.macro_f1,
            "kappa": self.kappa,
            "per_class": {
                name: {
                    "precision": float(self.precision[i]),
                    "recall": float(self.recall[i]),
                    "f1": float(self.f1[i]),
                    "support": int(self.support[i]),
                }
                for i, name in enumerate(STAGE_NAMES)
            },
            "confusion": {"labels": list(STAGE_NAMES), "counts": self.confusion, "row_percent": self.row_percent},
        }


def _safe_ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    # scikit-learn's zero_division default: an undefined ratio counts as 0.
    return np.divide(numerator, denominator, out=np.zeros_like(numerator, dtype=float), where=denominator > 0)


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> ClassificationMetrics:
    return ClassificationMetrics(confusion_matrix(np.asarray(y_true), np.asarray(y_pred)))


def epoch_labels(token_labels: np.ndarray, tokens_per_epoch: int = TOKENS_PER_EPOCH) -> np.ndarray:
    """30-s labels from 5-s labels by the project's folding rule (-1 = left out)."""

    return fold_stages(np.asarray(token_labels, dtype=np.int8), tokens_per_epoch)


def epoch_probabilities(
    probabilities: np.ndarray, valid: np.ndarray, tokens_per_epoch: int = TOKENS_PER_EPOCH
) -> tuple[np.ndarray, np.ndarray]:
    """Mean probabilities of each epoch's valid tokens (E, 5) and whether the epoch has any (E,)."""

    weights = np.asarray(valid, dtype=np.float64)[:, None]
    # Both folds divide by the same group size, so their ratio is the mean over valid tokens.
    summed = fold_probabilities(np.asarray(probabilities, dtype=np.float64) * weights, tokens_per_epoch)
    count = fold_probabilities(weights, tokens_per_epoch)
    return summed / np.where(count > 0, count, 1.0), count[:, 0] > 0


@dataclass(frozen=True)
class ScoredItems:
    """The items (tokens or epochs) that count, pooled over studies."""

    truth: np.ndarray
    predicted: np.ndarray
    study_index: np.ndarray


def token_items(studies: Sequence[StudyPredictions]) -> ScoredItems:
    return _pool(
        [(s.labels, s.predicted, s.valid & (s.labels != UNSCORED)) for s in studies]
    )


def epoch_items(studies: Sequence[StudyPredictions]) -> ScoredItems:
    parts = []
    for study in studies:
        labels = epoch_labels(study.labels)
        probs, has_prediction = epoch_probabilities(study.probabilities, study.valid)
        parts.append((labels, probs.argmax(axis=1), has_prediction & (labels != UNSCORED)))
    return _pool(parts)


def _pool(parts: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> ScoredItems:
    truth, predicted, index = [], [], []
    for i, (labels, preds, keep) in enumerate(parts):
        truth.append(np.asarray(labels)[keep])
        predicted.append(np.asarray(preds)[keep])
        index.append(np.full(int(keep.sum()), i))
    if not truth:
        empty = np.zeros(0, dtype=np.int64)
        return ScoredItems(empty, empty, empty)
    return ScoredItems(
        np.concatenate(truth).astype(np.int64), np.concatenate(predicted).astype(np.int64), np.concatenate(index)
    )


@dataclass(frozen=True)
class StagingEvaluation:
    """Metrics at both resolutions, pooled over studies, plus one row per study."""

    tokens: ClassificationMetrics
    epochs: ClassificationMetrics
    per_study: pd.DataFrame

    @property
    def resolutions(self) -> dict[str, ClassificationMetrics]:
        return {"5s": self.tokens, "30s": self.epochs}

    def summary(self) -> dict[str, Any]:
        return {"n_studies": len(self.per_study), **{k: v.as_dict() for k, v in self.resolutions.items()}}


def evaluate_staging(studies: Sequence[StudyPredictions]) -> StagingEvaluation:
    """Pool every study's scored tokens (and epochs) and compute the metrics."""
    if not studies:
        raise InputError("no studies to evaluate", fix="check the split and that predictions or embeddings exist")
    tokens, epochs = token_items(studies), epoch_items(studies)
    if tokens.truth.size == 0:
        raise InputError("no scored, unpadded token in any study", fix="check the hypnograms (all unscored?)")
    rows = []
    for i, study in enumerate(studies):
        row: dict[str, Any] = {"study_id": study.study_id}
        for name, items in (("5s", tokens), ("30s", epochs)):
            keep = items.study_index == i
            metrics = classification_metrics(items.truth[keep], items.predicted[keep])
            row.update({f"n_{name}": metrics.n, f"accuracy_{name}": metrics.accuracy,
                        f"macro_f1_{name}": metrics.macro_f1, f"kappa_{name}": metrics.kappa})
        rows.append(row)
    return StagingEvaluation(
        classification_metrics(tokens.truth, tokens.predicted),
        classification_metrics(epochs.truth, epochs.predicted),
        pd.DataFrame(rows),
    )


# ---------------------------------------------------------------------------- outputs
def write_staging_report(evaluation: StagingEvaluation, out_dir: Path,
                         agreement: dict[str, Any] | None = None) -> list[Path]:
    """``staging_metrics.json`` (with ``agreement`` when given), ``staging_per_class.csv``,
    ``staging_per_study.csv`` and, per resolution, ``confusion_<res>.csv`` (counts and row %) and
    ``confusion_<res>.png``."""
    out_dir = Path(out_dir)
    summary = evaluation.summary() | ({"agreement": agreement} if agreement is not None else {})
    written = [write_json(out_dir / "staging_metrics.json", summary)]
    per_class = [
        {"resolution": res, "stage": name, "precision": m.precision[i], "recall": m.recall[i], "f1": m.f1[i],
         "support": int(m.support[i])}
        for res, m in evaluation.resolutions.items()
        for i, name in enumerate(STAGE_NAMES)
    ]
    written.append(write_csv(out_dir / "staging_per_class.csv", pd.DataFrame(per_class)))
    written.append(write_csv(out_dir / "staging_per_study.csv", evaluation.per_study))
    for res, metrics in evaluation.resolutions.items():
        written.append(write_csv(out_dir / f"confusion_{res}.csv", confusion_table(metrics)))
        written.append(plot_confusion(metrics, out_dir / f"confusion_{res}.png", title=f"Sleep staging, {res}"))
    return written


def plot_study(study: StudyPredictions, path: Path) -> Path:
    """One study's predicted hypnogram, 30-s stage probabilities and scored hypnogram, as a PNG."""

    probabilities, has_prediction = epoch_probabilities(study.probabilities, study.valid)
    predicted = np.where(has_prediction, probabilities.argmax(axis=1), UNSCORED)
    scored = epoch_labels(study.labels)
    figure = hypnogram_figure(Hypnogram(predicted, epoch_seconds=30.0), probabilities=probabilities,
                              scored=Hypnogram(scored, epoch_seconds=30.0), title=study.study_id)
    return save_figure(figure, path)


def confusion_table(metrics: ClassificationMetrics) -> pd.DataFrame:
    """One row per scored stage: counts per predicted stage, then row percentages."""
    table = pd.DataFrame(metrics.confusion, columns=list(STAGE_NAMES))
    percent = pd.DataFrame(metrics.row_percent.round(2), columns=[f"{n} %" for n in STAGE_NAMES])
    table = pd.concat([table, percent], axis=1)
    table.insert(0, "scored", list(STAGE_NAMES))
    return table


def plot_confusion(metrics: ClassificationMetrics, path: Path, *, title: str = "Sleep staging") -> Path:
    """Row-normalised confusion heat-map with counts, as a PNG."""
    percent = np.nan_to_num(metrics.row_percent)
    figure = agg_figure(5.4, 4.6)
    axes = figure.subplots()
    image = axes.imshow(percent, cmap="Blues", vmin=0, vmax=100)
    for (row, col), value in np.ndenumerate(percent):
        colour = "white" if value > 60 else "black"
        axes.text(col, row, f"{value:.0f}%\n{metrics.confusion[row, col]}", ha="center", va="center",
                  fontsize=8, color=colour)
    ticks = range(N_CLASSES)
    axes.set_xticks(ticks, STAGE_NAMES)
    axes.set_yticks(ticks, STAGE_NAMES)
    axes.set_xlabel("predicted")
    axes.set_ylabel("scored")
    axes.set_title(f"{title}: macro-F1 {metrics.macro_f1:.3f}, κ {metrics.kappa:.3f}, n={metrics.n}", fontsize=9)
    figure.colorbar(image, ax=axes, label="% of scored stage")
    return save_figure(figure, path)
