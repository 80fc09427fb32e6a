"""Stage-dependent PSG signals: what each channel shows in Wake, N1, N2, N3 and REM.

Per-stage tables are ordered W, N1, N2, N3, REM. Amplitudes are RMS values in the channel's
physical unit (µV, mV, %). The patterns are the textbook (AASM) ones:

* EEG: posterior **alpha** (8–12 Hz) in relaxed Wake; **theta** (4–7 Hz) and central
  **vertex sharp waves** in N1; theta as saw-tooth waves in REM; **spindles** (11–15 Hz
  bursts of 0.5–1.5 s) and **K-complexes** (a sharp negative wave then a slower positive
  one, >100 µV, frontal) in N2; high-amplitude
  **delta** (0.5–2 Hz, > 75 µV peak to peak, frontal) in N3;
* EOG: blinks and saccades in Wake, **slow rolling** eye movements in N1, quiet in N2/N3
  (apart from frontal delta picked up by both eye leads), **rapid eye movements** in bursts
  in REM. Horizontal movements appear with opposite signs on E1 and E2;
* chin EMG: tonic activity falling from Wake to N3 and **atonia** in REM, with brief twitches;
* leg EMG: movements in Wake and light sleep;
* ECG: PQRST beats at a heart rate set by the subject's resting rate and the stage (faster
  and more variable in Wake and REM, slowest in N3), with respiratory sinus arrhythmia;
* respiration: breathing rate and regularity by stage (regular and slow in N3, irregular in
  REM, where the thoracic belt loses amplitude); airflow is the derivative of volume;
* SpO2: a subject baseline with small drifts and shallow dips in REM.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from sleepfm.demo.waveforms import (
    Timeline,
    add_events,
    band_noise,
    burst,
    event_times,
    phase_from_rate,
    pink_noise,
    slow_wander,
)


@dataclass(frozen=True)
class Traits:
    """What makes one participant's nights theirs."""

    resting_heart_rate: float = 62.0  # beats/min in N2
    breathing_rate: float = 14.0  # breaths/min in N2
    spo2_baseline: float = 96.5  # %
    alpha_frequency: float = 10.0  # Hz
    eeg_gain: float = 1.0  # skull thickness, electrode impedance


# ------------------------------------------------------------------------------- EEG
BACKGROUND = (7.0, 9.0, 10.0, 10.0, 8.0)
ALPHA = (18.0, 3.0, 1.0, 0.5, 2.5)
THETA = (2.5, 13.0, 5.0, 4.0, 9.0)
DELTA = (2.0, 4.0, 10.0, 42.0, 3.0)
SPINDLES_PER_MIN = (0.0, 0.3, 7.0, 2.0, 0.0)
K_COMPLEXES_PER_MIN = (0.0, 0.2, 2.5, 0.3, 0.0)
VERTEX_WAVES_PER_MIN = (0.0, 6.0, 0.8, 0.0, 0.0)
#: Site gains for (background, alpha, theta, delta, spindles, K-complexes, vertex waves).
EEG_SITES: dict[str, tuple[float, ...]] = {
    "F4-M1": (1.0, 0.5, 1.0, 1.25, 0.9, 1.3, 0.6),
    "C4-M1": (1.0, 0.8, 1.1, 1.0, 1.2, 1.0, 1.0),
    "O2-M1": (0.9, 1.5, 0.8, 0.8, 0.7, 0.7, 0.3),
}


@dataclass(frozen=True)
class BrainSources:
    """Cortical rhythms shared by all EEG sites (and leaking into the EOG), µV at gain 1."""

    alpha: np.ndarray
    theta: np.ndarray
    delta: np.ndarray
    spindles: np.ndarray
    k_complexes: np.ndarray
    vertex_waves: np.ndarray


