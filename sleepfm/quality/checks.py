"""The built-in quality checks, one per kind of artifact (docs/quality.md has the sources of every
default threshold).

Every check works on the stored 128 Hz samples of one channel (z-scored, as the model sees
them) and on what the store says about the channel. Checks that need physical values (clipping
at the recording's limits, implausible SpO2, heart rate or amplitude) use the map back to
physical units that ``sleepfm preprocess`` keeps; on stores without it (the published
converter's) they judge only what the samples themselves show.
"""

from __future__ import annotations

import re

import numpy as np
from pydantic import Field
from scipy import fft

from sleepfm.config.base import ConfigModel
from sleepfm.interfaces.modality import Modality
from sleepfm.interfaces.quality_check import EPOCH_SECONDS, PATCHES_PER_EPOCH, ChannelSignal, QualityCheck

#: Units of channels that carry a level rather than a waveform: long constant stretches are normal.
LEVEL_UNITS = frozenset({"%", "bpm", "°C", "°", "mmHg", "L/min"})
_LEVEL_LABEL = re.compile(r"spo2|sao2|\bsat|oxim|\brate\b|^hr\b|^pr\b|pos|temp|activ|elev|batt|imp",
                          re.IGNORECASE)
_SPO2_LABEL = re.compile(r"spo2|sao2|\bsat|oxim|oxy", re.IGNORECASE)
_HR_LABEL = re.compile(r"pulse ?rate|heart ?rate|^hr\b|^pr\b", re.IGNORECASE)
#: Factor from a voltage unit to µV.
_TO_MICROVOLT = {"µV": 1.0, "mV": 1e3, "V": 1e6, "nV": 1e-3}


