"""Butterworth low-pass design and IIR filtering, without importing ``scipy.signal``.

Why this module exists: ``import scipy.signal`` takes about a second on a 2-core machine
(it imports ``scipy.stats`` and the window functions), which is a third of the time
``sleepfm preprocess`` needs for a whole 8-hour night. The preprocessing path only needs
a Butterworth design, ``lfilter`` with an initial state, its steady-state ``zi`` and a
frequency response. The design and ``zi`` are textbook formulas computed here with NumPy;
the recursion itself is scipy's compiled ``_linear_filter``, loaded from its extension
module without running the ``scipy.signal`` package initialiser (falling back to the
normal import if that ever fails). ``tests/test_resample_iir.py`` checks every function
against ``scipy.signal``.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

_linear_filter: Callable[..., tuple[np.ndarray, np.ndarray]] | None = None


def _load_linear_filter() -> Callable[..., tuple[np.ndarray, np.ndarray]]:
    """scipy's compiled direct-form II transposed filter, imported as cheaply as possible."""
    global _linear_filter
    if _linear_filter is not None:
        return _linear_filter
    if "scipy.signal" not in sys.modules:
        try:
            spec = importlib.util.find_spec("scipy.signal")  # imports ``scipy`` only (cheap)
            folders = list(spec.submodule_search_locations or []) if spec else []
            for folder in folders:
                for suffix in importlib.machinery.EXTENSION_SUFFIXES:
                    path = Path(folder) / f"_sigtools{suffix}"
                    if path.is_file():
                        # The extension's init function is found from the module name, so
                        # the name must be scipy's; the module is not put in sys.modules,
                        # and a later ``import scipy.signal`` reuses the loaded library.
                        loader = importlib.machinery.ExtensionFileLoader("scipy.signal._sigtools", str(path))
                        module_spec = importlib.util.spec_from_file_location(
                            "scipy.signal._sigtools", path, loader=loader)
                        if module_spec is None:
                            continue
                        module = importlib.util.module_from_spec(module_spec)
                        loader.exec_module(module)
                        _linear_filter = module._linear_filter
                        return _linear_filter
        except (ImportError, AttributeError, OSError):
            pass
    from scipy.signal import _sigtools  # the slow but supported way

    _linear_filter = _sigtools._linear_filter
    return _linear_filter


def butter_lowpass(order: int, cutoff: float) -> tuple[np.ndarray, np.ndarray]:
    """Digital Butterworth low-pass ``(b, a)``, as ``scipy.signal.butter(order, cutoff)``.

    ``cutoff`` is a fraction of the Nyquist frequency, in (0, 1). The analogue prototype's
    poles sit evenly on the left half of the unit circle; they are scaled to the
    pre-warped cutoff and mapped to the z-plane by the bilinear transform (sampling rate 2,
    as scipy normalises it), which puts every zero at z = -1.
    """
    if not 0 < cutoff < 1:
        raise ValueError(f"cutoff must lie strictly between 0 and 1 (a fraction of Nyquist), got {cutoff}")
    if order < 1:
        raise ValueError(f"order must be at least 1, got {order}")
    two_fs = 4.0  # 2 × the normalised sampling rate of 2
    warped = two_fs * np.tan(np.pi * cutoff / 2.0)
    m = np.arange(-order + 1, order, 2)
    analogue_poles = -np.exp(1j * np.pi * m / (2 * order)) * warped
    gain = warped**order  # of the scaled all-pole prototype
    poles = (two_fs + analogue_poles) / (two_fs - analogue_poles)
    gain = gain * np.real(1.0 / np.prod(two_fs - analogue_poles))
    b = gain * np.poly(-np.ones(order))
    a = np.poly(poles)
    return np.asarray(b.real, dtype=np.float64), np.asarray(a.real, dtype=np.float64)


def _normalised(b: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``b``, ``a`` as float64 of equal length with ``a[0] == 1``."""
    b = np.atleast_1d(np.asarray(b, dtype=np.float64))
    a = np.atleast_1d(np.asarray(a, dtype=np.float64))
    if a[0] == 0:
        raise ValueError("the filter's leading denominator coefficient a[0] must not be 0")
    if a[0] != 1.0:
        b, a = b / a[0], a / a[0]
    n = max(len(a), len(b))
    return np.pad(b, (0, n - len(b))), np.pad(a, (0, n - len(a)))


def lfilter_zi(b: np.ndarray, a: np.ndarray) -> np.ndarray:
    """The filter state that a constant input of 1 would have reached (``scipy.signal.lfilter_zi``).

    In steady state the transposed direct-form state satisfies ``z = A z + B`` with ``A``
    the transposed companion matrix of ``a`` and ``B = b[1:] - a[1:] b[0]``.
    """
    b, a = _normalised(b, a)
    n = len(a) - 1
    companion = np.zeros((n, n))
    companion[0, :] = -a[1:]
    companion[np.arange(1, n), np.arange(n - 1)] = 1.0
    return np.linalg.solve(np.eye(n) - companion.T, b[1:] - a[1:] * b[0])


def lfilter(b: np.ndarray, a: np.ndarray, x: np.ndarray, zi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``scipy.signal.lfilter(b, a, x, zi=zi)`` for a 1-D float64 ``x``: (output, final state)."""
    b, a = _normalised(b, a)
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"lfilter here takes a 1-D signal, got shape {x.shape}")
    return _load_linear_filter()(b, a, x, -1, np.asarray(zi, dtype=np.float64))


def filtfilt(b: np.ndarray, a: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Zero-phase filtering as ``scipy.signal.filtfilt(b, a, x)`` with its defaults.

    The signal is extended at each end by ``3 × max(len(a), len(b))`` samples mirrored
    through the end value (odd extension), filtered forward from the steady state scaled
    to the first sample, then backward likewise, and the extension is cut off.
    """
    x = np.asarray(x, dtype=np.float64)
    edge = 3 * max(len(np.atleast_1d(a)), len(np.atleast_1d(b)))
    if x.ndim != 1 or x.shape[0] <= edge:
        raise ValueError(f"filtfilt needs a 1-D signal longer than {edge} samples, got shape {x.shape}")
    extended = np.concatenate((2 * x[0] - x[edge:0:-1], x, 2 * x[-1] - x[-2 : -(edge + 2) : -1]))
    zi = lfilter_zi(b, a)
    forward, _ = lfilter(b, a, extended, zi * extended[0])
    backward, _ = lfilter(b, a, forward[::-1], zi * forward[-1])
    return backward[::-1][edge:-edge]


def frequency_response(b: np.ndarray, a: np.ndarray, omega: np.ndarray) -> np.ndarray:
    """``H(e^{jω})`` at the angular frequencies ``omega`` (rad/sample), as ``scipy.signal.freqz``."""
    z_inverse = np.exp(-1j * np.asarray(omega, dtype=np.float64))
    numerator = np.polynomial.polynomial.polyval(z_inverse, np.atleast_1d(b))
    denominator = np.polynomial.polynomial.polyval(z_inverse, np.atleast_1d(a))
    return numerator / denominator
