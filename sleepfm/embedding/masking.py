"""Which channels each 5-minute chunk of a study is embedded with.

SleepFM pools a modality's channels as a set, so a channel can simply be left out of the chunks
where it is bad: the item is embedded with its remaining channels (FastEmbedder takes items
with any number of real channels). Two rules decide:

* **non-finite samples** (NaN, ±inf) leave their channel out of the chunk, always: one of them
  would turn every embedding of the chunk's modality into NaN. They are found as the chunk is
  read, whatever the store says;
* with ``quality.mode = "mask"``, a channel is left out of a chunk when at least
  ``quality.mask_fraction`` of the chunk's patches are flagged by one of ``quality.mask_checks``.
  The flags ``sleepfm preprocess`` kept in the store are used; a store without them (the
  published converter's, older sleepfm files) is checked first, in one extra read.

A modality left without a channel in a chunk is *missing* there: its embeddings of that chunk
are zeros and the output records the chunk (``chunks_missing``), so heads mask it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sleepfm.config.quality import QualityConfig
from sleepfm.interfaces.modality import Modality
from sleepfm.quality.assess import CheckSet, assess_store
from sleepfm.store.signal_store import SignalStore


@dataclass
class ChunkMasks:
    """Per modality, bool (n_chunks, channels): True = the channel takes part in the chunk."""

    channels: dict[Modality, list[str]]
    keep: dict[Modality, np.ndarray]
    mode: str = "off"
    reasons: dict[str, set[str]] = field(default_factory=dict)  # channel → why it was left out somewhere

    @classmethod
    def everything(cls, channels: dict[Modality, list[str]], n_chunks: int, mode: str = "off") -> ChunkMasks:
        return cls(channels, {m: np.ones((n_chunks, len(names)), dtype=bool) for m, names in channels.items()}, mode)

    def any_kept(self) -> bool:
        """Whether any channel takes part in any chunk."""
        return any(keep.any() for keep in self.keep.values())

    def rows(self, modality: Modality, chunk: int) -> np.ndarray:
        """Indices of the channels of ``modality`` that take part in ``chunk``."""
        return np.flatnonzero(self.keep[modality][chunk])

    def drop_non_finite(self, modality: Modality, block: np.ndarray, first_chunk: int, chunk: int) -> None:
        """Leave out channels with non-finite samples in the chunks of ``block`` (C, chunks × chunk)."""
        if np.isfinite(block).all():
            return
        chunks = block.shape[1] // chunk
        finite = np.isfinite(block[:, : chunks * chunk].reshape(block.shape[0], chunks, chunk)).all(axis=2)
        for row, column in zip(*np.nonzero(~finite), strict=True):
            self.keep[modality][first_chunk + column, row] = False
            self.reasons.setdefault(self.channels[modality][row], set()).add("non_finite")

    def record(self) -> dict[str, Any]:
        """What was left out, for the output's attributes (JSON-ready)."""
        masked = {}
        missing = {}
        total = dropped = 0
        for modality, names in self.channels.items():
            keep = self.keep[modality]
            total += keep.size
            dropped += int((~keep).sum())
            for row, name in enumerate(names):
                chunks = np.flatnonzero(~keep[:, row]).tolist()
                if chunks:
                    masked[name] = chunks
            empty = np.flatnonzero(~keep.any(axis=1)).tolist()
            if empty:
                missing[modality.value] = empty
        return {"quality": self.mode, "masked_channels": masked, "chunks_missing": missing,
                "masked_reasons": {name: sorted(why) for name, why in self.reasons.items() if name in masked},
                "masked_fraction": round(dropped / total, 6) if total else 0.0}


def quality_masks(store: SignalStore, channels: dict[Modality, list[str]], n_chunks: int, chunk: int,
                  config: QualityConfig) -> ChunkMasks:
    """The chunk masks of ``store`` from its quality flags (module docstring); ``chunk`` samples a chunk."""
    masks = ChunkMasks.everything(channels, n_chunks, config.mode)
    if config.mode == "off":
        return masks
    flags = store.quality_flags()
    wanted = [name for names in channels.values() for name in names]
    if flags is None or any(name not in flags.channels for name in wanted):

        by_name = {c.name: c for c in store.channels}
        flags = assess_store(store, CheckSet.from_config(config), [by_name[n] for n in wanted])
    # Non-finite samples are found sample by sample as chunks are read (drop_non_finite), exactly.
    mask_checks = [c for c in config.mask_checks if c != "non_finite" and c in flags.checks]
    for modality, names in channels.items():
        for row, name in enumerate(names):
            index = flags.row(name)
            for check in mask_checks:
                hit = _per_chunk(flags.by_check(check)[index], round(flags.patch_seconds * store.rate), n_chunks,
                                 chunk)
                bad = hit >= config.mask_fraction
                if bad.any():
                    masks.keep[modality][bad, row] = False
                    masks.reasons.setdefault(name, set()).add(check)
    return masks


def _per_chunk(patches: np.ndarray, patch: int, n_chunks: int, chunk: int) -> np.ndarray:
    """Fraction of each chunk's samples that lie in flagged quality patches of ``patch`` samples
    (the model's chunk need not be made of whole 5-s patches; samples past the flags count as clean)."""
    if not patches.any():
        return np.zeros(n_chunks)
    samples = np.zeros(n_chunks * chunk, dtype=bool)
    flagged = np.repeat(patches.astype(bool), patch)[: samples.size]
    samples[: flagged.size] = flagged
    return samples.reshape(n_chunks, chunk).mean(axis=1)