def brain_sources(timeline: Timeline, rate: float, traits: Traits, rng: np.random.Generator) -> BrainSources:
    n = timeline.n_samples(rate)
    low, high = traits.alpha_frequency - 1.2, traits.alpha_frequency + 1.2
    alpha = band_noise(n, rate, low, high, rng) * timeline.curve(ALPHA, rate) * slow_wander(n, rate, rng, period=8.0)
    theta = band_noise(n, rate, 4.0, 7.0, rng) * timeline.curve(THETA, rate)
    delta = band_noise(n, rate, 0.5, 2.0, rng) * timeline.curve(DELTA, rate) * slow_wander(n, rate, rng, period=30.0)
    spindles = np.zeros(n, dtype=np.float32)
    add_events(spindles, rate, event_times(timeline.stages, SPINDLES_PER_MIN, rng),
               lambda r: burst(rate, r.uniform(0.5, 1.5), r.uniform(11.5, 14.5), r.uniform(25, 45)), rng)
    k_complexes = np.zeros(n, dtype=np.float32)
    add_events(k_complexes, rate, event_times(timeline.stages, K_COMPLEXES_PER_MIN, rng),
               lambda r: k_complex(rate, r.uniform(90, 160)), rng)
    vertex_waves = np.zeros(n, dtype=np.float32)
    add_events(vertex_waves, rate, event_times(timeline.stages, VERTEX_WAVES_PER_MIN, rng),
               lambda r: vertex_wave(rate, r.uniform(60, 110)), rng)
    return BrainSources(alpha, theta, delta, spindles, k_complexes, vertex_waves)


def k_complex(rate: float, amplitude: float) -> np.ndarray:
    """A sharp negative deflection then a slower positive one, ~1 s (EEG polarity: negative up)."""
    t = np.arange(int(1.2 * rate)) / rate
    wave = -np.exp(-((t - 0.25) / 0.09) ** 2) + 0.6 * np.exp(-((t - 0.65) / 0.18) ** 2)
    return (amplitude * wave).astype(np.float32)


def vertex_wave(rate: float, amplitude: float) -> np.ndarray:
    """A sharp negative wave of about 0.2 s with a small positive rebound, largest at the vertex."""
    t = np.arange(int(0.5 * rate)) / rate
    wave = -np.exp(-((t - 0.12) / 0.04) ** 2) + 0.35 * np.exp(-((t - 0.25) / 0.06) ** 2)
    return (amplitude * wave).astype(np.float32)


def eeg(site: str, sources: BrainSources, timeline: Timeline, rate: float, traits: Traits,
        rng: np.random.Generator) -> np.ndarray:
    """One referential EEG derivation (µV)."""
    g_bg, g_alpha, g_theta, g_delta, g_spindle, g_kc, g_vertex = EEG_SITES[site]
    background = pink_noise(timeline.n_samples(rate), rate, rng) * timeline.curve(BACKGROUND, rate) * g_bg
    signal = (background + g_alpha * sources.alpha + g_theta * sources.theta + g_delta * sources.delta
              + g_spindle * sources.spindles + g_kc * sources.k_complexes + g_vertex * sources.vertex_waves)
    return (traits.eeg_gain * signal).astype(np.float32)


# ------------------------------------------------------------------------------- EOG
BLINKS_PER_MIN = (14.0, 2.0, 0.0, 0.0, 0.0)
SACCADES_PER_MIN = (12.0, 1.0, 0.0, 0.0, 0.0)
SLOW_EYE = (3.0, 45.0, 4.0, 0.0, 3.0)
REMS_PER_MIN = (0.0, 0.0, 0.0, 0.0, 9.0)


def eog(sources: BrainSources, timeline: Timeline, rate: float, rng: np.random.Generator
        ) -> tuple[np.ndarray, np.ndarray]:
    """E1-M2 and E2-M2 (µV): horizontal movements anti-phase, blinks and frontal EEG in phase."""
    n = timeline.n_samples(rate)
    horizontal = band_noise(n, rate, 0.1, 0.6, rng) * timeline.curve(SLOW_EYE, rate)
    steps = np.zeros(n, dtype=np.float32)
    # Saccades and REMs are steps of eye position; the AC-coupled amplifier (0.3 Hz high-pass)
    # turns each into a sharp edge that decays over about half a second.
    for per_min, amp, cluster in ((SACCADES_PER_MIN, 60.0, 1), (REMS_PER_MIN, 130.0, 5)):
        add_events(steps, rate, event_times(timeline.stages, per_min, rng, cluster=cluster),
                   lambda r, a=amp: saccade(rate, a * r.uniform(0.6, 1.3) * r.choice([-1, 1])), rng)
    horizontal += steps
    vertical = np.zeros(n, dtype=np.float32)
    add_events(vertical, rate, event_times(timeline.stages, BLINKS_PER_MIN, rng),
               lambda r: blink(rate, r.uniform(80, 160)), rng)
    common = vertical + 0.35 * sources.delta + 0.15 * sources.k_complexes
    noise = 4.0 * pink_noise(n, rate, rng), 4.0 * pink_noise(n, rate, rng)
    return (common - horizontal + noise[0]).astype(np.float32), (common + horizontal + noise[1]).astype(np.float32)


