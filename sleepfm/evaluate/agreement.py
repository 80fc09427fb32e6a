"""Agreement of whole-night figures and of epochs: Bland–Altman, ICC and inter-scorer kappa.

For every night and every comparison (the model against a scorer, or one scorer against
another) the sleep statistics of both hypnograms are computed over the *same* window — the
reference's analysis window (:func:`sleepfm.report.sleep_stats.analysis_window`), so both
count the same time in bed — with the definitions of :mod:`sleepfm.report.sleep_stats`.

Statistics compared (minutes unless said): TST, sleep efficiency (%), sleep-onset latency,
WASO, REM latency (from sleep onset) and the minutes of W, N1, N2, N3 and REM.

Bland–Altman (pooled over nights)
    ``difference = other − reference`` per night; ``bias`` = mean difference; ``sd`` = its
    standard deviation (n − 1); 95 % limits of agreement ``bias ± 1.96 sd``. A night where a
    figure is undefined in either hypnogram (REM latency without REM) is left out of that
    figure; ``n`` says how many nights count.
ICC
    ICC(A,1) of McGraw & Wong (1996) — two-way random effects, absolute agreement, single
    measurement; Shrout & Fleiss's ICC(2,1) — over the nights, the two hypnograms as raters.
    Undefined (``None``) with fewer than two nights or no variance at all.
Kappa
    Cohen's kappa over the 30-s epochs scored in both hypnograms, per night and pooled (all
    epochs of all nights in one confusion matrix), for the model against each scorer and
    between scorers, so the model is judged against how much humans agree.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sleepfm.labels.hypnogram import Hypnogram
from sleepfm.report.sleep_stats import analysis_window, confusion_matrix, sleep_statistics

#: Statistic key → (label in tables and plots, unit).
STATISTICS: dict[str, tuple[str, str]] = {
    "total_sleep_time": ("TST", "min"),
    "sleep_efficiency": ("SE", "%"),
    "sleep_onset_latency": ("SOL", "min"),
    "waso": ("WASO", "min"),
    "rem_latency": ("REM latency", "min"),
    **{f"minutes_{stage}": (f"{stage} minutes", "min") for stage in ("W", "N1", "N2", "N3", "REM")},
}
LOA_Z = 1.96


def night_figures(reference: np.ndarray, other: np.ndarray, epoch_seconds: float = 30.0
                  ) -> tuple[dict[str, float | None], dict[str, float | None]]:
    """The statistics of two aligned 30-s hypnograms of one night over the reference's window."""
    reference, other = np.asarray(reference, dtype=np.int8), np.asarray(other, dtype=np.int8)
    window = analysis_window(Hypnogram(reference, epoch_seconds=epoch_seconds))
    figures = []
    for stages in (reference[window], other[window]):
        stats = sleep_statistics(Hypnogram(stages, epoch_seconds=epoch_seconds), lights_off=0.0,
                                 lights_on=stages.size * epoch_seconds).as_dict()
        row = {key: stats.get(key) for key in STATISTICS if not key.startswith("minutes_")}
        row.update({f"minutes_{stage}": stats["stage_minutes"][stage] for stage in ("W", "N1", "N2", "N3", "REM")})
        figures.append(row)
    return figures[0], figures[1]


def icc_a1(reference: np.ndarray, other: np.ndarray) -> float | None:
    """ICC(A,1): two-way random effects, absolute agreement, single measurement (module docstring)."""
    data = np.column_stack([reference, other]).astype(np.float64)
    n, k = data.shape
    if n < 2:
        return None
    grand = data.mean()
    rows, cols = data.mean(axis=1), data.mean(axis=0)
    ms_rows = k * np.sum((rows - grand) ** 2) / (n - 1)
    ms_cols = n * np.sum((cols - grand) ** 2) / (k - 1)
    ms_error = np.sum((data - rows[:, None] - cols[None, :] + grand) ** 2) / ((n - 1) * (k - 1))
    denominator = ms_rows + (k - 1) * ms_error + k * (ms_cols - ms_error) / n
    return float((ms_rows - ms_error) / denominator) if denominator > 0 else None


@dataclass(frozen=True)
class BlandAltman:
    """Pooled agreement of one statistic over nights."""

    statistic: str
    n: int
    mean_reference: float | None
    mean_other: float | None
    bias: float | None
    sd: float | None
    loa_low: float | None
    loa_high: float | None
    icc: float | None


