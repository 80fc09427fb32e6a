"""The published resampling (:mod:`sleepfm.resample.published`), computed fast and in little memory.

Every shortcut is the same arithmetic in another order, or the same function evaluated at
fewer points; the float16 output equals the published converter's.

* **No full-rate upsampling of low-rate channels** (:mod:`sleepfm.resample.spectral`):
  the interior of the night comes from a short forward FFT and inverse FFTs straight onto
  the 128 Hz grid; the few hundred samples at each end, where ``filtfilt``'s padding and
  start-up matter, are computed exactly as published. The seam sits where the filter's
  memory has decayed below 1e-17, so both pieces agree to float64 rounding.
* **Interpolation that only picks.** When the 128 Hz grid points coincide exactly with
  points of the file-rate grid (256, 512, 1024 Hz files...), ``np.interp`` returns those
  samples unchanged; they are taken by slicing instead.
* **filtfilt in place.** A file-rate channel is read straight into a per-thread workspace
  with room for ``filtfilt``'s odd padding; both ``lfilter`` passes run block by block over
  it, carrying the filter state from block to block — the same recursion on the same
  numbers, bit for bit — and the 128 Hz samples are then compacted into its start. One
  night-long array per thread, reused from channel to channel, instead of five per channel.
* **Degenerate channels take the published path.** A constant channel (or one whose
  spread is below 1e-6 of its mean) turns float64 rounding into its float16 output when
  z-scored; those are computed exactly as published.

Channels of one file are independent; :class:`Resampler` holds what they share and is
safe to call from several threads — FFTs, ``lfilter`` and NumPy release the GIL, so
threads really run in parallel.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from numpy.typing import DTypeLike

from sleepfm.resample.iir import lfilter, lfilter_zi
from sleepfm.resample.published import fft_upsample, grids, lowpass_coefficients, output_length, standardise
from sleepfm.resample.spectral import SpectralPath

# Filter memory below this (relative) is float64 rounding; beyond it the two computations agree.
_DECAY = 1e-18
# Spread below this fraction of the mean: rounding reaches float16 after the z-score.
_DEGENERATE = 1e-6
# Samples per lfilter call in the in-place filtfilt (8 MB of float64).
_BLOCK = 1 << 20


def _moments(y: np.ndarray, scratch: np.ndarray) -> tuple[float, float]:
    """``(y.mean(), y.std())``, bit for bit, using ``scratch`` instead of a night-long temporary.

    The same operations NumPy's ``std`` performs (sum / n; deviations, squared in place,
    summed / n; square root), on a contiguous array so the pairwise sums run in the same
    order; ``tests/test_resample.py`` checks the equality.
    """
    n = y.shape[0]
    if scratch.shape[0] < n or np.shares_memory(y, scratch):
        return y.mean(), y.std()
    mean = np.add.reduce(y) / n
    deviations = scratch[:n]
    np.subtract(y, mean, out=deviations)
    np.multiply(deviations, deviations, out=deviations)
    return mean, np.sqrt(np.add.reduce(deviations) / n)


def robust_moments(y: np.ndarray, clip: float, min_ratio: float) -> tuple[float, float] | None:
    """Robust scaling of a channel whose z-score artifacts would dominate, or None for any other.

    A channel is touched only when its standard deviation exceeds ``min_ratio`` times its robust
    one (1.4826 × MAD). Then its samples beyond median ± ``clip`` robust standard deviations are
    clipped to those bounds (in place), and the mean and standard deviation it is z-scored with
    are those of the samples that lay within them: the artifact no longer sets the scale. Median
    and MAD come from an even stride of about a million samples (a night at 128 Hz holds 3.7
    million): robust statistics of a stride are the night's to well within a percent.
    """
    sample = y[:: max(1, y.shape[0] // (1 << 20))]
    centre = float(np.median(sample))
    spread = 1.4826 * float(np.median(np.abs(sample - centre)))
    if spread <= 0 or float(y.std()) <= min_ratio * spread:
        return None
    low, high = centre - clip * spread, centre + clip * spread
    inside = y[(y >= low) & (y <= high)]
    np.clip(y, low, high, out=y)
    return float(inside.mean()), float(inside.std()) or 1.0


@dataclass
class PaddedSignal:
    """A channel in ``buffer`` with ``edge`` spare samples on each side (filtfilt's padding)."""

    buffer: np.ndarray
    edge: int
    n: int

    @property
    def data(self) -> np.ndarray:
        return self.buffer[self.edge : self.edge + self.n]


class Resampler:
    """Brings channels of one file to ``target`` Hz and z-scores them, as the published converter.

    Parameters
    ----------
    file_rate:
        The highest sampling rate in the file (Hz): the rate MNE brings every channel to.
    file_samples:
        A channel's length at ``file_rate`` (records × largest samples per record).
    target:
        Output rate (Hz), 128 for SleepFM.
    """

    def __init__(self, file_rate: float, file_samples: int, target: float = 128.0) -> None:
        self.file_rate = float(file_rate)
        self.file_samples = int(file_samples)
        self.target = float(target)
        self.n_out = output_length(self.file_samples, self.file_rate, self.target)
        self.filtered = self.file_rate > self.target
        self.edge = 0
        self.step = self._decimation()
        self.spectral: SpectralPath | None = None
        if self.filtered:
            self.b, self.a = lowpass_coefficients(self.file_rate, self.target)
            self.edge = 3 * max(len(self.a), len(self.b))  # scipy's default padlen
            self.zi = lfilter_zi(self.b, self.a)
            if self.step is not None:
                rho = float(np.abs(np.roots(self.a)).max())
                memory = math.ceil(1.5 * math.log(_DECAY) / math.log(rho)) + 32
                keep = -(-memory // self.step) * self.step
                length = keep + -(-(memory + self.edge) // self.step) * self.step
                self.spectral = SpectralPath(self.file_samples, self.step, self.b, self.a, keep, length)
        self._lock = threading.Lock()
        self._local = threading.local()
        self._grids: tuple[np.ndarray, np.ndarray] | None = None

    def _decimation(self) -> int | None:
        """``d`` when output sample ``m`` sits exactly on file-rate sample ``m * d``, else None."""
        ratio = self.file_rate / self.target
        step = round(ratio)
        if step < 1 or abs(ratio - step) > 1e-12 or self.n_out * step > self.file_samples:
            return None
        duration = self.file_samples / self.file_rate
        old_step = duration / self.file_samples
        new_step = duration / self.n_out if self.n_out else 0.0
        # np.linspace builds point i as float(i) * step. When step * old_step is exactly
        # new_step, float(m * step) * old_step and float(m) * new_step round the same real
        # number, so every point matches; otherwise compare the points themselves.
        if Fraction(step) * Fraction(old_step) == Fraction(new_step):
            return step
        block = 1 << 20
        for first in range(0, self.n_out, block):
            m = np.arange(first, min(first + block, self.n_out), dtype=np.float64)
            if not np.array_equal(m * new_step, (m * step) * old_step):
                return None
        return step

    # ------------------------------------------------------------------ buffers
    def _workspace(self) -> np.ndarray:
        """This thread's file-rate buffer (allocated once, reused for every channel)."""
        buffer = getattr(self._local, "buffer", None)
        if buffer is None:
            buffer = self._local.buffer = np.empty(self.file_samples + 2 * self.edge)
        return buffer

    def new_signal(self, n: int) -> PaddedSignal:
        """Where to read a channel of ``n`` samples (``.data``) before calling the resampler.

        A file-rate channel goes into this thread's workspace: read, then resample, before
        the same thread reads the next one.
        """
        if n == self.file_samples:
            return PaddedSignal(self._workspace(), self.edge, n)
        return PaddedSignal(np.empty(n), 0, n)

    # ------------------------------------------------------------------ entry point
    def __call__(self, x: np.ndarray | PaddedSignal, dtype: DTypeLike = np.float64) -> np.ndarray:
        """One channel (float64, its own rate, published units) → z-scored at ``target``, as ``dtype``.

        Always returns a new array. Passing ``np.float16`` (the stored type) skips a
        night-long float64 copy.
        """
        return self.resample(x, dtype)[0]

    def resample(self, x: np.ndarray | PaddedSignal, dtype: DTypeLike = np.float64, *,
                 clip: float | None = None, clip_ratio: float = 0.0) -> tuple[np.ndarray, float, float]:
        """As :meth:`__call__`, returning ``(z-scored, mean, spread)``: ``resampled = z * spread + mean``
        (``spread`` is 1 for a constant channel, which is only centred).

        ``clip`` (robust scaling, :func:`robust_moments`): when the resampled channel's standard
        deviation exceeds ``clip_ratio`` times its robust one, its artifacts are clipped and left
        out of the mean and deviation it is z-scored with. Any other channel is z-scored exactly as
        published.
        """
        if not isinstance(x, PaddedSignal):
            padded = self.new_signal(len(x))
            padded.data[:] = x
            x = padded
        data = x.data
        if x.n != self.file_samples and self.spectral is not None and self.spectral.applies(x.n, self.n_out) \
                and data.min() != data.max():
            workspace = self._workspace()
            short = self.file_samples // self.spectral.step
            out = self.spectral(data, workspace)[: self.n_out]
            robust = robust_moments(out, clip, clip_ratio) if clip is not None else None
            mean, spread = robust or _moments(out, workspace[short:])
            # Rounding grows with the values (≈ |mean| here), the output with 1 / spread.
            if spread > _DEGENERATE * abs(mean):
                return standardise(out, mean, spread).astype(dtype), float(mean), float(spread)
        if x.n != self.file_samples:
            # The published path: FFT-upsample to the file rate, into the workspace.
            x = PaddedSignal(self._workspace(), self.edge, self.file_samples)
            x.data[:] = fft_upsample(data, self.file_samples)
        del data
        if self.filtered:
            self._filtfilt(x)
        out = self._pick(x)
        robust = robust_moments(out, clip, clip_ratio) if clip is not None else None
        spare = x.buffer[self.n_out :] if self.step is not None else x.buffer
        mean, spread = robust or _moments(out, spare)
        return standardise(out, mean, spread).astype(dtype), float(mean), float(spread) if spread != 0 else 1.0

    # ------------------------------------------------------------------ published steps 2-3
    def _filtfilt(self, x: PaddedSignal) -> None:
        """``x.data = scipy.signal.filtfilt(b, a, x.data)`` (odd padding, padlen 15), in place.

        Both passes run block by block, each block's output written over its input, with
        ``lfilter``'s final state handed to the next block.
        """
        edge, n, buffer = x.edge, x.n, x.buffer
        assert n > edge
        data = x.data
        buffer[:edge] = 2 * data[0] - data[edge:0:-1]
        buffer[edge + n : 2 * edge + n] = 2 * data[-1] - data[-2 : -(edge + 2) : -1]
        padded = buffer[: n + 2 * edge]
        for view in (padded, padded[::-1]):  # forward, then backward over the forward output
            state = self.zi * view[0]
            for start in range(0, view.shape[0], _BLOCK):
                view[start : start + _BLOCK], state = lfilter(self.b, self.a, view[start : start + _BLOCK], state)

    def _pick(self, x: PaddedSignal) -> np.ndarray:
        """Step 3: the file-rate signal at the output grid, contiguous (as ``np.interp`` returns it).

        On an exact sub-grid the samples are compacted into the start of the buffer, in
        blocks whose sources lie at or beyond them (NumPy copies the overlapping first block).
        """
        if self.step is None:
            with self._lock:
                if self._grids is None:
                    self._grids = grids(self.file_samples, self.file_rate, self.target)
            old, new = self._grids
            return np.interp(new, old, x.data)
        buffer, start, step = x.buffer, x.edge, self.step
        for first in range(0, self.n_out, _BLOCK):
            last = min(self.n_out, first + _BLOCK)
            buffer[first:last] = buffer[start + step * first : start + step * (last - 1) + 1 : step]
        return buffer[: self.n_out]
