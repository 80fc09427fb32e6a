"""Sleep statistics of a 30-s hypnogram, and agreement between two hypnograms.

Definitions (AASM Scoring Manual conventions; every duration in minutes)
-----------------------------------------------------------------------
The *analysis window* runs from lights off to lights on. Without them it runs from the first
to the last scored (not UNS) epoch, so that unscored padding before and after a recording —
Sleep-EDF's trailing ``Sleep stage ?`` — is not counted as time in bed. With lights off/on, the
window holds the epochs whose middle lies between them. All figures are counted in whole
epochs inside the window.

``time_in_bed`` (TIB, AASM "total recording time")
    Epochs in the window × epoch length. Unscored epochs inside the window count here.
``total_sleep_time`` (TST)
    N1 + N2 + N3 + REM epochs.
``sleep_efficiency``
    100 · TST / TIB, in %. Unscored epochs are in the denominator but not the numerator
    (the R&K convention for movement time).
``sleep_onset_latency`` (SOL)
    From the start of the window to the first epoch of any sleep stage.
``sleep_period_time`` (SPT)
    From the first to the end of the last sleep epoch.
``waso`` (wake after sleep onset)
    W epochs after sleep onset up to lights on (end of window) — the final awakening
    included. It equals TIB − SOL − TST when nothing in the window is unscored; unscored
    epochs are neither sleep nor wake.
``rem_latency``
    From sleep onset to the first REM epoch (AASM "R latency"); ``None`` without REM.
``rem_latency_from_start``
    From the start of the window to the first REM epoch, i.e. SOL + REM latency: what YASA
    reports as ``Lat_REM`` (latency from the beginning of the hypnogram it is given, cropped to
    lights off–on). Named apart so the two conventions are never mixed up.
``persistent_sleep_latency``
    From the start of the window to the first epoch of the first run of at least
    ``persistent_sleep_minutes`` (default 10, Luna's ``SOL_PER`` and the usual "latency to
    persistent sleep") of consecutive sleep epochs; W or UNS end a run. ``None`` without one.
``sleep_onset``
    Which onset SPT, WASO, REM latency and awakenings count from: ``"first"`` (default, AASM:
    the first epoch of any sleep stage) or ``"persistent"`` (the first epoch of persistent
    sleep, as some insomnia studies define it); recorded in the output.
``stage_minutes``
    Minutes of W, N1, N2, N3, REM and UNS in the window.
``stage_percent_tst``
    N1, N2, N3 and REM as % of TST; ``stage_percent_tib``: every stage (UNS too) as % of TIB.
``awakenings``
    Bouts of W after sleep onset lasting at least ``min_awakening_epochs`` epochs (default
    1, i.e. 30 s); unscored epochs neither start, end nor split a bout (``W UNS W`` is one);
    the final awakening counts.

``transitions``, ``stage_shifts``
    The 5 × 5 stage-transition counts of consecutive epochs in the window (rows the stage
    *from*, columns the stage *to*, order W, N1, N2, N3, REM, self-transitions on the diagonal),
    as YASA's ``transition_matrix`` counts them; pairs with an unscored epoch are left out (YASA
    keeps UNS as a stage of its own). ``stage_shifts`` is the number of changes of stage, the
    off-diagonal sum. :func:`transition_matrix` also gives the row-normalised probabilities.

Without any sleep, the latencies, SPT and WASO are ``None`` and the awakenings 0.

Agreement (:func:`agreement`) compares epochs scored in *both* hypnograms (UNS in either is
left out): accuracy, Cohen's kappa, macro-F1 over the stages present in either hypnogram
(scikit-learn's default labels), per-stage F1 and the 5 × 5 confusion matrix (rows the
reference, columns the other; order W, N1, N2, N3, REM).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import numpy as np

from sleepfm.errors import InputError, UsageError
from sleepfm.labels.hypnogram import Hypnogram, Stage

SLEEP = (Stage.N1, Stage.N2, Stage.N3, Stage.REM)
SCORED = (Stage.W, *SLEEP)


@dataclass(frozen=True)
class SleepStatistics:
    """The figures defined in this module's docstring; durations in minutes, percentages in %."""

    epoch_seconds: float
    window_start: float
    window_end: float
    time_in_bed: float
    total_sleep_time: float
    sleep_efficiency: float | None
    sleep_onset_latency: float | None
    sleep_period_time: float | None
    waso: float | None
    rem_latency: float | None
    rem_latency_from_start: float | None
    persistent_sleep_latency: float | None
    awakenings: int
    stage_minutes: dict[str, float]
    stage_percent_tst: dict[str, float | None]
    stage_percent_tib: dict[str, float | None]
    stage_shifts: int
    transitions: list[list[int]]
    sleep_onset: str = "first"
    persistent_sleep_minutes: float = 10.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: plain floats, ``None`` where a figure is undefined."""
        return asdict(self)


def _ratio(part: float, whole: float) -> float | None:
    return 100.0 * part / whole if whole > 0 else None


def lights_from_events(hypnogram: Hypnogram) -> tuple[float | None, float | None]:
    """Onsets of the first ``lights off`` and last ``lights on`` events, if the file scored them."""
    events = hypnogram.events
    off = events.loc[events["event"] == "lights off", "onset"]
    on = events.loc[events["event"] == "lights on", "onset"]
    return (float(off.min()) if len(off) else None, float(on.max()) if len(on) else None)


def seconds_from_start(text: str, start_time: datetime | None) -> float:
    """A time point given as seconds from the recording start (``"1830"``) or as a clock time
    (``"23:15"``, ``"06:40:30"``; a time earlier than the start is taken as the next day)."""
    text = text.strip()
    if ":" not in text:
        try:
            return float(text)
        except ValueError:
            raise UsageError(f"{text!r} is neither seconds nor a HH:MM clock time") from None
    try:
        clock = datetime.strptime(text, "%H:%M:%S" if text.count(":") == 2 else "%H:%M").time()
    except ValueError:
        raise UsageError(f"{text!r} is not a HH:MM or HH:MM:SS clock time") from None
    if start_time is None:
        raise UsageError(f"clock time {text!r} given, but the hypnogram has no start time",
                         fix="give seconds from the recording start instead")
    moment = datetime.combine(start_time.date(), clock)
    if moment < start_time:
        moment += timedelta(days=1)
    return (moment - start_time).total_seconds()


def analysis_window(hypnogram: Hypnogram, lights_off: float | None = None,
                    lights_on: float | None = None) -> slice:
    """The epochs of the analysis window (see the module docstring) as a slice of ``stages``."""
    stages = hypnogram.stages
    scored = np.flatnonzero(stages != Stage.UNS)
    middles = hypnogram.onset + (np.arange(stages.size) + 0.5) * hypnogram.epoch_seconds
    if lights_off is not None:
        first = int(np.searchsorted(middles, lights_off))
    else:
        first = int(scored[0]) if scored.size else 0
    if lights_on is not None:
        last = int(np.searchsorted(middles, lights_on))
    else:
        last = int(scored[-1]) + 1 if scored.size else stages.size
    return slice(first, max(first, last))


def sleep_statistics(hypnogram: Hypnogram, *, lights_off: float | None = None, lights_on: float | None = None,
                     min_awakening_epochs: int = 1, sleep_onset: Literal["first", "persistent"] = "first",
                     persistent_sleep_minutes: float = 10.0) -> SleepStatistics:
    """Sleep statistics of ``hypnogram`` (any epoch length; AASM hypnograms use 30 s).

    ``lights_off``/``lights_on`` are seconds from the recording start (see
    :func:`lights_from_events`); the definitions are in the module docstring.
    """
    if sleep_onset not in ("first", "persistent"):
        raise UsageError(f"sleep onset {sleep_onset!r} is neither 'first' nor 'persistent'")
    window = analysis_window(hypnogram, lights_off, lights_on)
    stages = hypnogram.stages[window]
    minutes = hypnogram.epoch_seconds / 60.0
    if stages.size == 0:
        raise InputError("the hypnogram has no epochs between lights off and lights on", where=hypnogram.source)
    stage_minutes = {s.name: float(np.sum(stages == s.value)) * minutes for s in (*SCORED, Stage.UNS)}
    tib = stages.size * minutes
    tst = sum(stage_minutes[s.name] for s in SLEEP)

    is_sleep = np.isin(stages, [s.value for s in SLEEP])
    asleep = np.flatnonzero(is_sleep)
    persistent = _first_run(is_sleep, math.ceil(persistent_sleep_minutes / minutes - 1e-9))
    sol = spt = waso = rem_latency = rem_from_start = None
    awakenings = 0
    onset = persistent if sleep_onset == "persistent" else (int(asleep[0]) if asleep.size else None)
    if onset is not None:
        end = int(asleep[-1]) + 1
        after = stages[onset:]
        sol = onset * minutes
        spt = (end - onset) * minutes
        waso = float(np.sum(after == Stage.W)) * minutes
        rem = np.flatnonzero(after == Stage.REM)
        rem_latency = float(rem[0]) * minutes if rem.size else None
        rem_from_start = float(onset + rem[0]) * minutes if rem.size else None
        awakenings = _wake_bouts(after[after != Stage.UNS], min_awakening_epochs)
    counts = transition_matrix(stages)[0]

    return SleepStatistics(
        epoch_seconds=float(hypnogram.epoch_seconds),
        window_start=float(hypnogram.onset + window.start * hypnogram.epoch_seconds),
        window_end=float(hypnogram.onset + window.stop * hypnogram.epoch_seconds),
        time_in_bed=tib,
        total_sleep_time=tst,
        sleep_efficiency=_ratio(tst, tib),
        sleep_onset_latency=sol,
        sleep_period_time=spt,
        waso=waso,
        rem_latency=rem_latency,
        rem_latency_from_start=rem_from_start,
        persistent_sleep_latency=persistent * minutes if persistent is not None else None,
        awakenings=awakenings,
        stage_minutes=stage_minutes,
        stage_percent_tst={s.name: _ratio(stage_minutes[s.name], tst) for s in SLEEP},
        stage_percent_tib={name: _ratio(value, tib) for name, value in stage_minutes.items()},
        stage_shifts=int(counts.sum() - np.trace(counts)),
        transitions=counts.tolist(),
        sleep_onset=sleep_onset,
        persistent_sleep_minutes=float(persistent_sleep_minutes),
    )


def _first_run(mask: np.ndarray, length: int) -> int | None:
    """Index of the first run of at least ``length`` consecutive True values, or ``None``."""
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    starts, ends = edges[::2], edges[1::2]
    long_enough = np.flatnonzero(ends - starts >= max(1, length))
    return int(starts[long_enough[0]]) if long_enough.size else None


def transition_matrix(stages: Hypnogram | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Counts (5 × 5, int) and row-normalised probabilities of stage transitions between consecutive
    epochs, rows *from* and columns *to* in the order W, N1, N2, N3, REM (YASA's layout); pairs with
    an unscored epoch are not counted. A stage never left has a row of NaN probabilities."""
    codes = np.asarray(getattr(stages, "stages", stages), dtype=np.int64)
    before, after = codes[:-1], codes[1:]
    keep = (before >= 0) & (after >= 0)
    n = len(SCORED)
    counts = np.bincount(before[keep] * n + after[keep], minlength=n * n).reshape(n, n)
    totals = counts.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        probabilities = np.where(totals > 0, counts / np.maximum(totals, 1), np.nan)
    return counts, probabilities