def bland_altman(statistic: str, reference: Sequence[float | None], other: Sequence[float | None]) -> BlandAltman:
    """Bias, SD of the differences, 95 % limits of agreement and ICC(A,1) over the nights where both are defined."""
    pairs = np.array([(r, o) for r, o in zip(reference, other, strict=True) if r is not None and o is not None],
                     dtype=np.float64).reshape(-1, 2)
    n = pairs.shape[0]
    if n == 0:
        return BlandAltman(statistic, 0, None, None, None, None, None, None, None)
    difference = pairs[:, 1] - pairs[:, 0]
    bias = float(difference.mean())
    sd = float(difference.std(ddof=1)) if n > 1 else None
    low, high = (bias - LOA_Z * sd, bias + LOA_Z * sd) if sd is not None else (None, None)
    return BlandAltman(statistic, n, float(pairs[:, 0].mean()), float(pairs[:, 1].mean()), bias, sd, low, high,
                       icc_a1(pairs[:, 0], pairs[:, 1]))


def kappa_of(matrix: np.ndarray) -> float | None:
    """Cohen's kappa of a confusion matrix (``None`` when empty or chance agreement is 1)."""
    total = matrix.sum()
    if total == 0:
        return None
    observed = np.trace(matrix) / total
    expected = float(matrix.sum(axis=1) @ matrix.sum(axis=0)) / total**2
    return float((observed - expected) / (1 - expected)) if expected < 1 else None


@dataclass(frozen=True)
class AgreementReport:
    """Per-night figures, pooled Bland–Altman rows and kappa rows for every comparison."""

    per_night: pd.DataFrame     # study_id, comparison, statistic, reference, other, difference
    bland_altman: pd.DataFrame  # comparison, statistic, label, unit, n, means, bias, sd, loa_low, loa_high, icc
    kappa: pd.DataFrame         # comparison, study_id ("pooled" for all nights), n_epochs, kappa, accuracy

    def summary(self) -> dict[str, Any]:
        return {"icc": "ICC(A,1): two-way random effects, absolute agreement, single measurement",
                "limits_of_agreement": "bias ± 1.96 SD of the differences (other − reference)",
                "bland_altman": self.bland_altman.to_dict(orient="records"),
                "kappa_pooled": self.kappa[self.kappa["study_id"] == "pooled"].to_dict(orient="records")}


def comparisons(model: str | None, scorers: Sequence[str]) -> list[tuple[str, str]]:
    """``(reference, other)`` pairs: the model against each scorer, then each pair of scorers."""
    pairs = [(scorer, model) for scorer in scorers] if model is not None else []
    pairs += [(a, b) for i, a in enumerate(scorers) for b in scorers[i + 1 :]]
    return pairs


def agreement_report(nights: Mapping[str, Mapping[str, np.ndarray]], model: str | None, scorers: Sequence[str],
                     epoch_seconds: float = 30.0) -> AgreementReport:
    """Agreement of every comparison over ``nights`` (study → hypnogram name → aligned 30-s stage codes)."""
    per_night, kappas = [], []
    for reference_name, other_name in comparisons(model, scorers):
        label = f"{other_name} vs {reference_name}"
        pooled = np.zeros((5, 5), dtype=np.int64)
        for study, hypnograms in nights.items():
            if reference_name not in hypnograms or other_name not in hypnograms:
                continue
            reference, other = hypnograms[reference_name], hypnograms[other_name]
            matrix = confusion_matrix(reference, other)
            pooled += matrix
            kappas.append({"comparison": label, "study_id": study, "n_epochs": int(matrix.sum()),
                           "kappa": kappa_of(matrix), "accuracy": _accuracy(matrix)})
            if not (reference >= 0).any():
                continue
            figures = night_figures(reference, other, epoch_seconds)
            for key in STATISTICS:
                r, o = figures[0][key], figures[1][key]
                per_night.append({"study_id": study, "comparison": label, "statistic": key, "reference": r,
                                  "other": o, "difference": None if r is None or o is None else o - r})
        kappas.append({"comparison": label, "study_id": "pooled", "n_epochs": int(pooled.sum()),
                       "kappa": kappa_of(pooled), "accuracy": _accuracy(pooled)})
    nights_frame = pd.DataFrame(per_night, columns=["study_id", "comparison", "statistic", "reference", "other",
                                                    "difference"])
    rows = []
    for (label, key), group in nights_frame.groupby(["comparison", "statistic"], sort=False):
        result = bland_altman(key, list(_values(group["reference"])), list(_values(group["other"])))
        rows.append({"comparison": label, "label": STATISTICS[key][0], "unit": STATISTICS[key][1],
                     **result.__dict__})
    return AgreementReport(nights_frame, pd.DataFrame(rows), pd.DataFrame(kappas))


