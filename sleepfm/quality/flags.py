"""Quality flags of one study: per channel, per 5-s patch, one bit per check; kept in the signal store.

In a signal store they live in the group ``sleepfm_quality`` (a group, so readers that list the
root's 1-D datasets as channels — the published code included — never see it)::

    sleepfm_quality/flags   uint32 (channels, patches): bit k set ↔ check k flagged the patch

with attributes ``checks`` (JSON list: the check of each bit), ``channels`` (JSON list of dataset
names, the rows), ``patch_seconds`` (5), ``details`` (JSON: per channel, numbers the reports quote,
such as the ratio of standard to robust deviation), ``config`` (the ``quality`` section used) and
``sleepfm_version`` (that computed them).
Stores without the group (older sleepfm files, the published converter's) read as having no
flags; ``sleepfm embed`` then checks them as it reads them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import h5py
import numpy as np

from sleepfm import __version__
from sleepfm.interfaces.quality_check import PATCH_SECONDS, PATCHES_PER_EPOCH

GROUP = "sleepfm_quality"


@dataclass
class QualityFlags:
    """Flags of one study (module docstring)."""

    checks: tuple[str, ...]
    channels: list[str]
    bits: np.ndarray  # uint32 (channels, patches)
    details: dict[str, dict[str, float]] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    patch_seconds: float = PATCH_SECONDS
    version: str = ""

    def made_with(self, config: dict[str, Any]) -> bool:
        """Whether these flags are what this sleepfm would compute with ``config`` (so may be reused)."""

        return self.version == __version__ and self.config == config

    @property
    def n_patches(self) -> int:
        return int(self.bits.shape[1]) if self.bits.ndim == 2 else 0

    def row(self, channel: str) -> int:
        return self.channels.index(channel)

    def flagged(self, checks: Iterable[str] | None = None) -> np.ndarray:
        """bool (channels, patches): flagged by any of ``checks`` (all when None) that were run."""
        mask = np.uint32(0)
        for name in self.checks if checks is None else checks:
            if name in self.checks:
                mask |= np.uint32(1) << np.uint32(self.checks.index(name))
        return (self.bits & mask) != 0

    def by_check(self, name: str) -> np.ndarray:
        return self.flagged([name])

    def epochs(self, flagged: np.ndarray) -> np.ndarray:
        """(…, patches) patch flags → (…, started 30-s epochs): an epoch is flagged when any patch is."""
        n = flagged.shape[-1]
        epochs = -(-n // PATCHES_PER_EPOCH)
        padded = np.zeros((*flagged.shape[:-1], epochs * PATCHES_PER_EPOCH), dtype=bool)
        padded[..., :n] = flagged
        return padded.reshape(*flagged.shape[:-1], epochs, PATCHES_PER_EPOCH).any(axis=-1)

    # ------------------------------------------------------------------ storage
    def write(self, handle: h5py.File | h5py.Group) -> None:
        """Write into a store opened for writing (replacing flags already there)."""
        if GROUP in handle:
            del handle[GROUP]
        group = handle.create_group(GROUP)
        dataset = group.create_dataset("flags", data=np.asarray(self.bits, dtype=np.uint32))
        dataset.attrs.update({
            "checks": json.dumps(list(self.checks)),
            "channels": json.dumps(self.channels, ensure_ascii=False),
            "patch_seconds": float(self.patch_seconds),
            "details": json.dumps(self.details, ensure_ascii=False),
            "config": json.dumps(self.config, ensure_ascii=False),
            "sleepfm_version": self.version or _version(),
        })

    @classmethod
    def read(cls, handle: h5py.File | h5py.Group) -> QualityFlags | None:
        """The flags stored in ``handle``, or None when it has none (or unreadable ones: they are redone)."""
        dataset = handle.get(f"{GROUP}/flags")
        if not isinstance(dataset, h5py.Dataset) or dataset.ndim != 2 or dataset.dtype.kind not in "ui":
            return None
        try:
            attrs = dataset.attrs
            checks = tuple(json.loads(_text(attrs["checks"])))
            channels = list(json.loads(_text(attrs["channels"])))
            details = json.loads(_text(attrs.get("details", "{}")))
            config = json.loads(_text(attrs.get("config", "{}")))
            patch_seconds = float(attrs.get("patch_seconds", PATCH_SECONDS))
            version = _text(attrs.get("sleepfm_version", ""))
        except (KeyError, ValueError, TypeError):
            return None
        bits = np.asarray(dataset[()], dtype=np.uint32)
        if bits.shape[0] != len(channels) or len(checks) > 32 or patch_seconds != PATCH_SECONDS:
            return None
        return cls(checks, channels, bits, details, config, patch_seconds, version)


def _version() -> str:
    return __version__


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
