"""Building blocks of the synthetic signals: coloured noise, stage weights, event trains.

Everything takes a ``numpy`` generator so that one seed fixes a whole night. Noise is shaped
in the frequency domain (one FFT per call), which keeps a two-hour, 256 Hz channel well
under a tenth of a second.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import numpy as np
from scipy import fft

from sleepfm.demo.hypnogram_model import EPOCH_SECONDS

N_STAGES = 5  # W, N1, N2, N3, REM (stage codes 0..4)


def band_noise(n: int, rate: float, low: float, high: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise limited to ``[low, high]`` Hz, unit RMS, float32 (n,).

    A slow band is synthesised at a lower rate (at least 6× its top frequency) and linearly
    interpolated up, which costs a fraction of a full-rate FFT.
    """
    work_rate = rate
    while work_rate / 2 >= 6 * high and work_rate / 2 >= 2.0:
        work_rate /= 2
    m = n if work_rate == rate else int(np.ceil(n * work_rate / rate)) + 2
    spectrum = fft.rfft(rng.standard_normal(m, dtype=np.float32))
    slow = _unit_rms(fft.irfft(spectrum * _band_gain(m, work_rate, low, high), m))
    return slow if work_rate == rate else upsample(slow, work_rate, rate, n)


@lru_cache(maxsize=64)
def _band_gain(m: int, rate: float, low: float, high: float) -> np.ndarray:
    freqs = fft.rfftfreq(m, 1.0 / rate)
    # Raised-cosine edges of 20% of the band avoid ringing from a brick-wall filter.
    edge = max((high - low) * 0.2, 0.05 * max(high, 0.01))
    ramp = np.clip((freqs - (low - edge)) / edge, 0, 1) * np.clip(((high + edge) - freqs) / edge, 0, 1)
    return (np.sin(ramp * np.pi / 2) ** 2).astype(np.float32)


def upsample(values: np.ndarray, from_rate: float, to_rate: float, n: int) -> np.ndarray:
    """Linear interpolation of a series sampled at ``from_rate`` onto ``n`` samples at ``to_rate``."""
    factor = to_rate / from_rate
    if factor.is_integer() and values.size * int(factor) >= n:
        # Whole-number ratios (every rate here is a power of two apart): a broadcast blend of
        # neighbours, much cheaper than np.interp's search for each output sample.
        k = int(factor)
        step = np.diff(values, append=values[-1:]).astype(np.float32)
        fractions = (np.arange(k, dtype=np.float32) / k)[None, :]
        return (values[:, None] + step[:, None] * fractions).reshape(-1)[:n]
    return np.interp(np.arange(n) / to_rate, np.arange(values.size) / from_rate, values).astype(np.float32)


def pink_noise(n: int, rate: float, rng: np.random.Generator, low: float = 0.3, exponent: float = 1.0) -> np.ndarray:
    """1/f^exponent noise above ``low`` Hz, unit RMS, float32 (n,): the EEG background."""
    spectrum = fft.rfft(rng.standard_normal(n, dtype=np.float32))
    return _unit_rms(fft.irfft(spectrum * _pink_gain(n, rate, low, exponent), n))


@lru_cache(maxsize=16)
def _pink_gain(n: int, rate: float, low: float, exponent: float) -> np.ndarray:
    freqs = fft.rfftfreq(n, 1.0 / rate)
    return np.where(freqs >= low, 1.0 / np.maximum(freqs, low) ** (exponent / 2), 0.0).astype(np.float32)


def slow_wander(n: int, rate: float, rng: np.random.Generator, period: float = 60.0) -> np.ndarray:
    """A smooth random modulation around 1 (±~15%) with features of about ``period`` seconds."""
    return (1.0 + 0.15 * band_noise(n, rate, 0.0, 1.0 / period, rng)).astype(np.float32)


def _unit_rms(values: np.ndarray) -> np.ndarray:
    rms = float(np.sqrt(np.mean(np.square(values, dtype=np.float64)))) or 1.0
    return (values / rms).astype(np.float32)


