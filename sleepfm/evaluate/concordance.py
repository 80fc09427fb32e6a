"""Harrell's and Uno's concordance index, with a bootstrap that is one matrix product per outcome.

The definitions are scikit-survival's (``concordance_index_censored`` and
``concordance_index_ipcw``; the tests check equality). For an outcome with test times
``t``, event flags ``d`` and risk scores ``r`` (higher = earlier event expected), a pair
``(i, j)`` is comparable when ``d_i`` and either ``t_j > t_i`` or (``t_j == t_i`` and not
``d_j``). It scores 1 when ``r_i > r_j``, 0.5 when ``|r_i - r_j| <= tied_tol``, else 0.

    C = Σ_i w_i Σ_j score_ij / Σ_i w_i Σ_j comparable_ij

with ``w_i = 1`` (Harrell) or ``w_i = 1 / G(t_i)²`` for ``t_i < tau`` and 0 otherwise
(Uno), ``G`` the Kaplan–Meier estimate of the censoring distribution on the training split.

Bootstrap: a resample of subjects is a vector of multiplicities ``c`` (how often each
subject was drawn). A subject paired with its own copy is never comparable (same time,
same event), so the C-index of the resampled data is exactly

    Σ_i c_i w_i (S c)_i / Σ_i c_i w_i (K c)_i

with ``S`` and ``K`` the score and comparable matrices restricted to event rows. All
resamples together are one product ``counts (B, n) @ [S; K]ᵀ (n, 2·events)``, shared by
Harrell's and Uno's C. Entries are multiples of 0.5 below 2²⁴, so float32 is exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TIED_TOL = 1e-8


@dataclass(frozen=True)
class PairMatrices:
    """Score and comparable matrices of one outcome, rows = event subjects, columns = all subjects."""

    events: np.ndarray  # int indices of the event subjects (rows)
    stacked: np.ndarray  # float32 (2 * n_events, n): score rows, then comparable rows

    @property
    def n_events(self) -> int:
        return int(self.events.size)

    @property
    def score(self) -> np.ndarray:
        return self.stacked[: self.n_events]

    @property
    def comparable(self) -> np.ndarray:
        return self.stacked[self.n_events:]


def pair_matrices(event: np.ndarray, time: np.ndarray, risk: np.ndarray, tied_tol: float = TIED_TOL) -> PairMatrices:
    event = np.asarray(event, dtype=bool)
    time = np.asarray(time, dtype=np.float64)
    risk = np.asarray(risk, dtype=np.float64)
    rows = np.flatnonzero(event)
    t_i, r_i = time[rows, None], risk[rows, None]
    comparable = (time[None, :] > t_i) | ((time[None, :] == t_i) & ~event[None, :])
    tied = np.abs(risk[None, :] - r_i) <= tied_tol
    score = np.where(tied, 0.5, (risk[None, :] < r_i).astype(np.float64)) * comparable
    return PairMatrices(rows, np.concatenate([score, comparable]).astype(np.float32))


@dataclass(frozen=True)
class Concordance:
    """A C-index with the pair counts behind it (``value`` is NaN when no pair is comparable)."""

    value: float
    comparable_pairs: int
    concordant: int
    discordant: int
    tied_risk: int


def concordance(pairs: PairMatrices, weights: np.ndarray | None = None) -> Concordance:
    """C-index of the original sample; ``weights`` (n,) per subject as in the module docstring."""
    score, comparable = pairs.score.astype(np.float64), pairs.comparable.astype(np.float64)
    w = np.ones(pairs.n_events) if weights is None else np.asarray(weights, dtype=np.float64)[pairs.events]
    numerator = float(w @ score.sum(axis=1))
    denominator = float(w @ comparable.sum(axis=1))
    n_pairs = int(comparable.sum())
    concordant = int((score == 1.0).sum())
    tied = int((score == 0.5).sum())
    value = numerator / denominator if denominator > 0 else float("nan")
    return Concordance(value, n_pairs, concordant, n_pairs - concordant - tied, tied)


@dataclass(frozen=True)
class CensoringDistribution:
    """Kaplan–Meier estimate of the censoring survival ``G(t) = P(C > t)`` (scikit-survival's
    ``CensoringDistributionEstimator``, vectorised: an event at time t counts as before a
    censoring at t, so it leaves the risk set first)."""

    times: np.ndarray
    survival: np.ndarray

    @classmethod
    def fit(cls, event: np.ndarray, time: np.ndarray) -> CensoringDistribution:
        event = np.asarray(event, dtype=bool)
        time = np.asarray(time, dtype=np.float64)
        if event.all():
            return cls(np.unique(time), np.ones(np.unique(time).size))
        unique, inverse = np.unique(time, return_inverse=True)
        total = np.bincount(inverse, minlength=unique.size)
        events = np.bincount(inverse, weights=event.astype(float), minlength=unique.size)
        censored = total - events
        at_risk = time.size - np.concatenate([[0], np.cumsum(total)[:-1]]) - events
        ratio = np.divide(censored, at_risk, out=np.zeros(unique.size), where=censored != 0)
        return cls(np.concatenate([[-np.inf], unique]), np.concatenate([[1.0], np.cumprod(1.0 - ratio)]))

    def __call__(self, time: np.ndarray) -> np.ndarray:
        """G at ``time``; raises ValueError past the last training time while G is still positive."""
        time = np.asarray(time, dtype=np.float64)
        beyond = time > self.times[-1]
        if self.survival[-1] > 0 and beyond.any():
            raise ValueError(f"time must be smaller than largest observed time point: {self.times[-1]}")
        index = np.searchsorted(self.times, np.where(beyond, self.times[-1], time))
        exact = np.abs(self.times[np.minimum(index, self.times.size - 1)] - time) < np.finfo(np.float64).eps
        index = np.where(exact, index, index - 1)
        return np.where(beyond, 0.0, self.survival[np.clip(index, 0, self.times.size - 1)])

    def squared_ipcw(self, event: np.ndarray, time: np.ndarray, tau: float | None = None) -> np.ndarray:
        """Uno's weights ``1 / G(t_i)²`` for events before ``tau``, 0 for everyone else."""
        event = np.asarray(event, dtype=bool)
        time = np.asarray(time, dtype=np.float64)
        use = event if tau is None else event & (time < tau)
        survival = self(time[use])
        if (survival == 0).any():
            raise ValueError("censoring survival function is zero at one or more time points")
        weights = np.zeros(time.shape)
        weights[use] = 1.0 / np.square(survival)
        return weights