def is_level_channel(channel: ChannelSignal) -> bool:
    """SpO2, pulse rate, position, temperature and the like: levels, not waveforms."""
    return channel.unit in LEVEL_UNITS or bool(_LEVEL_LABEL.search(channel.label))


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and stop indices of the runs of True in ``mask``."""
    edges = np.flatnonzero(np.diff(mask.astype(np.int8), prepend=0, append=0))
    return edges[0::2], edges[1::2]


def _mark(n_samples: int, starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """A bool array of ``n_samples`` that is True on each ``[start, stop)``."""
    delta = np.zeros(n_samples + 1, dtype=np.int32)
    np.add.at(delta, starts, 1)
    np.add.at(delta, stops, -1)
    return np.cumsum(delta[:-1]) > 0


# ---------------------------------------------------------------------------- non-finite
class NonFinite(QualityCheck):
    """Samples that are NaN or ±inf (a damaged or hand-edited store)."""

    meaning = "the patch holds NaN or infinite samples"

    def patches(self, channel: ChannelSignal) -> np.ndarray:
        if channel.finite is None:
            return np.zeros(channel.n_patches, dtype=bool)
        return ~channel.finite.reshape(channel.n_patches, channel.patch_samples).all(axis=1)


# ---------------------------------------------------------------------------- flat
class FlatConfig(ConfigModel):
    ratio: float = Field(0.05, gt=0, lt=1, description=(
        "A patch is flat when its standard deviation is below this fraction of the channel's typical one "
        "(the 75th percentile over the night's patches), or exactly zero. Luna's CHEP-MASK flags flatness "
        "relative to the signal itself in the same way; 0.05 is 26 dB below the typical level."))
    slow_rate: float = Field(10.0, gt=0, description=(
        "Channels recorded below this rate (Hz) — envelopes such as Sleep-EDF's 1-Hz chin EMG — must be flat "
        "for a whole 30-s epoch: a 5-s patch holds too few of their samples to tell flat from slow."))


class Flat(QualityCheck):
    """A flat line or disconnected electrode: the signal stops moving."""

    Config = FlatConfig
    config: FlatConfig
    meaning = "flat line or disconnected electrode: the signal stops moving"

    def applies(self, channel: ChannelSignal) -> bool:
        return not is_level_channel(channel)

    def patches(self, channel: ChannelSignal) -> np.ndarray:
        spread = channel.patch_std
        if channel.finite is not None:  # replaced samples are zeros: judge the rest only
            spread = np.where(NonFinite().patches(channel), np.float32(np.inf), spread)
        typical = float(np.percentile(spread[np.isfinite(spread)], 75)) if np.isfinite(spread).any() else 0.0
        flat = (spread <= self.config.ratio * typical) | (spread == 0)
        if channel.original_rate is not None and channel.original_rate < self.config.slow_rate:
            # Whole epochs only: an epoch counts when every one of its patches is flat.
            padded = np.ones(channel.n_epochs * PATCHES_PER_EPOCH, dtype=bool)
            padded[: flat.size] = flat
            flat = channel.per_patch(padded.reshape(-1, PATCHES_PER_EPOCH).all(axis=1))
        return flat


# ---------------------------------------------------------------------------- clipping
class ClippingConfig(ConfigModel):
    tolerance: float = Field(0.002, gt=0, lt=0.1, description=(
        "How close to a limit a sample must be to count as at it, as a fraction of the night's range "
        "(absorbs float16 storage and the anti-alias filter's ringing at the edges of a plateau)."))
    min_run_seconds: float = Field(0.015, gt=0, description=(
        "Shortest stay at a declared limit that counts as clipping (at least two samples). Luna's CHEP-MASK "
        "counts points equal to the epoch's minimum or maximum; two in a row at the recording's very limit "
        "are a value that was cut, not a peak."))
    plateau_runs: int = Field(3, ge=1, description=(
        "When the limit is not the recording's declared one (an amplifier that saturates inside the EDF "
        "range, such as DREAMS' ±327), the night must hit the same extreme this many times: a real rail is "
        "hit again and again, the peak of one slow wave once."))
    plateau_seconds: float = Field(0.1, gt=0, description="Shortest stay at an undeclared rail that counts.")


class Clipping(QualityCheck):
    """Clipping or saturation: samples held at the recording's digital/physical limits or at a rail."""

    Config = ClippingConfig
    config: ClippingConfig
    meaning = "clipping or saturation: samples held at the recording's limits or at an amplifier rail"

    def applies(self, channel: ChannelSignal) -> bool:
        return not is_level_channel(channel)

    def patches(self, channel: ChannelSignal) -> np.ndarray:
        clipped = np.zeros(channel.n_patches, dtype=bool)
        if channel.n_patches == 0:
            return clipped
        top, bottom = float(channel.patch_max.max()), float(channel.patch_min.min())
        span = top - bottom
        if span <= 0:
            return clipped
        tolerance = self.config.tolerance * span
        declared = self._declared_limits(channel)
        length = channel.patch_samples
        for extreme, sign, limit in ((top, 1.0, declared[1]), (bottom, -1.0, declared[0])):
            at_limit = limit is not None and sign * (extreme - limit) >= -tolerance
            # At a declared limit the plateau sits at the limit (the anti-alias filter's ringing may
            # overshoot it); at an undeclared rail, at the night's extreme.
            level = sign * (limit if at_limit else extreme) - tolerance  # type: ignore[operator]
            # Only patches that reach the level can hold samples at it: look at those alone.
            reach = channel.patch_max if sign > 0 else -channel.patch_min
            candidates = np.flatnonzero(reach >= level)
            rows = channel.patches[candidates]
            hits = np.flatnonzero(sign * rows >= level)
            index = candidates[hits // length] * length + hits % length  # sample index in the night
            breaks = np.flatnonzero(np.diff(index) != 1)
            starts = index[np.r_[0, breaks + 1]] if index.size else index
            stops = index[np.r_[breaks, index.size - 1]] + 1 if index.size else index
            seconds = self.config.min_run_seconds if at_limit else self.config.plateau_seconds
            long = (stops - starts) >= max(2, round(seconds * channel.rate))
            if not long.any() or (not at_limit and long.sum() < self.config.plateau_runs):
                continue
            for start, stop in zip(starts[long], stops[long], strict=True):
                clipped[start // length: (stop - 1) // length + 1] = True
        return clipped

    @staticmethod
    def _declared_limits(channel: ChannelSignal) -> tuple[float | None, float | None]:
        if not channel.physical_known or channel.physical_min is None or channel.physical_max is None:
            return None, None
        low, high = sorted((channel.to_stored(channel.physical_min), channel.to_stored(channel.physical_max)))
        return low, high


# ---------------------------------------------------------------------------- high amplitude
class HighAmplitudeConfig(ConfigModel):
    ratio: float = Field(2.5, gt=1, description=(
        "A patch is flagged when its largest excursion from the night's median is at least this multiple of "
        "the channel's upper typical excursion, the 90th percentile over the night's patches (Buckelmüller et "
        "al. 2006 flag 2.5× the local level; against the 90th percentile, N3 delta and K-complexes stay in "
        "— at most 2.1× on the demo's clean nights — while a movement artifact of several hundred µV on a "
        "20-µV EEG is far beyond)."))
    modalities: list[Modality] = Field([Modality.BAS, Modality.RESP, Modality.EKG], description=(
        "Modalities checked. EMG is left out: bursts of muscle activity are its signal (leg movements, "
        "arousals), not artifacts of it."))
    skip_labels: str = Field(r"EOG|^E[12]\b|^E[12]-|LOC|ROC", description=(
        "Channels whose label matches this regular expression are left out: the EOG's rapid eye movements "
        "are ten times its quiet level and are signal."))


class HighAmplitude(QualityCheck):
    """High-amplitude or movement artifact: bursts far above the channel's usual level."""

    Config = HighAmplitudeConfig
    config: HighAmplitudeConfig
    meaning = "high-amplitude or movement artifact, far above the channel's usual level"

    def applies(self, channel: ChannelSignal) -> bool:
        return (channel.modality in self.config.modalities and not is_level_channel(channel)
                and not re.search(self.config.skip_labels, channel.label, re.IGNORECASE))

    def patches(self, channel: ChannelSignal) -> np.ndarray:
        if not channel.n_patches:
            return np.zeros(0, dtype=bool)
        centre = channel.median
        excursion = np.maximum(channel.patch_max - centre, centre - channel.patch_min)
        reference = float(np.percentile(excursion, 90))
        if reference <= 0:
            return np.zeros(excursion.shape, dtype=bool)
        return excursion >= self.config.ratio * reference


# ---------------------------------------------------------------------------- line noise
class LineNoiseConfig(ConfigModel):
    frequencies: list[float] = Field([50.0, 60.0], description="Mains frequencies (Hz): 50 in Europe, Asia, "
                                     "Africa and Australia, 60 in the Americas (IEC 60038).")
    band: float = Field(0.5, gt=0, description=(
        "Half-width (Hz) of the band around a mains frequency: grids hold 50/60 Hz within ±1 % (EN 50160)."))
    min_seconds: float = Field(15.0, ge=0, description=(
        "Mains interference lasts: only runs of flagged patches at least this long count, so that a brief "
        "muscle burst that happens to oscillate near 50 Hz does not."))
    min_fraction: float = Field(0.15, gt=0, lt=1, description=(
        "A patch is flagged when the mains band holds at least this fraction of its power (0.5 Hz upwards)..."))
    peak_ratio: float = Field(10.0, gt=1, description=(
        "...and its power density is this many times that of the band 2–5 Hz below it (10 dB): a narrow line, "
        "not broadband muscle activity."))


class LineNoise(QualityCheck):
    """50/60 Hz mains interference (a loose or high-impedance electrode picks it up)."""

    Config = LineNoiseConfig
    config: LineNoiseConfig
    meaning = "50/60 Hz line (mains) noise"

    def applies(self, channel: ChannelSignal) -> bool:
        nyquist = min(channel.rate, channel.original_rate or channel.rate) / 2
        return any(f + self.config.band < nyquist for f in self.config.frequencies) and not is_level_channel(channel)

    def patches(self, channel: ChannelSignal) -> np.ndarray:
        length = channel.patch_samples
        window = np.hanning(length).astype(np.float32)
        flagged = np.zeros(channel.n_patches, dtype=bool)
        resolution = channel.rate / length  # Hz per FFT bin

        def bins(low: float, high: float) -> slice:
            return slice(max(0, int(np.ceil(low / resolution))), int(np.floor(high / resolution)) + 1)

        bands = [(bins(f - self.config.band, f + self.config.band), bins(f - 5.0, f - 2.0))
                 for f in self.config.frequencies if f + self.config.band < channel.rate / 2]
        floor = bins(0.5, channel.rate / 2)
        block = 1024  # patches per FFT call: bounded memory on long nights
        for first in range(0, channel.n_patches, block):
            part = channel.patches[first: first + block]
            spectrum = fft.rfft((part - part.mean(axis=1, keepdims=True)) * window, axis=1)
            power = spectrum.real ** 2 + spectrum.imag ** 2
            total = power[:, floor].sum(axis=1) + 1e-30
            hit = np.zeros(part.shape[0], dtype=bool)
            for line, flank in bands:
                in_line = power[:, line].sum(axis=1)
                density = in_line / (line.stop - line.start)
                reference = power[:, flank].mean(axis=1) + 1e-30
                hit |= (in_line / total >= self.config.min_fraction) & (density / reference >= self.config.peak_ratio)
            flagged[first: first + part.shape[0]] = hit
        starts, stops = _runs(flagged)
        long = (stops - starts) * (channel.patch_samples / channel.rate) >= self.config.min_seconds
        return _mark(flagged.size, starts[long], stops[long])


# ---------------------------------------------------------------------------- implausible values
class ImplausibleConfig(ConfigModel):
    spo2: tuple[float, float] = Field((50.0, 100.0), description=(
        "Plausible SpO2 (%). Below 50 % a pulse oximeter reading is a dropout or a probe off the finger "
        "(rsleep's clean_oximetry drops values under 70 %; the issue's 50 % keeps deep desaturations)."))
    heart_rate: tuple[float, float] = Field((25.0, 220.0), description=(
        "Plausible heart rate (bpm), for pulse-rate channels and for the rate counted from an ECG per 30-s "
        "epoch (adult sleep: sinus bradycardia rarely below 30, tachycardia rarely above 200)."))
    tolerance: float = Field(1.0, ge=0, description=(
        "Margin (in the channel's unit) for the ringing that resampling adds to stepped oximeter values."))
    eeg_microvolts: tuple[float, float] = Field((0.1, 1000.0), description=(
        "Plausible robust amplitude (µV, 1.4826 × MAD over the night) of EEG/EOG: scalp EEG runs from a few "
        "to a few hundred µV; a value outside says the unit is wrong (V written as µV, or the reverse)."))


class Implausible(QualityCheck):
    """Physiologically implausible values: SpO2 or heart rate out of range, EEG amplitude in the wrong unit."""

    Config = ImplausibleConfig
    config: ImplausibleConfig
    meaning = "physiologically implausible values (SpO2, heart rate, or an EEG amplitude in the wrong unit)"

    def applies(self, channel: ChannelSignal) -> bool:
        return self._kind(channel) is not None

    @staticmethod
    def _kind(channel: ChannelSignal) -> str | None:
        if channel.unit == "%" or (channel.modality is Modality.RESP and _SPO2_LABEL.search(channel.label)):
            return "spo2" if channel.physical_known else None
        if channel.unit == "bpm" or _HR_LABEL.search(channel.label):
            return "heart_rate" if channel.physical_known else None
        if channel.modality is Modality.EKG:
            return "ecg"
        if channel.modality is Modality.BAS and channel.unit in _TO_MICROVOLT and channel.physical_known:
            return "eeg"
        return None

    def patches(self, channel: ChannelSignal) -> np.ndarray:
        kind = self._kind(channel)
        if kind in ("spo2", "heart_rate"):
            low, high = self.config.spo2 if kind == "spo2" else self.config.heart_rate
            bounds = sorted((channel.to_stored(low - self.config.tolerance),
                             channel.to_stored(high + self.config.tolerance)))
            return (channel.patch_min < bounds[0]) | (channel.patch_max > bounds[1])
        if kind == "ecg":
            rates = self._ecg_rates(channel)
            low, high = self.config.heart_rate
            return channel.per_patch((rates < low) | (rates > high))
        assert channel.scale is not None
        amplitude = abs(channel.robust_sd * channel.scale) * _TO_MICROVOLT[channel.unit]
        low, high = self.config.eeg_microvolts
        return np.full(channel.n_patches, not low <= amplitude <= high)

    def _ecg_rates(self, channel: ChannelSignal) -> np.ndarray:
        """Beats per minute counted in each 30-s epoch. A beat is an upward crossing of half the epoch's
        largest deflections (R peaks, either polarity) at least 240 ms (250 bpm) after the previous
        crossing, on the signal's 4-sample maxima (31 ms at 128 Hz: a QRS lasts about 100 ms)."""
        pool = 4
        per_epoch = channel.patch_samples * PATCHES_PER_EPOCH // pool
        n_epochs = channel.n_epochs
        samples = np.zeros(n_epochs * per_epoch * pool, dtype=np.float32)
        samples[: channel.samples.size] = channel.samples
        epochs = samples.reshape(n_epochs, per_epoch * pool)
        deviation = np.abs(epochs - epochs.mean(axis=1, keepdims=True))
        pooled = deviation.reshape(n_epochs, per_epoch, pool).max(axis=2)
        top = np.percentile(pooled, 99.5, axis=1, keepdims=True)
        above = (pooled > 0.5 * top) & (top > 0)  # a flat epoch has no beat
        rises = np.flatnonzero((above[:, 1:] & ~above[:, :-1]).reshape(-1))
        rises += 1 + rises // (per_epoch - 1)  # index in the flattened (epochs, per_epoch) grid
        gap = max(1, round(60.0 / 250.0 * channel.rate / pool))
        beats = rises[np.r_[True, np.diff(rises) >= gap]] if rises.size else rises
        counts = np.bincount(beats // per_epoch, minlength=n_epochs).astype(np.float64)
        seconds = np.full(n_epochs, EPOCH_SECONDS)
        seconds[-1] = (channel.samples.size - (n_epochs - 1) * per_epoch * pool) / channel.rate
        rates = counts * 60.0 / seconds
        if seconds[-1] < 10 and n_epochs > 1:  # too short a tail to count beats in: judge it with the epoch before
            rates[-1] = rates[-2]
        return rates


# ---------------------------------------------------------------------------- z-score dominated
class ZscoreDominatedConfig(ConfigModel):
    max_ratio: float = Field(3.0, gt=1, description=(
        "The night's standard deviation may be at most this multiple of its robust one (1.4826 × MAD): 1 for "
        "Gaussian noise, about 1.4 for sleep EEG's heavier tails; beyond 3, a few minutes of artifact set "
        "the z-score's scale and squash the real signal for the whole night."))
    modalities: list[Modality] = Field([Modality.BAS, Modality.RESP], description=(
        "Modalities checked. The ECG (R peaks) and EMG (bursts of tone) are spiky by nature: their standard "
        "deviation is far above their robust one on clean nights."))
    skip_labels: str = Field(r"snor|phono|micro|sound|audio|EOG|^E[12]\b|^E[12]-|LOC|ROC", description=(
        "Channels whose label matches are left out: a snore microphone is silent, then loud; the EOG is quiet "
        "in N2/N3 and swings with every eye movement."))


class ZscoreDominated(QualityCheck):
    """The whole-night z-score is dominated by artifacts: its scale is set by a few bad minutes."""

    Config = ZscoreDominatedConfig
    config: ZscoreDominatedConfig
    meaning = "z-score dominated by artifacts: the night's scale is set by a few bad minutes"

    def applies(self, channel: ChannelSignal) -> bool:
        return (channel.modality in self.config.modalities and not is_level_channel(channel)
                and not re.search(self.config.skip_labels, channel.label, re.IGNORECASE))

    def patches(self, channel: ChannelSignal) -> np.ndarray:
        ratio = self.ratio(channel)
        return np.full(channel.n_patches, ratio is not None and ratio > self.config.max_ratio)

    @staticmethod
    def ratio(channel: ChannelSignal) -> float | None:
        """Standard deviation over robust standard deviation, or None for a (mostly) constant channel."""
        robust = channel.robust_sd
        return channel.std / robust if robust > 0 else None
