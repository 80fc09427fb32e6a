"""Running the quality checks: one channel at a time, every check on it, one read of the store.

``sleepfm preprocess`` calls :func:`assess_channel` on each channel it has just resampled (the
samples are in memory already) and keeps the flags in the store; ``sleepfm qc`` and ``sleepfm
embed`` (for stores without flags) call :func:`assess_store`, which reads each channel once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sleepfm import registry
from sleepfm.config.quality import QualityConfig
from sleepfm.interfaces.quality_check import ChannelSignal, QualityCheck
from sleepfm.quality.flags import QualityFlags
from sleepfm.store.signal_store import SignalStore, StoredChannel


@dataclass(frozen=True)
class CheckSet:
    """The configured checks, built once, in the order of their flag bits."""

    names: tuple[str, ...]
    checks: tuple[QualityCheck, ...]
    config: dict[str, Any]
    unmapped: bool = False

    @classmethod
    def from_config(cls, config: QualityConfig | None = None) -> CheckSet:
        config = config or QualityConfig()
        built = [registry.create("quality_checks", spec.name, spec.params, key=f"quality.checks[{index}]")
                 for index, spec in enumerate(config.checks)]
        return cls(tuple(spec.name for spec in config.checks), tuple(built), config.model_dump(mode="json"),
                   config.unmapped)

    def wants(self, channel: StoredChannel) -> bool:
        """Whether ``channel`` is checked: mapped ones always, unmapped ones on request."""
        return channel.modality is not None or self.unmapped


@dataclass
class ChannelResult:
    """Flags of one channel: uint32 (patches,) and the numbers its reasons quote."""

    bits: np.ndarray
    details: dict[str, float]


def assess_channel(channel: ChannelSignal, checks: CheckSet) -> ChannelResult:
    """Every check on one channel; a check that does not apply leaves its bit clear."""
    bits = np.zeros(channel.n_patches, dtype=np.uint32)
    for index, check in enumerate(checks.checks):
        if channel.n_patches and check.applies(channel):
            flags = np.asarray(check.patches(channel), dtype=bool)
            if flags.shape != (channel.n_patches,):
                raise ValueError(f"quality check {checks.names[index]!r} returned flags of shape {flags.shape} "
                                 f"for {channel.n_patches} patches")
            bits[flags] |= np.uint32(1) << np.uint32(index)
    details: dict[str, float] = {}
    if channel.n_patches:
        robust = channel.robust_sd
        if robust > 0:
            details["std_over_robust"] = round(channel.std / robust, 3)
        if channel.physical_known and channel.scale is not None:
            details["robust_amplitude"] = float(f"{abs(robust * channel.scale):.4g}")
    return ChannelResult(bits, details)


def channel_signal(samples: np.ndarray, info: StoredChannel, rate: float) -> ChannelSignal:
    """A stored channel as the checks see it."""
    return ChannelSignal.from_samples(
        samples, rate=rate, name=info.name, label=info.label, modality=info.modality, unit=info.unit,
        original_rate=info.original_rate, scale=info.scale, offset=info.offset, physical_min=info.physical_min,
        physical_max=info.physical_max)


def collect(names: Sequence[str], results: Sequence[ChannelResult], checks: CheckSet) -> QualityFlags:
    """Per-channel results → the study's :class:`QualityFlags` (shorter channels padded unflagged)."""
    width = max((r.bits.shape[0] for r in results), default=0)
    bits = np.zeros((len(results), width), dtype=np.uint32)
    for row, result in enumerate(results):
        bits[row, : result.bits.shape[0]] = result.bits
    return QualityFlags(checks.names, list(names), bits,
                        {name: r.details for name, r in zip(names, results, strict=True)}, checks.config)


def assess_store(store: SignalStore, checks: CheckSet, channels: Sequence[StoredChannel] | None = None
                 ) -> QualityFlags:
    """Read each channel of ``store`` once and run every check on it."""
    chosen = [c for c in (store.channels if channels is None else channels) if checks.wants(c)]
    results = [assess_channel(channel_signal(store.read(c.name), c, store.rate), checks) for c in chosen]
    return collect([c.name for c in chosen], results, checks)
