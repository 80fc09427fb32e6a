"""The fast resampler equals the published steps bit for bit in float16, on every path it takes."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import fft, signal

from sleepfm.resample.fast import PaddedSignal, Resampler
from sleepfm.resample.published import fft_upsample, published_resample


def _channel(rng: np.random.Generator, n: int) -> np.ndarray:
    # Quantised like EDF data (integers times a gain), in volts like MNE's values.
    walk = np.cumsum(rng.standard_normal(n)) * 0.05 + rng.standard_normal(n)
    return np.round(walk * 100) * 1e-8


# (file rate, channel rates, seconds): power-of-two files (sub-grid picking and the spectral
# path), files at and below 128 Hz (no filter), and rates whose grids do not line up.
CASES = [
    (256, (256, 32, 1), 600), (512, (512, 256, 64, 8), 300), (1024, (1024, 128, 2), 120),
    (200, (200, 100, 50, 1), 300), (250, (250, 25), 300), (100, (100, 1), 300), (128, (128, 16), 300),
    (256, (32,), 40), (256, (256, 32), 6),
]


@pytest.mark.parametrize(("file_rate", "rates", "seconds"), CASES)
def test_equals_the_published_steps_in_float16(file_rate: int, rates: tuple[int, ...], seconds: int) -> None:
    rng = np.random.default_rng(file_rate + seconds)
    n_file = file_rate * seconds
    resampler = Resampler(file_rate, n_file)
    for rate in rates:
        x = _channel(rng, rate * seconds)
        ours = resampler(x, dtype=np.float16)
        published = published_resample(x, n_file, file_rate).astype(np.float16)
        assert ours.shape == published.shape == (128 * seconds,)
        np.testing.assert_array_equal(ours, published, err_msg=f"{rate} Hz channel of a {file_rate} Hz file")


def test_the_spectral_path_is_taken_where_it_applies() -> None:
    resampler = Resampler(256, 256 * 600)
    assert resampler.step == 2 and resampler.spectral is not None
    assert resampler.spectral.applies(32 * 600, resampler.n_out) and resampler.spectral.applies(600, resampler.n_out)
    assert not resampler.spectral.applies(128 * 600, resampler.n_out)  # not below the output Nyquist
    assert Resampler(200, 200 * 60).spectral is None  # 128 Hz points are not on the 200 Hz grid
    assert Resampler(100, 100 * 60).step is None and not Resampler(100, 100 * 60).filtered


@pytest.mark.parametrize("value", [12.489509422446006e-06, 0.0, -3.5])
def test_constant_channels_match_the_published_rounding(value: float) -> None:
    # The published z-score turns float64 rounding of a constant into float16 values
    # (the reference file's flat channel holds 0 and -1.414); it must come out the same.
    n_file = 256 * 600
    x = np.full(32 * 600, value)
    ours = Resampler(256, n_file)(x, dtype=np.float16)
    np.testing.assert_array_equal(ours, published_resample(x, n_file, 256).astype(np.float16))


def test_nearly_constant_channel_matches_too() -> None:
    x = np.full(32 * 300, 1e-3)
    x[1234] += 1e-12
    ours = Resampler(256, 256 * 300)(x, dtype=np.float16)
    np.testing.assert_array_equal(ours, published_resample(x, 256 * 300, 256).astype(np.float16))


def test_in_place_filtfilt_is_scipy_filtfilt_bit_for_bit() -> None:
    rng = np.random.default_rng(7)
    for n in (1_000, (1 << 20) + 12_345, 3 * (1 << 20)):
        resampler = Resampler(512, n)
        x = rng.standard_normal(n)
        padded = resampler.new_signal(n)
        padded.data[:] = x
        resampler._filtfilt(padded)
        np.testing.assert_array_equal(padded.data, signal.filtfilt(resampler.b, resampler.a, x))


def test_end_segments_and_interior_transform_equal_the_full_inverse_fft() -> None:
    rng = np.random.default_rng(3)
    resampler = Resampler(256, 256 * 120)
    spectral = resampler.spectral
    assert spectral is not None
    x = rng.standard_normal(32 * 120)
    spectrum = fft.rfft(x)
    full = fft.irfft(spectrum, 256 * 120)
    ends = spectral._evaluate(spectrum, count=2 * spectral.length)
    np.testing.assert_allclose(ends[: spectral.length], full[-spectral.length :], rtol=0, atol=1e-13)
    np.testing.assert_allclose(ends[spectral.length :], full[: spectral.length], rtol=0, atol=1e-13)
    out = spectral._interior(spectrum / spectral.step, x.shape[0], np.empty(128 * 120))  # irfft scales by 1/len
    np.testing.assert_allclose(out, full[::2], rtol=0, atol=1e-13)


def test_fft_upsample_is_mne_resample() -> None:
    mne_filter = pytest.importorskip("mne.filter")
    x = np.random.default_rng(1).standard_normal(600)
    np.testing.assert_array_equal(fft_upsample(x, 4800), mne_filter.resample(x, 4800, 600, npad=0, verbose=False))


def test_nan_in_gives_nan_out_and_inputs_are_not_modified() -> None:
    x = np.linspace(0, 1, 256 * 30)
    x[100] = np.nan
    assert np.isnan(Resampler(256, 256 * 30)(x)).all()
    y = np.linspace(0, 1, 32 * 30)
    before = y.copy()
    Resampler(256, 256 * 30)(y)
    np.testing.assert_array_equal(y, before)
    assert isinstance(Resampler(256, 256 * 30).new_signal(32 * 30), PaddedSignal)


def test_moments_in_scratch_equal_numpy_mean_and_std() -> None:
    from sleepfm.resample.fast import _moments

    rng = np.random.default_rng(11)
    for n in (1, 7, 129, 8193, 1_000_003):
        buffer = np.empty(2 * n + 5)
        y = buffer[3 : 3 + n]  # deliberately not at the start of the allocation
        y[:] = rng.standard_normal(n) * rng.uniform(1e-6, 1e6) + rng.uniform(-1e3, 1e3)
        mean, std = _moments(y, buffer[3 + n :])
        assert (mean, std) == (y.mean(), y.std())