def _wake_bouts(stages: np.ndarray, min_epochs: int) -> int:
    wake = np.concatenate([[False], stages == Stage.W, [False]])
    edges = np.flatnonzero(np.diff(wake.astype(np.int8)))
    lengths = edges[1::2] - edges[::2]
    return int(np.sum(lengths >= min_epochs))


# ----------------------------------------------------------------------------- agreement
@dataclass(frozen=True)
class Agreement:
    """Epoch-by-epoch agreement of two hypnograms over the epochs both scored."""

    n_epochs: int
    accuracy: float
    kappa: float
    macro_f1: float
    f1: dict[str, float | None]
    confusion: list[list[int]]
    labels: tuple[str, ...] = tuple(s.name for s in SCORED)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["labels"] = list(self.labels)
        if math.isnan(self.kappa):
            data["kappa"] = None
        return data


def aligned_stages(reference: Hypnogram | np.ndarray, other: Hypnogram | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The stage codes of two hypnograms over their overlap: on the coarser epoch length, aligned by onset
    (plain arrays must have equal lengths)."""
    if isinstance(reference, Hypnogram) and isinstance(other, Hypnogram):
        epoch = max(reference.epoch_seconds, other.epoch_seconds)
        reference, other = reference.to_epoch_seconds(epoch), other.to_epoch_seconds(epoch)
        shift = (other.onset - reference.onset) / epoch
        if abs(shift - round(shift)) > 1e-6:
            raise InputError(f"the hypnograms' epochs are offset by {other.onset - reference.onset:g} s, "
                             f"not a whole number of {epoch:g}-s epochs")
        shift = round(shift)
        # Index of epoch i of `other` in `reference` is i + shift; compare the overlap.
        start, stop = max(0, shift), min(reference.n_epochs, other.n_epochs + shift)
        return reference.stages[start:stop], other.stages[start - shift : stop - shift]
    ref, oth = np.asarray(getattr(reference, "stages", reference)), np.asarray(getattr(other, "stages", other))
    if ref.shape != oth.shape:
        raise InputError(f"the hypnograms have {ref.size} and {oth.size} epochs; stage arrays must match")
    return ref, oth


def confusion_matrix(reference: np.ndarray, other: np.ndarray) -> np.ndarray:
    """5 × 5 counts, rows ``reference`` and columns ``other`` stage codes W..REM (UNS ignored)."""
    keep = (reference >= 0) & (other >= 0)
    n = len(SCORED)
    flat = reference[keep].astype(np.int64) * n + other[keep].astype(np.int64)
    return np.bincount(flat, minlength=n * n).reshape(n, n)


def agreement(reference: Hypnogram | np.ndarray, other: Hypnogram | np.ndarray) -> Agreement:
    """Agreement of ``other`` with ``reference`` (see the module docstring).

    Hypnograms are compared on the coarser of their epoch lengths, aligned by onset;
    plain arrays of stage codes must have equal lengths.
    """
    ref, oth = aligned_stages(reference, other)
    matrix = confusion_matrix(ref, oth)
    total = int(matrix.sum())
    if total == 0:
        raise InputError("no epoch is scored (not UNS) in both hypnograms")
    correct = float(np.trace(matrix))
    rows, cols = matrix.sum(axis=1), matrix.sum(axis=0)
    expected = float(rows @ cols) / total**2
    observed = correct / total
    kappa = (observed - expected) / (1.0 - expected) if expected < 1.0 else math.nan
    f1: dict[str, float | None] = {}
    for index, stage in enumerate(SCORED):
        support = rows[index] + cols[index]
        f1[stage.name] = 2.0 * matrix[index, index] / support if support else None
    present = [value for value in f1.values() if value is not None]
    return Agreement(n_epochs=total, accuracy=observed, kappa=float(kappa), macro_f1=float(np.mean(present)),
                     f1=f1, confusion=matrix.tolist())
