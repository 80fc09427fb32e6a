"""QualityCheck: one channel of a signal store → which of its 5-s patches hold a given artifact.

A check sees one channel at a time as a :class:`ChannelSignal`: the stored 128 Hz samples
(z-scored, as the model sees them), what the store knows about the channel (modality, unit,
the rate it was recorded at, the map back to physical units and the recording's physical
limits, when the store keeps them), and statistics of the whole night shared by every check
(computed once, on first use). It returns one flag per whole 5-s patch. A 30-s epoch is
flagged when any of its six patches is: the epoch-level view is derived, not computed twice.

Checks never read the store themselves: :func:`sleepfm.quality.assess.assess_store` reads
each channel once and hands it to every check in turn (one pass over the store).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from functools import cached_property
from typing import ClassVar

import numpy as np

from sleepfm.config.base import ConfigModel
from sleepfm.interfaces.modality import Modality

#: The model's patch (one token) and the scoring epoch, in seconds.
PATCH_SECONDS = 5.0
EPOCH_SECONDS = 30.0
PATCHES_PER_EPOCH = round(EPOCH_SECONDS / PATCH_SECONDS)
#: Samples of the whole-night statistics are taken with a stride that keeps them near this many.
_STATISTICS_SAMPLES = 1 << 15


@dataclass
class ChannelSignal:
    """One stored channel, as every check sees it.

    Attributes
    ----------
    name, label:
        Dataset name in the store and the label in the source file.
    modality:
        ``BAS``/``RESP``/``EKG``/``EMG``, or ``None`` when unmapped.
    unit:
        Physical unit of the source file, normalised (``"µV"``, ``"%"``, ``"bpm"``, ...).
    rate:
        Rate of :attr:`samples` (128 Hz).
    samples:
        float32, whole patches only; non-finite samples are replaced by 0 (see :attr:`finite`).
    finite:
        Per sample, whether it was finite; ``None`` when every sample was.
    original_rate:
        The rate the channel was recorded at, or ``None`` when the store does not say.
    scale, offset:
        ``physical = samples * scale + offset`` in :attr:`unit`, or ``None`` (published stores).
    physical_min, physical_max:
        The recording's physical limits (EDF header) in :attr:`unit`, or ``None``.
    """

    name: str
    label: str
    modality: Modality | None
    unit: str
    rate: float
    samples: np.ndarray
    finite: np.ndarray | None = None
    original_rate: float | None = None
    scale: float | None = None
    offset: float | None = None
    physical_min: float | None = None
    physical_max: float | None = None

    @classmethod
    def from_samples(cls, samples: np.ndarray, *, rate: float, **about: object) -> ChannelSignal:
        """Cut ``samples`` to whole patches and set non-finite ones aside (the usual constructor)."""
        patch = round(PATCH_SECONDS * rate)
        data = np.asarray(samples, dtype=np.float32)[: len(samples) // patch * patch]
        finite = np.isfinite(data)
        if finite.all():
            return cls(samples=data, rate=rate, **about)  # type: ignore[arg-type]
        return cls(samples=np.where(finite, data, np.float32(0)), finite=finite, rate=rate, **about)  # type: ignore[arg-type]

    # ------------------------------------------------------------------ layout
    @property
    def patch_samples(self) -> int:
        return round(PATCH_SECONDS * self.rate)

    @property
    def n_patches(self) -> int:
        return self.samples.shape[0] // self.patch_samples

    @property
    def patches(self) -> np.ndarray:
        """(n_patches, patch samples) view of :attr:`samples`."""
        return self.samples.reshape(self.n_patches, self.patch_samples)

    def per_patch(self, per_epoch: np.ndarray) -> np.ndarray:
        """Epoch flags (one per started 30-s epoch) spread over the epochs' patches."""
        return np.repeat(np.asarray(per_epoch, dtype=bool), PATCHES_PER_EPOCH)[: self.n_patches]

    @property
    def n_epochs(self) -> int:
        """Started 30-s epochs (the last may hold fewer than six patches)."""
        return -(-self.n_patches // PATCHES_PER_EPOCH)

    def epoch(self, index: int) -> np.ndarray:
        """The samples of 30-s epoch ``index``."""
        step = self.patch_samples * PATCHES_PER_EPOCH
        return self.samples[index * step: (index + 1) * step]

    # ------------------------------------------------------------------ statistics, computed once
    @cached_property
    def _patch_moments(self) -> tuple[np.ndarray, np.ndarray]:
        """Per patch mean and mean square (float64), from one float32 pass over the samples."""
        patches = self.patches
        # float32 sums of 640 values of order 1 (z-scored) are exact to about 1e-6: plenty here.
        mean = patches.mean(axis=1).astype(np.float64)
        square = np.einsum("ij,ij->i", patches, patches).astype(np.float64) / max(1, self.patch_samples)
        return mean, square

    @cached_property
    def patch_std(self) -> np.ndarray:
        mean, square = self._patch_moments
        return np.sqrt(np.maximum(square - mean * mean, 0.0)).astype(np.float32)

    @cached_property
    def patch_min(self) -> np.ndarray:
        return self.patches.min(axis=1)

    @cached_property
    def patch_max(self) -> np.ndarray:
        return self.patches.max(axis=1)

    @cached_property
    def _strided(self) -> np.ndarray:
        stride = max(1, self.samples.shape[0] // _STATISTICS_SAMPLES)
        values = self.samples[::stride]
        return values if self.finite is None else values[self.finite[::stride]]

    @cached_property
    def median(self) -> float:
        """Median of the night's samples, from an even stride of about 33,000 of them (a night at 128 Hz
        holds 3.7 million; the median of such a stride is the night's to within about 1 % of its spread)."""
        values = self._strided
        return float(np.median(values)) if values.size else 0.0

    @cached_property
    def robust_sd(self) -> float:
        """1.4826 × the median absolute deviation: the night's standard deviation were it Gaussian,
        unmoved by artifacts covering up to half of it."""
        values = self._strided
        return float(1.4826 * np.median(np.abs(values - self.median))) if values.size else 0.0

    @cached_property
    def std(self) -> float:
        """Standard deviation of the night's finite samples (what the published z-score divides by)."""
        if self.finite is not None:
            values = self.samples[self.finite]
            return float(values.std(dtype=np.float64)) if values.size else 0.0
        mean, square = self._patch_moments
        if not mean.size:
            return 0.0
        return float(np.sqrt(max(float(square.mean() - mean.mean() ** 2), 0.0)))

    @property
    def physical_known(self) -> bool:
        return self.scale is not None and self.offset is not None

    def to_physical(self, values: np.ndarray | float) -> np.ndarray | float:
        """Stored values → physical values in :attr:`unit` (only when :attr:`physical_known`)."""
        assert self.scale is not None and self.offset is not None
        return values * np.float32(self.scale) + np.float32(self.offset)

    def to_stored(self, physical: float) -> float:
        """A physical value in :attr:`unit` → the stored scale (only when :attr:`physical_known`)."""
        assert self.scale is not None and self.offset is not None
        return (physical - self.offset) / self.scale if self.scale else float("inf")


class QualityCheck(ABC):
    """Finds one kind of artifact, per channel per 5-s patch.

    Subclasses set :attr:`Config` (a :class:`~sleepfm.config.base.ConfigModel` of thresholds,
    each default documented with its source) and implement :meth:`patches`. They are built
    with a validated config (``cls(config)``) and keep it as ``self.config``.
    """

    Config: ClassVar[type[ConfigModel]] = ConfigModel
    #: One line shown in ``sleepfm qc`` outputs and docs: what a flag of this check means.
    meaning: ClassVar[str] = ""

    def __init__(self, config: ConfigModel | None = None) -> None:
        self.config = config if config is not None else self.Config()

    def applies(self, channel: ChannelSignal) -> bool:
        """Whether this check has anything to say about ``channel`` (default: every channel)."""
        return True

    @abstractmethod
    def patches(self, channel: ChannelSignal) -> np.ndarray:
        """bool (``channel.n_patches``,): True where the patch holds this artifact."""

    def example_channel(self) -> ChannelSignal:
        """A short clean channel on which this check flags nothing (for generated contract tests)."""
        rng = np.random.default_rng(0)
        rate = 128.0
        t = np.arange(round(10 * 60 * rate)) / rate
        signal = np.sin(2 * np.pi * 1.3 * t) + 0.6 * rng.standard_normal(t.size)
        signal = (signal - signal.mean()) / signal.std()
        return ChannelSignal.from_samples(signal.astype(np.float32), rate=rate, name="C4-M1", label="C4-M1",
                                          modality=Modality.BAS, unit="µV", original_rate=256.0, scale=20.0,
                                          offset=0.0, physical_min=-500.0, physical_max=500.0)