def saccade(rate: float, amplitude: float) -> np.ndarray:
    t = np.arange(int(1.5 * rate)) / rate
    rise = np.clip(t / 0.06, 0, 1)
    return (amplitude * rise * np.exp(-t / 0.5)).astype(np.float32)


def blink(rate: float, amplitude: float) -> np.ndarray:
    t = np.arange(int(0.4 * rate)) / rate
    return (amplitude * np.sin(np.pi * t / t[-1]) ** 2).astype(np.float32)


# ------------------------------------------------------------------------------- EMG
CHIN_TONE = (22.0, 14.0, 9.0, 7.0, 1.8)
TWITCHES_PER_MIN = (0.0, 0.0, 0.2, 0.0, 8.0)
LEG_MOVES_PER_MIN = (1.5, 0.8, 0.3, 0.05, 0.1)


def chin_emg(timeline: Timeline, rate: float, rng: np.random.Generator) -> np.ndarray:
    """Chin1-Chin2 (µV): tonic activity by stage, atonia with phasic twitches in REM."""
    n = timeline.n_samples(rate)
    tone = band_noise(n, rate, 15.0, min(100.0, rate / 2 - 5), rng) * timeline.curve(CHIN_TONE, rate, 1.0)
    tone *= slow_wander(n, rate, rng, period=20.0)
    add_events(tone, rate, event_times(timeline.stages, TWITCHES_PER_MIN, rng, cluster=3),
               lambda r: burst(rate, r.uniform(0.1, 0.3), r.uniform(40, 70), r.uniform(15, 35)), rng)
    return (tone + 0.8 * band_noise(n, rate, 10.0, rate / 2 - 5, rng)).astype(np.float32)


def leg_emg(timeline: Timeline, rate: float, rng: np.random.Generator) -> np.ndarray:
    """Leg L (µV): a quiet tibialis with movements in Wake and light sleep."""
    n = timeline.n_samples(rate)
    signal = 2.5 * band_noise(n, rate, 10.0, rate / 2 - 5, rng)
    add_events(signal, rate, event_times(timeline.stages, LEG_MOVES_PER_MIN, rng),
               lambda r: burst(rate, r.uniform(0.5, 4.0), r.uniform(30, 50), r.uniform(30, 80)), rng)
    return signal.astype(np.float32)


# ------------------------------------------------------------------------------- ECG
HEART_RATE_OFFSET = (7.0, 3.0, 0.0, -3.0, 4.0)  # beats/min relative to the N2 resting rate
HEART_RATE_VARIABILITY = (3.0, 2.0, 1.2, 0.6, 3.5)  # beats/min of slow fluctuation
BREATHING_OFFSET = (2.0, 1.0, 0.0, -0.8, 2.5)
BREATHING_VARIABILITY = (1.5, 1.0, 0.5, 0.15, 2.5)
BREATH_DEPTH = (1.0, 0.9, 1.0, 1.15, 0.85)
THORAX_SHARE = (1.0, 1.0, 1.0, 1.0, 0.55)  # intercostal atonia in REM


def breathing_phase(timeline: Timeline, rate: float, traits: Traits, rng: np.random.Generator) -> np.ndarray:
    """Breath cycles elapsed at each sample (float64), from the stage-dependent breathing rate."""
    n = timeline.n_samples(rate)
    per_minute = traits.breathing_rate + timeline.curve(BREATHING_OFFSET, rate, smooth_seconds=10.0)
    variability = timeline.curve(BREATHING_VARIABILITY, rate, 10.0)
    per_minute = per_minute + variability * band_noise(n, rate, 0.0, 0.05, rng)
    return phase_from_rate(np.maximum(per_minute, 6.0), rate)