def bootstrap_counts(n: int, samples: int, seed: int) -> np.ndarray:
    """Multiplicities (samples, n) float32 of ``samples`` resamples of ``n`` subjects with replacement."""
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n, size=(samples, n))
    offsets = (np.arange(samples) * n)[:, None]
    return np.bincount((draws + offsets).ravel(), minlength=samples * n).reshape(samples, n).astype(np.float32)


def bootstrap_concordance(
    pairs: PairMatrices, counts: np.ndarray, weight_sets: list[np.ndarray | None]
) -> list[np.ndarray]:
    """C-index of every resample, for each weight vector in ``weight_sets`` (NaN: no comparable pair).

    ``counts`` (B, n) are the multiplicities of this outcome's n subjects.
    """
    if pairs.n_events == 0:
        return [np.full(counts.shape[0], np.nan) for _ in weight_sets]
    product = counts @ pairs.stacked.T  # (B, 2 * n_events)
    drawn = counts[:, pairs.events].astype(np.float64)
    score_sums = product[:, : pairs.n_events].astype(np.float64)
    pair_sums = product[:, pairs.n_events:].astype(np.float64)
    results = []
    for weights in weight_sets:
        factor = drawn if weights is None else drawn * np.asarray(weights, dtype=np.float64)[pairs.events]
        numerator = (score_sums * factor).sum(axis=1)
        denominator = (pair_sums * factor).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            results.append(np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1), np.nan))
    return results


def percentile_interval(values: np.ndarray, confidence: float) -> tuple[float, float, int]:
    """Percentile interval of the finite ``values`` and how many there were."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return float("nan"), float("nan"), 0
    alpha = (1 - confidence) / 2
    low, high = np.quantile(finite, [alpha, 1 - alpha])
    return float(low), float(high), int(finite.size)