class Timeline:
    """The night's stages as smooth per-stage weights, turned into parameter curves on demand.

    Weights live at ``control_rate`` (one-hot per 30-s epoch, moving-averaged so that stage
    changes cross-fade over a few seconds) and are interpolated to a channel's rate only
    after mixing, so a curve costs one interpolation however many stages feed it.
    """

    control_rate = 4.0

    def __init__(self, stages: np.ndarray) -> None:
        self.stages = np.asarray(stages, dtype=np.int64)
        per_epoch = int(EPOCH_SECONDS * self.control_rate)
        index = np.repeat(self.stages, per_epoch)
        onehot = np.zeros((N_STAGES, index.size), dtype=np.float32)
        scored = index >= 0
        onehot[index[scored], np.flatnonzero(scored)] = 1.0
        onehot[0, ~scored] = 1.0  # unscored stretches look like Wake (lights on, movement)
        self._onehot = onehot
        self._smoothed: dict[float, np.ndarray] = {}

    @property
    def seconds(self) -> float:
        return self.stages.size * EPOCH_SECONDS

    def n_samples(self, rate: float) -> int:
        return round(self.seconds * rate)

    def weights(self, smooth_seconds: float = 3.0) -> np.ndarray:
        """(5, samples at control rate) weights, rows summing to 1."""
        if smooth_seconds not in self._smoothed:
            width = max(int(smooth_seconds * self.control_rate), 1)
            self._smoothed[smooth_seconds] = moving_average(self._onehot, width)
        return self._smoothed[smooth_seconds]

    def curve(self, per_stage: tuple[float, ...], rate: float, smooth_seconds: float = 3.0) -> np.ndarray:
        """Σ_s weight_s(t) · per_stage[s] at ``rate`` (float32, one value per sample)."""
        control = np.asarray(per_stage, dtype=np.float32) @ self.weights(smooth_seconds)
        return upsample(control, self.control_rate, rate, self.n_samples(rate))


def moving_average(rows: np.ndarray, width: int) -> np.ndarray:
    """Centred moving average along the last axis (same length; the ends average fewer samples)."""
    if width <= 1:
        return rows.astype(np.float32)
    n = rows.shape[-1]
    padded = np.concatenate([np.zeros((*rows.shape[:-1], 1)), np.cumsum(rows, axis=-1, dtype=np.float64)], axis=-1)
    lo = np.clip(np.arange(n) - width // 2, 0, n)
    hi = np.clip(np.arange(n) - width // 2 + width, 0, n)
    return ((padded[..., hi] - padded[..., lo]) / (hi - lo)).astype(np.float32)


def event_times(
    stages: np.ndarray, per_minute: tuple[float, ...], rng: np.random.Generator, *, cluster: int = 1
) -> np.ndarray:
    """Onsets (s) of events whose rate depends on the stage of each 30-s epoch.

    ``cluster > 1`` draws bursts: each drawn event brings up to ``cluster - 1`` followers
    within the next few seconds (rapid eye movements come in runs).
    """
    rates = np.asarray(per_minute, dtype=float)[np.clip(stages, 0, N_STAGES - 1)] * EPOCH_SECONDS / 60
    rates[np.asarray(stages) < 0] = 0.0
    counts = rng.poisson(rates)
    epoch = np.repeat(np.arange(stages.size), counts)
    onsets = (epoch + rng.random(epoch.size)) * EPOCH_SECONDS
    if cluster > 1 and onsets.size:
        extra = rng.integers(0, cluster, onsets.size)
        followers = np.repeat(onsets, extra) + rng.uniform(0.4, 4.0, int(extra.sum()))
        same_epoch = (followers // EPOCH_SECONDS).astype(int) == np.repeat(epoch, extra)
        onsets = np.concatenate([onsets, followers[same_epoch]])
    return np.sort(onsets)


def add_events(
    signal: np.ndarray, rate: float, onsets: np.ndarray, make: Callable[[np.random.Generator], np.ndarray],
    rng: np.random.Generator,
) -> None:
    """Add one waveform from ``make(rng)`` at each onset (in place; clipped at the ends)."""
    n = signal.size
    for onset in onsets:
        shape = make(rng)
        start = int(onset * rate)
        stop = min(start + shape.size, n)
        if start < n:
            signal[start:stop] += shape[: stop - start]


def burst(rate: float, seconds: float, freq: float, amplitude: float) -> np.ndarray:
    """A Hann-windowed oscillation (a spindle, a twitch): amplitude in the signal's unit."""
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.hanning(t.size) * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def phase_from_rate(per_minute: np.ndarray, rate: float) -> np.ndarray:
    """Cycles elapsed (float64) for an instantaneous rate in cycles per minute."""
    return np.cumsum(np.asarray(per_minute, dtype=np.float64) / 60.0 / rate)
