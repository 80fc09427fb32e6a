"""The synthetic nights carry the stage-dependent content the demo claims, measured as a scorer would."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import find_peaks, welch

from sleepfm.demo.physiology import Traits
from sleepfm.demo.synth import CHANNELS, synthesize_signals

W, N1, N2, N3, REM = range(5)
RATE = {c.label: c.rate for c in CHANNELS}
# Six epochs of each stage, twice over: 30 minutes.
STAGES = np.repeat(np.tile(np.arange(5), 2), 6)


@pytest.fixture(scope="module")
def night() -> dict[str, np.ndarray]:
    return synthesize_signals(STAGES, Traits(resting_heart_rate=60.0), np.random.default_rng(0))


def epochs(night: dict[str, np.ndarray], label: str, stage: int) -> list[np.ndarray]:
    """The stage's epochs of one channel, minus their first 5 s (stage changes cross-fade)."""
    rate = RATE[label]
    length = 30 * rate
    return [night[label][i * length + 5 * rate:(i + 1) * length] for i in np.flatnonzero(np.equal(STAGES, stage))]


def band_power(night: dict, label: str, stage: int, low: float, high: float, *, relative: bool = True) -> float:
    values = []
    for segment in epochs(night, label, stage):
        freqs, power = welch(segment, RATE[label], nperseg=4 * RATE[label])
        band = power[(freqs >= low) & (freqs < high)].sum()
        values.append(band / power[(freqs >= 0.5) & (freqs <= 30)].sum() if relative else band)
    return float(np.mean(values))


def test_eeg_rhythms_follow_the_stage(night) -> None:
    alpha = [band_power(night, "O2-M1", s, 8, 12) for s in range(5)]
    assert alpha[W] > 0.5 and alpha[W] > 4 * max(alpha[N1:])  # posterior alpha in relaxed Wake
    theta = [band_power(night, "C4-M1", s, 4, 7) for s in range(5)]
    assert theta[N1] > 5 * theta[W] and theta[N1] > 3 * theta[N2] and theta[REM] > 3 * theta[N2]
    sigma = [band_power(night, "C4-M1", s, 12, 15) for s in range(5)]
    assert sigma[N2] > 3 * max(sigma[N1], sigma[N3], sigma[REM])  # spindles
    delta = [band_power(night, "F4-M1", s, 0.5, 2, relative=False) for s in range(5)]
    assert delta[N3] > 5 * delta[N2] > 5 * delta[W]
    # N3 delta exceeds the AASM 75 µV peak-to-peak criterion on the frontal lead.
    assert np.median([np.ptp(e) for e in epochs(night, "F4-M1", N3)]) > 150


def test_k_complexes_in_n2(night) -> None:
    def large_waves(stage: int) -> int:
        # A K-complex is a negative deflection far beyond the background: below -100 µV.
        return sum(len(find_peaks(-e, height=100, distance=256)[0]) for e in epochs(night, "F4-M1", stage))
    assert large_waves(N2) >= 6 and large_waves(N2) > 3 * (large_waves(W) + large_waves(N1) + large_waves(REM))


def test_vertex_sharp_waves_in_n1(night) -> None:
    from scipy.signal import butter, filtfilt

    low, high = butter(2, [2, 8], btype="band", fs=256)

    def sharp_waves(stage: int) -> int:
        return sum(len(find_peaks(-filtfilt(low, high, e), height=45, distance=128)[0])
                   for e in epochs(night, "C4-M1", stage))
    counts = [sharp_waves(s) for s in range(5)]
    assert counts[N1] >= 15 and counts[N1] > 2 * counts[N2] and counts[W] + counts[REM] <= 2


def test_eye_movements(night) -> None:
    def horizontal(stage: int, low: float, high: float) -> float:
        power = []
        for e1, e2 in zip(epochs(night, "E1-M2", stage), epochs(night, "E2-M2", stage), strict=True):
            freqs, p = welch(e2 - e1, 256, nperseg=1024)
            power.append(p[(freqs >= low) & (freqs < high)].sum())
        return float(np.mean(power))
    slow = [horizontal(s, 0.1, 0.6) for s in range(5)]
    assert slow[N1] > 5 * max(slow[N2], slow[N3])  # slow rolling eye movements
    rapid = [horizontal(s, 0.8, 4.0) for s in range(5)]
    assert rapid[REM] > 10 * max(rapid[N2], rapid[N3])  # rapid eye movements
    corr = {s: np.mean([np.corrcoef(a, b)[0, 1] for a, b in zip(epochs(night, "E1-M2", s),
                                                                 epochs(night, "E2-M2", s), strict=True)])
            for s in (N3, REM)}
    assert corr[REM] < -0.5 < 0.5 < corr[N3]  # eye movements anti-phase, frontal delta in phase


def test_chin_atonia_in_rem(night) -> None:
    rms = [np.mean([np.sqrt(np.mean(e**2)) for e in epochs(night, "Chin1-Chin2", s)]) for s in range(5)]
    assert rms[W] > rms[N1] > rms[N2] > rms[N3] > 2 * rms[REM]


def test_heart_and_breathing_rate_by_stage(night) -> None:
    def heart_rate(stage: int) -> float:
        rates = []
        for segment in epochs(night, "ECG", stage):
            peaks, _ = find_peaks(segment, height=0.6, distance=int(0.3 * 256))
            rates.append(60 * 256 / np.mean(np.diff(peaks)))
        return float(np.mean(rates))

    def breathing_rate(stage: int) -> float:
        rates = []
        for segment in epochs(night, "Thor", stage):
            peaks, _ = find_peaks(segment, distance=2 * 32, prominence=80)
            rates.append(60 * 32 / np.mean(np.diff(peaks)))
        return float(np.mean(rates))

    hr = [heart_rate(s) for s in range(5)]
    assert hr[W] > hr[N2] > hr[N3] and hr[REM] > hr[N2] and 57 < hr[N2] < 63
    br = [breathing_rate(s) for s in range(5)]
    assert br[W] > br[N3] + 1.5 and br[REM] > br[N3] + 1.5
    thorax_share = {s: np.mean([a.std() / b.std() for a, b in zip(epochs(night, "Thor", s), epochs(night, "Abdo", s),
                                                                   strict=True)]) for s in (N2, REM)}
    assert thorax_share[REM] < 0.7 * thorax_share[N2]


def test_units_and_ranges(night) -> None:
    for channel in CHANNELS:
        values = night[channel.label]
        assert values.size == STAGES.size * 30 * channel.rate
        low, high = channel.physical_range
        assert np.mean((values > low) & (values < high)) > 0.999, channel.label
    assert set(np.unique(night["SpO2"])) <= set(range(85, 101))