def ecg(timeline: Timeline, rate: float, traits: Traits, breaths: np.ndarray, rng: np.random.Generator
        ) -> np.ndarray:
    """A lead-II-like ECG (mV). ``breaths`` is :func:`breathing_phase` at this rate."""
    n = timeline.n_samples(rate)
    bpm = traits.resting_heart_rate + timeline.curve(HEART_RATE_OFFSET, rate, smooth_seconds=10.0)
    bpm = bpm + timeline.curve(HEART_RATE_VARIABILITY, rate, smooth_seconds=10.0) * band_noise(n, rate, 0.0, 0.03, rng)
    bpm = bpm + 2.5 * np.sin(2 * np.pi * breaths)  # respiratory sinus arrhythmia
    beats_elapsed = phase_from_rate(np.maximum(bpm, 35.0), rate)
    onsets = np.flatnonzero(np.diff(np.floor(beats_elapsed)) > 0)
    signal = np.zeros(n, dtype=np.float32)
    rr_all = np.diff(onsets, append=onsets[-1] + int(rate * 60.0 / float(bpm[-1]))) / rate if onsets.size else []
    for onset, rr in zip(onsets, rr_all, strict=True):
        start = max(onset - int(0.25 * rate), 0)
        # Beats are drawn from templates cached per 10 ms of RR interval.
        shape = pqrst(rate, round(float(rr), 2))
        stop = min(start + shape.size, n)
        signal[start:stop] += shape[: stop - start]
    wander = 0.08 * np.sin(2 * np.pi * breaths)
    return (signal + wander + 0.015 * band_noise(n, rate, 0.5, 40.0, rng)).astype(np.float32)


@lru_cache(maxsize=512)
def pqrst(rate: float, rr: float) -> np.ndarray:
    """One beat as a sum of Gaussians; the R peak sits 0.25 s in; QT scales with √RR (Bazett)."""
    t = np.arange(int(0.25 * rate + 0.75 * rr * rate)) / rate - 0.25
    qt = 0.4 * np.sqrt(rr)
    waves = ((0.12, -0.17, 0.025), (-0.12, -0.03, 0.009), (1.1, 0.0, 0.011), (-0.25, 0.035, 0.011),
             (0.3, qt - 0.12, 0.045))
    return sum(a * np.exp(-(((t - mu) / sd) ** 2) / 2) for a, mu, sd in waves).astype(np.float32)


# ------------------------------------------------------------------------------- respiration
def respiration(timeline: Timeline, rate: float, traits: Traits, breaths: np.ndarray,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Thor and Abdo belts and oronasal Airflow (µV), from the breathing phase at this rate."""
    n = timeline.n_samples(rate)
    depth = timeline.curve(BREATH_DEPTH, rate, smooth_seconds=10.0) * slow_wander(n, rate, rng, period=20.0)
    irregular = timeline.curve(BREATHING_VARIABILITY, rate, smooth_seconds=10.0) / 2.5
    depth = depth * (1 + 0.25 * irregular * band_noise(n, rate, 0.0, 0.2, rng))
    # Inspiration is shorter than expiration: a second harmonic skews the cycle.
    volume = np.sin(2 * np.pi * breaths) + 0.25 * np.sin(4 * np.pi * breaths - 0.6)
    volume = (depth * volume).astype(np.float32)
    thorax = 300.0 * timeline.curve(THORAX_SHARE, rate, 10.0) * volume + 15.0 * band_noise(n, rate, 0.05, 2.0, rng)
    abdomen = 320.0 * np.roll(volume, int(0.15 * rate)) + 15.0 * band_noise(n, rate, 0.05, 2.0, rng)
    flow = np.gradient(volume) * rate / (2 * np.pi * traits.breathing_rate / 60)
    airflow = 200.0 * flow + 10.0 * band_noise(n, rate, 0.05, min(5.0, rate / 2 - 1), rng)
    return thorax.astype(np.float32), abdomen.astype(np.float32), airflow.astype(np.float32)


REM_DESATURATION = (0.0, 0.0, 0.2, 0.0, 1.2)  # % below baseline


def spo2(timeline: Timeline, rate: float, traits: Traits, rng: np.random.Generator) -> np.ndarray:
    """Pulse-oximeter saturation (%), integer-valued like a real oximeter's output."""
    n = timeline.n_samples(rate)
    drift = 0.5 * band_noise(n, rate, 0.0, 0.02, rng)
    level = traits.spo2_baseline - timeline.curve(REM_DESATURATION, rate, 20.0) + drift
    return np.clip(np.round(level), 70, 100).astype(np.float32)
