"""The scipy.signal-free filter functions equal scipy.signal's, and keep the import cheap."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from scipy import signal

from sleepfm.resample import iir


@pytest.mark.parametrize("file_rate", [129.0, 200.0, 250.0, 256.0, 500.0, 512.0, 1000.0, 2048.0])
@pytest.mark.parametrize("order", [1, 2, 4, 5])
def test_butterworth_design_equals_scipy(file_rate: float, order: int) -> None:
    cutoff = 64.0 / (file_rate / 2)
    b, a = iir.butter_lowpass(order, cutoff)
    b_ref, a_ref = signal.butter(order, cutoff, "low")
    np.testing.assert_allclose(b, b_ref, rtol=1e-13, atol=0)
    np.testing.assert_allclose(a, a_ref, rtol=1e-13, atol=1e-15)


def test_the_anti_alias_filter_is_scipys_bit_for_bit() -> None:
    # The filter the converter uses (order 4, 64 Hz at the common file rates) must not move
    # by a single bit: the stored float16 values are compared bit for bit with the published ones.
    for file_rate in (200.0, 256.0, 500.0, 512.0):
        b, a = iir.butter_lowpass(4, 64.0 / (file_rate / 2))
        b_ref, a_ref = signal.butter(4, 64.0 / (file_rate / 2), "low")
        assert np.array_equal(b, b_ref) and np.array_equal(a, a_ref)


def test_steady_state_filtering_and_response_equal_scipy() -> None:
    b, a = signal.butter(4, 0.5)
    np.testing.assert_allclose(iir.lfilter_zi(b, a), signal.lfilter_zi(b, a), rtol=1e-12)
    x = np.random.default_rng(3).standard_normal(50_000).cumsum()
    zi = signal.lfilter_zi(b, a) * x[0]
    out, state = iir.lfilter(b, a, x, zi)
    out_ref, state_ref = signal.lfilter(b, a, x, zi=zi)
    assert np.array_equal(out, out_ref) and np.array_equal(state, state_ref)
    assert np.array_equal(iir.filtfilt(b, a, x), signal.filtfilt(b, a, x))
    omega = np.linspace(0, np.pi, 513)
    np.testing.assert_allclose(iir.frequency_response(b, a, omega), signal.freqz(b, a, worN=omega)[1],
                               rtol=1e-12, atol=1e-14)


def test_bad_arguments_are_refused_with_the_reason() -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        iir.butter_lowpass(4, 1.2)
    with pytest.raises(ValueError, match="longer than 15"):
        iir.filtfilt(*signal.butter(4, 0.5), np.ones(10))


def test_the_preprocessing_path_does_not_import_scipy_signal() -> None:
    # ``import scipy.signal`` costs about a second, a third of converting a night.
    code = ("import sys, numpy as np, sleepfm.preprocessing.batch\n"
            "from sleepfm.resample.fast import Resampler\n"
            "x = np.random.default_rng(0).standard_normal(256 * 60)\n"
            "Resampler(256.0, x.size)(x)\n"
            "print('scipy.signal' in sys.modules, 'scipy.stats' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "False"]