def _values(column: pd.Series) -> list[float | None]:
    return [None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v) for v in column]


def _accuracy(matrix: np.ndarray) -> float | None:
    return float(np.trace(matrix) / matrix.sum()) if matrix.sum() else None


# ---------------------------------------------------------------------------- outputs
def plot_bland_altman(report: AgreementReport, comparison: str, path: Path) -> Path:
    """One Bland–Altman panel per statistic (difference against mean, bias and limits drawn), as a PNG."""
    from sleepfm.evaluate.outputs import agg_figure, save_figure

    nights = report.per_night[report.per_night["comparison"] == comparison].dropna(subset=["difference"])
    figure = agg_figure(14, 6.5)
    axes = figure.subplots(2, 5).ravel()
    for ax, key in zip(axes, STATISTICS, strict=True):
        label, unit = STATISTICS[key]
        data = nights[nights["statistic"] == key]
        means = (data["reference"].astype(float) + data["other"].astype(float)) / 2
        ax.scatter(means, data["difference"].astype(float), s=14, color="#219ebc")
        row = report.bland_altman[(report.bland_altman["comparison"] == comparison)
                                  & (report.bland_altman["statistic"] == key)]
        if len(row) and row["bias"].notna().item():
            ax.axhline(row["bias"].item(), color="#333333", linewidth=1)
            if row["sd"].notna().item():
                for limit in ("loa_low", "loa_high"):
                    ax.axhline(row[limit].item(), color="#d62828", linewidth=1, linestyle="--")
        ax.axhline(0, color="#999999", linewidth=0.5)
        ax.set_title(f"{label} ({unit})", fontsize=9)
        ax.tick_params(labelsize=7)
    figure.supxlabel("mean of the two hypnograms")
    figure.supylabel(f"difference ({comparison.replace(' vs ', ' − ')})")
    figure.suptitle(f"Bland–Altman: {comparison}; bias (line) and 95 % limits of agreement (dashed)", fontsize=10)
    return save_figure(figure, path)


def write_agreement(report: AgreementReport, out: Path, plot_comparisons: Sequence[str]) -> list[Path]:
    """``agreement_bland_altman.csv``, ``agreement_per_night.csv``, ``agreement_kappa.csv`` and one
    ``bland_altman_<comparison>.png`` per comparison in ``plot_comparisons``."""
    from sleepfm.evaluate.outputs import write_csv

    out = Path(out)
    written = [write_csv(out / "agreement_bland_altman.csv", report.bland_altman),
               write_csv(out / "agreement_per_night.csv", report.per_night),
               write_csv(out / "agreement_kappa.csv", report.kappa)]
    for comparison in plot_comparisons:
        name = comparison.replace(" vs ", "_vs_").replace(" ", "_")
        written.append(plot_bland_altman(report, comparison, out / f"bland_altman_{name}.png"))
    return written


# ---------------------------------------------------------------------------- evaluate staging
MODEL = "model"


def scorer_names(n: int) -> list[str]:
    """``scorer1`` (the ``--labels`` hypnograms), ``scorer2`` (the first ``--scored`` folder), ..."""
    return [f"scorer{i + 1}" for i in range(n)]


def nights_from_predictions(studies: Sequence[Any], extra: Sequence[Mapping[str, np.ndarray]] = ()
                            ) -> dict[str, dict[str, np.ndarray]]:
    """30-s hypnograms per study: the model's (UNS where no token was valid), the labels' and, from each
    of ``extra`` (study → 5-s token stages of a further scorer), that scorer's where it has the study."""
    from sleepfm.evaluate.staging import UNSCORED, epoch_labels, epoch_probabilities

    names = scorer_names(1 + len(extra))
    nights: dict[str, dict[str, np.ndarray]] = {}
    for study in studies:
        probabilities, has_prediction = epoch_probabilities(study.probabilities, study.valid)
        night = {MODEL: np.where(has_prediction, probabilities.argmax(axis=1), UNSCORED).astype(np.int8),
                 names[0]: epoch_labels(study.labels)}
        for name, tokens in zip(names[1:], extra, strict=True):
            if study.study_id in tokens:
                aligned = np.full(study.labels.size, UNSCORED, dtype=np.int8)
                stages = np.asarray(tokens[study.study_id])[: study.labels.size]
                aligned[: stages.size] = stages
                night[name] = epoch_labels(aligned)
        nights[study.study_id] = night
    return nights
