"""The published resampling (:mod:`sleepfm.resample.published`), computed fast and in little memory.

Every shortcut here is the same arithmetic done in another order or the same function
evaluated at fewer points; the float16 output equals the published converter's.

* **No full-rate upsampling of low-rate channels.** The published code FFT-upsamples a
  32 Hz channel to the file's 256 Hz, low-passes it with ``filtfilt`` and keeps every
  second sample. The upsampled signal is a trigonometric polynomial; away from the ends of
  the night, ``filtfilt`` multiplies its spectrum by the filter's squared magnitude
  response, and keeping every second sample is an inverse FFT of half the length. So the
  interior comes from one short forward FFT and one inverse FFT straight onto the 128 Hz
  grid. Near the two ends ``filtfilt``'s padding and start-up states matter: there the
  polynomial is evaluated at full rate on a few hundred samples (Bluestein's algorithm,
  exact phases) and filtered exactly as published. The seam is placed where the filter's
  memory has decayed below 1e-17, so both pieces agree to float64 rounding.
* **Interpolation that only picks.** When the 128 Hz grid points coincide exactly with
  points of the file-rate grid (256, 512, 1024 Hz files...), ``np.interp`` returns those
  samples unchanged; they are taken by slicing instead.
* **filtfilt in place.** The channel is read straight into a buffer with room for
  ``filtfilt``'s odd padding, and both ``lfilter`` passes run block by block over it,
  carrying the filter state from block to block — the same recursion on the same numbers,
  bit for bit, in one night-long array instead of four.
* **Degenerate channels take the published path.** A constant channel (or one whose
  spread is below 1e-6 of its amplitude) turns float64 rounding into its float16 output
  when z-scored; those are computed exactly as published.

Channels of one file are independent; :class:`Resampler` holds what they share (filter,
grids, spectral gains) and is safe to call from several threads — FFTs, ``lfilter`` and
NumPy release the GIL, so threads really run in parallel.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import numpy as np
from scipy import fft, signal

from sleepfm.resample.published import fft_upsample, grids, lowpass_coefficients, output_length, standardise

# Filter memory below this (relative) is float64 rounding; beyond it the two computations agree.
_DECAY = 1e-18
# Spread below this fraction of the amplitude: rounding reaches float16 after the z-score.
_DEGENERATE = 1e-6
# Samples per lfilter call in the in-place filtfilt (8 MB of float64).
_BLOCK = 1 << 20


@dataclass
class PaddedSignal:
    """A channel in a buffer with ``edge`` spare samples on each side for filtfilt's padding."""

    buffer: np.ndarray | None
    edge: int
    n: int

    @property
    def data(self) -> np.ndarray:
        assert self.buffer is not None
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
        if self.filtered:
            self.b, self.a = lowpass_coefficients(self.file_rate, self.target)
            self.edge = 3 * max(len(self.a), len(self.b))  # scipy's default padlen
            self.zi = signal.lfilter_zi(self.b, self.a)
            rho = float(np.abs(np.roots(self.a)).max())
            memory = math.ceil(1.5 * math.log(_DECAY) / math.log(rho)) + 32
        else:
            memory = 0
        self.step = self._decimation()
        step = self.step or 1
        # Samples kept from each end segment, and the segment length (room for the far end's
        # transient to die out before it reaches what is kept).
        self.edge_keep = -(-memory // step) * step
        self.edge_length = self.edge_keep + (-(-(memory + self.edge) // step) * step)
        self._lock = threading.Lock()
        self._gains: dict[int, np.ndarray] = {}
        self._kernels: dict[tuple[int, int, int], tuple[int, np.ndarray, np.ndarray]] = {}
        self._grids: tuple[np.ndarray, np.ndarray] | None = None

    # ------------------------------------------------------------------ set-up
    def _decimation(self) -> int | None:
        """``d`` when output sample ``m`` sits exactly on file-rate sample ``m * d``, else None."""
        ratio = self.file_rate / self.target
        step = round(ratio)
        if step < 1 or abs(ratio - step) > 1e-12 or self.n_out * step > self.file_samples:
            return None
        duration = self.file_samples / self.file_rate
        old_step = duration / self.file_samples
        new_step = duration / self.n_out if self.n_out else 0.0
        block = 1 << 20
        for first in range(0, self.n_out, block):
            m = np.arange(first, min(first + block, self.n_out), dtype=np.float64)
            # np.linspace builds point i as float(i) * step; compare exactly those numbers.
            if not np.array_equal(m * new_step, (m * step) * old_step):
                return None
        return step

    def new_signal(self, n: int) -> PaddedSignal:
        """A buffer to read a channel of ``n`` samples into (``.data``), ready for filtering."""
        edge = self.edge if n == self.file_samples else 0
        return PaddedSignal(np.empty(n + 2 * edge), edge, n)

    # ------------------------------------------------------------------ entry point
    def __call__(self, x: np.ndarray | PaddedSignal) -> np.ndarray:
        """One channel (float64, its own rate, published units) → z-scored float64 at ``target``."""
        if not isinstance(x, PaddedSignal):
            padded = self.new_signal(len(x))
            padded.data[:] = x
            x = padded
        n = x.n
        if n == self.file_samples:
            y = self._filtfilt(x) if self.filtered else x.data
            out = self._pick(y)
            del y  # the file-rate buffer is free before the z-score allocates its temporary
            return standardise(out)
        data = x.data
        if self._spectral_applies(n) and data.min() != data.max():
            out = self._spectral(data)
            spread = out.std()
            if spread > _DEGENERATE * np.abs(out).max():
                return standardise(out)
        y = fft_upsample(data, self.file_samples)
        if self.filtered:
            padded = self.new_signal(self.file_samples)
            padded.data[:] = y
            del y
            y = self._filtfilt(padded)
        out = self._pick(y)
        del y
        return standardise(out)

    # ------------------------------------------------------------------ literal pieces
    def _filtfilt(self, x: PaddedSignal) -> np.ndarray:
        """``scipy.signal.filtfilt(b, a, x)`` (odd padding, padlen 15), computed inside x's buffer.

        Both passes run block by block, each block's output written over its input, with
        ``lfilter``'s final state handed to the next block: the same recursion on the same
        numbers, so the same bits, without the two night-long arrays filtfilt allocates.
        """
        edge, n, buffer = x.edge, x.n, x.buffer
        assert buffer is not None and n > edge
        x.buffer = None
        data = buffer[edge : edge + n]
        buffer[:edge] = 2 * data[0] - data[edge:0:-1]
        buffer[edge + n :] = 2 * data[-1] - data[-2 : -(edge + 2) : -1]
        for view in (buffer, buffer[::-1]):  # forward, then backward over the forward output
            state = self.zi * view[0]
            for start in range(0, view.shape[0], _BLOCK):
                view[start : start + _BLOCK], state = signal.lfilter(
                    self.b, self.a, view[start : start + _BLOCK], zi=state
                )
        return data

    def _pick(self, y: np.ndarray) -> np.ndarray:
        """Step 3: the file-rate signal at the output grid, as a new contiguous array."""
        if self.step is not None:
            # Contiguous, as np.interp's result is: the z-score's sums then run in the same order.
            return np.ascontiguousarray(y[:: self.step][: self.n_out])
        with self._lock:
            if self._grids is None:
                self._grids = grids(self.file_samples, self.file_rate, self.target)
        old, new = self._grids
        return np.interp(new, old, y)

    # ------------------------------------------------------------------ spectral path
    def _spectral_applies(self, n: int) -> bool:
        if not self.filtered or self.step is None:
            return False
        out_len = self.file_samples // self.step
        # The channel's spectrum must fit below the output grid's Nyquist frequency, and the
        # two end segments must not meet.
        return n < out_len and 2 * self.edge_length < self.file_samples and self.n_out <= out_len

    def _spectral(self, x: np.ndarray) -> np.ndarray:
        n, big, step = x.shape[0], self.file_samples, self.step
        assert step is not None
        spectrum = fft.rfft(x)
        if n % 2 == 0:
            spectrum[n // 2] *= 0.5
        spectrum *= float(big) / float(n)  # now exactly MNE's upsampling spectrum

        keep, length = self.edge_keep, self.edge_length
        ends = self._evaluate(spectrum, start=big - length, count=2 * length)
        tail = signal.filtfilt(self.b, self.a, ends[:length])[length - keep :]
        head = signal.filtfilt(self.b, self.a, ends[length:])[:keep]

        out = fft.irfft(spectrum * self._gain(n), big // step)
        out[: keep // step] = head[::step]
        first_tail = (big - keep) // step
        out[first_tail:] = tail[::step]
        return np.ascontiguousarray(out[: self.n_out])

    def _gain(self, n: int) -> np.ndarray:
        """``|H|²`` of the low-pass at the channel's FFT bins (file-rate frequencies), over ``step``."""
        with self._lock:
            gain = self._gains.get(n)
            if gain is None:
                omega = 2 * np.pi * np.arange(n // 2 + 1) / self.file_samples
                _, response = signal.freqz(self.b, self.a, worN=omega)
                gain = (response.real**2 + response.imag**2) / self.step
                self._gains[n] = gain
        return gain

    def _chirp(self, m: np.ndarray) -> np.ndarray:
        """``exp(iπ m² / N)`` with the phase reduced exactly in integers first."""
        big = self.file_samples
        return np.exp(1j * np.pi * ((m * m) % (2 * big)) / big)

    def _kernel(self, bins: int, start: int, count: int) -> tuple[int, np.ndarray, np.ndarray]:
        """FFT of the chirp kernel, and the per-bin factors (start shift × chirp), for ``bins`` bins."""
        key = (bins, start, count)
        with self._lock:
            cached = self._kernels.get(key)
            if cached is None:
                big = self.file_samples
                size = fft.next_fast_len(bins + count - 1)
                h = np.zeros(size, dtype=np.complex128)
                h[:count] = np.conj(self._chirp(np.arange(count, dtype=np.int64)))
                h[size - (bins - 1) :] = np.conj(self._chirp(np.arange(bins - 1, 0, -1, dtype=np.int64)))
                k = np.arange(bins, dtype=np.int64)
                factors = self._chirp(k)
                if start % big:
                    factors *= np.exp(2j * np.pi * (((start % big) * k) % big) / big)
                cached = (size, fft.fft(h), factors)
                self._kernels[key] = cached
        return cached

    def _evaluate(self, spectrum: np.ndarray, *, start: int, count: int) -> np.ndarray:
        """``irfft(spectrum, N)[start : start + count]`` (indices mod N) without the full inverse FFT.

        Bluestein's identity ``jk = (j² + k² - (k-j)²) / 2`` turns the sum over bins into one
        convolution of length ≈ bins + count.
        """
        big = self.file_samples
        bins = spectrum.shape[0]
        size, kernel, factors = self._kernel(bins, start, count)
        weights = factors * spectrum
        weights[0] = 0.5 * spectrum[0].real * factors[0]  # irfft uses the real part of bin 0, once
        convolved = fft.ifft(fft.fft(weights, size) * kernel)[:count]
        values = self._chirp(np.arange(count, dtype=np.int64)) * convolved
        return (2.0 / big) * values.real
