"""The spectral shortcut for channels below the file's rate (see :mod:`sleepfm.resample.fast`).

The published converter FFT-upsamples such a channel to the file's rate ``N`` samples
long, low-passes it with ``filtfilt`` and keeps every ``step``-th sample. The upsampled
signal is a trigonometric polynomial with the channel's ``n // 2 + 1`` FFT bins. Away from
the ends of the night ``filtfilt`` multiplies each bin by the filter's squared magnitude,
and keeping every ``step``-th sample is an inverse FFT of length ``N / step``; near the
ends, the polynomial is evaluated at full rate on a few hundred samples and filtered
exactly as published. :class:`SpectralPath` holds what the channels of one file share.
"""

from __future__ import annotations

import threading

import numpy as np
from scipy import fft

from sleepfm.resample.iir import filtfilt, frequency_response

# Rows of the short inverse transforms done per call: bounds their temporaries to ~8 MB.
_BATCH_BYTES = 8 << 20


class SpectralPath:
    """The spectral computation for one file: ``N`` samples at the file rate, kept every ``step``.

    ``keep`` samples at each end come from the exact full-rate computation, on segments of
    ``length`` samples (``keep`` plus room for the filter's start-up to die out).
    """

    def __init__(self, big: int, step: int, b: np.ndarray, a: np.ndarray, keep: int, length: int) -> None:
        self.big, self.step, self.b, self.a = big, step, b, a
        self.keep, self.length = keep, length
        self._lock = threading.Lock()
        self._gains: dict[int, np.ndarray] = {}
        self._kernels: dict[int, tuple[int, np.ndarray, np.ndarray]] = {}
        self._shifts: dict[int, list[np.ndarray]] = {}

    def applies(self, n: int, n_out: int) -> bool:
        """Whether a channel of ``n`` samples can take this path."""
        short = self.big // self.step
        # The channel's spectrum must fit below the output grid's Nyquist frequency, and the
        # two end segments must not meet.
        return n < short and 2 * self.length < self.big and n_out <= short

    def __call__(self, x: np.ndarray, out: np.ndarray) -> np.ndarray:
        """The published steps 1-3 for ``x`` (own rate), written into ``out[:N / step]``."""
        n, big, step = x.shape[0], self.big, self.step
        spectrum = fft.rfft(x)
        if n % 2 == 0:
            spectrum[n // 2] *= 0.5
        spectrum *= float(big) / float(n)  # now exactly MNE's upsampling spectrum

        keep, length = self.keep, self.length
        ends = self._evaluate(spectrum, count=2 * length)
        tail = filtfilt(self.b, self.a, ends[:length])[length - keep :]
        head = filtfilt(self.b, self.a, ends[length:])[:keep]

        short = big // step
        result = self._interior(spectrum * self._gain(n), n, out[:short])
        result[: keep // step] = head[::step]
        result[(big - keep) // step :] = tail[::step]
        return result

    # ------------------------------------------------------------------ interior
    def _gain(self, n: int) -> np.ndarray:
        """``|H|²`` of the low-pass at the channel's bins (file-rate frequencies), over ``step``."""
        with self._lock:
            gain = self._gains.get(n)
            if gain is None:
                omega = 2 * np.pi * np.arange(n // 2 + 1) / self.big
                response = frequency_response(self.b, self.a, omega)
                gain = (response.real**2 + response.imag**2) / self.step
                self._gains[n] = gain
        return gain

    def _interior(self, spectrum: np.ndarray, n: int, out: np.ndarray) -> np.ndarray:
        """``irfft(spectrum, len(out))`` into ``out``, for a spectrum of ``n // 2 + 1`` bins.

        When ``len(out)`` is a multiple ``u`` of ``n``, output sample ``u*q + p`` is sample
        ``q`` of an ``n``-point inverse FFT of the spectrum turned by ``p / len(out)`` of a
        cycle per bin: ``u`` short transforms instead of one long zero-padded one.
        """
        size = out.shape[0]
        factor, rest = divmod(size, n)
        if rest or factor < 2:
            out[:] = fft.irfft(spectrum, size)
            return out
        powers = self._shift_powers(n, factor, size)
        phases = out.reshape(n, factor)
        bins = spectrum.shape[0]
        rows = max(1, _BATCH_BYTES // (16 * bins))
        for first in range(0, factor, rows):
            count = min(rows, factor - first)
            turned = np.empty((count, bins), dtype=np.complex128)
            for row, p in zip(turned, range(first, first + count), strict=True):
                row[:] = spectrum
                for bit, power in enumerate(powers):  # turn by p / size: the set bits of p
                    if p >> bit & 1:
                        row *= power
            if n % 2 == 0:
                # Bin n/2 is an ordinary bin of the long transform (counted for ±frequency) but
                # the Nyquist bin of the short one (counted once).
                turned[:, n // 2] *= 2
            np.multiply(fft.irfft(turned, n, axis=-1).T, 1.0 / factor, out=phases[:, first : first + count])
        return out

    def _shift_powers(self, n: int, factor: int, size: int) -> list[np.ndarray]:
        """``exp(2πi k 2^j / size)`` for ``k ≤ n/2`` and ``2^j < factor``, phases reduced exactly in integers.

        A turn by ``p`` multiplies the powers of ``p``'s set bits: at most log2(factor)
        roundings, from a table of log2(factor) rows instead of factor rows.
        """
        with self._lock:
            powers = self._shifts.get(n)
            if powers is None:
                k = np.arange(n // 2 + 1, dtype=np.int64)
                powers = [np.exp(2j * np.pi * ((k << bit) % size) / size) for bit in range(factor.bit_length())
                          if 1 << bit < factor]
                self._shifts[n] = powers
        return powers

    # ------------------------------------------------------------------ ends
    def _chirp(self, m: np.ndarray) -> np.ndarray:
        """``exp(iπ m² / N)`` with the phase reduced exactly in integers first."""
        big = self.big
        return np.exp(1j * np.pi * ((m * m) % (2 * big)) / big)

    def _kernel(self, bins: int, count: int) -> tuple[int, np.ndarray, np.ndarray]:
        """Transform size, FFT of the chirp kernel and per-bin factors for ``bins`` bins."""
        with self._lock:
            cached = self._kernels.get(bins)
            if cached is None:
                big = self.big
                size = fft.next_fast_len(bins + count - 1)
                h = np.zeros(size, dtype=np.complex128)
                h[:count] = np.conj(self._chirp(np.arange(count, dtype=np.int64)))
                h[size - (bins - 1) :] = np.conj(self._chirp(np.arange(bins - 1, 0, -1, dtype=np.int64)))
                k = np.arange(bins, dtype=np.int64)
                start = big - count // 2  # the tail segment starts N - length samples in
                factors = self._chirp(k) * np.exp(2j * np.pi * ((start * k) % big) / big)
                cached = (size, fft.fft(h), factors)
                self._kernels[bins] = cached
        return cached

    def _evaluate(self, spectrum: np.ndarray, *, count: int) -> np.ndarray:
        """``irfft(spectrum, N)`` at the last ``count/2`` and first ``count/2`` samples, in that order.

        Bluestein's identity ``jk = (j² + k² - (k-j)²) / 2`` turns the sum over bins into one
        convolution of length ≈ bins + count instead of an inverse FFT of length N.
        """
        size, kernel, factors = self._kernel(spectrum.shape[0], count)
        weights = factors * spectrum
        weights[0] = 0.5 * spectrum[0].real * factors[0]  # irfft uses the real part of bin 0, once
        convolved = fft.ifft(fft.fft(weights, size) * kernel)[:count]
        values = self._chirp(np.arange(count, dtype=np.int64)) * convolved
        return (2.0 / self.big) * values.real
