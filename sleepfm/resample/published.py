"""The published converter's resampling, step by step, as a plain reference.

This is the definition our fast path (:mod:`sleepfm.resample.fast`) is tested against,
and the path it falls back to where a shortcut would not be exact. For one channel of a
file whose highest rate is ``file_rate`` (reference README, SPEC §1.4-1.5):

1. a channel below ``file_rate`` is FFT-resampled up to it (what MNE's EDF reader does:
   ``mne.filter.resample(x, up, down, npad=0)``: boxcar window, Nyquist bin halved);
2. if ``file_rate`` exceeds the target rate, a 4th-order Butterworth low-pass at half the
   target rate, applied forward and backward (``scipy.signal.filtfilt``);
3. linear interpolation from the ``file_rate`` grid onto the target grid, both built with
   ``np.linspace(0, duration, n, endpoint=False)``;
4. z-score over the whole night (population std); a channel with std exactly 0 is only
   centred.
"""

from __future__ import annotations

import numpy as np
from scipy import fft

from sleepfm.resample.iir import butter_lowpass


def fft_upsample(x: np.ndarray, n_out: int) -> np.ndarray:
    """MNE's FFT resampling of ``x`` to ``n_out`` samples (``n_out`` > ``len(x)``, no padding)."""
    n = x.shape[0]
    spectrum = fft.rfft(x)
    if n % 2 == 0:
        spectrum[n // 2] *= 0.5
    spectrum *= float(n_out) / float(n)
    return fft.irfft(spectrum, n_out)


def lowpass_coefficients(file_rate: float, target: float) -> tuple[np.ndarray, np.ndarray]:
    """The anti-alias filter: Butterworth, order 4, cutoff ``target/2`` (normalised as published).

    The coefficients equal ``scipy.signal.butter(4, cutoff, "low")`` bit for bit (tested).
    """
    return butter_lowpass(4, (target / 2) / (file_rate / 2))


def output_length(n_file: int, file_rate: float, target: float) -> int:
    """Samples at ``target`` Hz for ``n_file`` samples at ``file_rate`` (``int(duration * target)``)."""
    return int(n_file / file_rate * target)


def grids(n_file: int, file_rate: float, target: float) -> tuple[np.ndarray, np.ndarray]:
    """The (old, new) time grids of step 3, exactly as the published code builds them."""
    duration = n_file / file_rate
    old = np.linspace(0, duration, n_file, endpoint=False)
    new = np.linspace(0, duration, output_length(n_file, file_rate, target), endpoint=False)
    return old, new


def standardise(y: np.ndarray, mean: float | None = None, std: float | None = None) -> np.ndarray:
    """Step 4 in place: ``(y - mean) / std``, or ``y - mean`` when std is exactly 0.

    ``mean``/``std`` may be passed when already computed (as ``y.mean()``, ``y.std()``).
    """
    mean = y.mean() if mean is None else mean
    std = y.std() if std is None else std
    y -= mean
    if std != 0:
        y /= std
    return y


def published_resample(x: np.ndarray, n_file: int, file_rate: float, target: float = 128.0) -> np.ndarray:
    """Steps 1-4 for one channel: ``x`` (float64, its own rate) → z-scored float64 at ``target``.

    ``n_file`` is the channel's length at ``file_rate`` (records × the largest number of
    samples per record). Memory: a few copies of the channel at ``file_rate``.
    """
    from scipy import signal  # the literal reference; the fast path avoids this slow import

    x = np.asarray(x, dtype=np.float64)
    y = fft_upsample(x, n_file) if x.shape[0] != n_file else x
    if file_rate > target:
        b, a = lowpass_coefficients(file_rate, target)
        y = signal.filtfilt(b, a, y)
    old, new = grids(n_file, file_rate, target)
    return standardise(np.interp(new, old, y))
