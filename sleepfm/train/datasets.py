"""torch Datasets over sleepfm's HDF5 stores, and the collate functions that pad them.

* :class:`SignalChunkDataset` — one item per 5-minute chunk of a 128 Hz signal store, all
  four modalities, for pretraining.
* :class:`EmbeddingDataset` — one item per study of an embedding store, with staging targets
  or survival labels, for the heads.

Files are opened lazily, in the process that reads them (so each DataLoader worker opens its
own handles after the fork), kept open in a small per-process cache, and read a whole 5-min
chunk (signals) or a whole study (embeddings) at a time: a cohort is never held in memory.

Padding never depends on which studies share a batch: signal channels are padded to a
width fixed for the whole run (the training set's largest channel count per modality), so
a model whose channel pooling behaves differently for a single slot (the published C == 1
shortcut, SPEC §4.10) sees the same input for a study whatever its batch.
"""

from __future__ import annotations

import logging
import os
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import h5py
import numpy as np
import torch
from torch.utils.data import Dataset

from sleepfm.errors import InputError
from sleepfm.interfaces.channel_mapper import ChannelMapper
from sleepfm.interfaces.modality import MODALITIES
from sleepfm.labels.tables import Outcomes
from sleepfm.store.embedding_store import EmbeddingStore
from sleepfm.store.signal_store import CHUNK_SECONDS, PUBLISHED_RATE, SignalStore
from sleepfm.train.labels import UNSCORED, Unscored, align_tokens
from sleepfm.train.splits import study_id

log = logging.getLogger(__name__)

CHUNK_SAMPLES = int(CHUNK_SECONDS * PUBLISHED_RATE)  # 38,400: 5 minutes at 128 Hz
# Per-channel cache: a little over one 5-min float16 chunk, so a chunk read decompresses once.
_CHUNK_CACHE_BYTES = 2 * CHUNK_SAMPLES * 2 * 2

Handle = TypeVar("Handle")


class HandleCache(Generic[Handle]):
    """Open files of the current process, least recently used closed first.

    Handles never cross a fork: a DataLoader worker finds the cache empty (its pid differs
    from the one that filled it) and opens its own.
    """

    def __init__(self, opener: Callable[[Path], Handle], capacity: int = 128) -> None:
        self.opener, self.capacity = opener, capacity
        self._pid = os.getpid()
        self._open: OrderedDict[Path, Handle] = OrderedDict()

    def get(self, path: Path) -> Handle:
        if self._pid != os.getpid():
            self._open = OrderedDict()
            self._pid = os.getpid()
        handle = self._open.get(path)
        if handle is None:
            handle = self._open[path] = self.opener(path)
            while len(self._open) > self.capacity:
                _, oldest = self._open.popitem(last=False)
                oldest.close()  # type: ignore[attr-defined]
        else:
            self._open.move_to_end(path)
        return handle

    def __getstate__(self) -> dict[str, Any]:
        # Spawned workers get a copy without handles (h5py objects do not pickle).
        return {**self.__dict__, "_open": OrderedDict()}


# ---------------------------------------------------------------------------- signals
@dataclass(frozen=True)
class IndexedStudy:
    """A signal store usable for pretraining: its channels per modality and whole 5-min chunks."""

    path: Path
    id: str
    channels: tuple[tuple[str, ...], ...]  # per modality, MODALITIES order
    n_chunks: int


def index_signal_stores(
    paths: Sequence[Path], mapper: ChannelMapper | None = None, chunk_samples: int = CHUNK_SAMPLES
) -> tuple[list[IndexedStudy], list[tuple[Path, str]]]:
    """Studies with every modality and at least one whole chunk, and ``(path, reason)`` for the rest.

    A trailing partial chunk is left out, as the published pipeline does.
    """
    studies, skipped = [], []
    for path in paths:
        try:
            with SignalStore(path, mapper=mapper) as store:
                if store.rate != PUBLISHED_RATE:
                    skipped.append((path, f"sampled at {store.rate:g} Hz, not {PUBLISHED_RATE:g}"))
                    continue
                groups = store.by_modality()
                n_samples = store.n_samples
                unmapped = store.published and mapper is None
        except InputError as exc:
            skipped.append((path, exc.what))
            continue
        missing = [m.value for m in MODALITIES if not groups[m]]
        if missing:
            hint = " (a published file stores no modalities: set data.channel_map)" if unmapped else ""
            skipped.append((path, f"no {'/'.join(missing)} channel{hint}"))
            continue
        n_chunks = n_samples // chunk_samples
        if n_chunks == 0:
            skipped.append((path, "shorter than one 5-minute chunk"))
            continue
        channels = tuple(tuple(c.name for c in groups[m]) for m in MODALITIES)
        studies.append(IndexedStudy(Path(path), study_id(path), channels, n_chunks))
    return studies, skipped


def _open_signals(path: Path) -> h5py.File:
    return h5py.File(path, "r", rdcc_nbytes=_CHUNK_CACHE_BYTES)


class SignalChunkDataset(Dataset):
    """5-minute multimodal items from signal stores (SPEC §3.2, without re-opening per item).

    Item: ``{"signals": [float32 (C_m, 38400) per modality], "study": id, "chunk": k}``, the
    channels of modality m capped at ``widths[m]`` (HDF5 key order).
    """

    def __init__(self, studies: Sequence[IndexedStudy], widths: Sequence[int] | None = None,
                 chunk_samples: int = CHUNK_SAMPLES, max_open_files: int = 64) -> None:
        self.studies = list(studies)
        self.chunk_samples = chunk_samples
        self.widths = tuple(widths) if widths is not None else channel_widths(self.studies)
        self._ends = np.cumsum([s.n_chunks for s in self.studies])
        self._files: HandleCache[h5py.File] = HandleCache(_open_signals, max_open_files)

    def __len__(self) -> int:
        return int(self._ends[-1]) if len(self._ends) else 0

    def locate(self, index: int) -> tuple[IndexedStudy, int]:
        if not 0 <= index < len(self):
            raise IndexError(index)
        study = int(np.searchsorted(self._ends, index, side="right"))
        first = int(self._ends[study - 1]) if study else 0
        return self.studies[study], index - first

    def __getitem__(self, index: int) -> dict[str, Any]:
        study, chunk = self.locate(index)
        start = chunk * self.chunk_samples
        signals = []
        try:
            handle = self._files.get(study.path)
            for names, width in zip(study.channels, self.widths, strict=True):
                names = names[:width]
                block = np.empty((len(names), self.chunk_samples), dtype=np.float32)
                for row, name in enumerate(names):
                    block[row] = handle[name][start : start + self.chunk_samples]
                signals.append(block)
        except (OSError, KeyError) as exc:
            raise InputError(f"cannot read 5-min chunk {chunk} ({exc})", where=study.path,
                             fix="re-run `sleepfm preprocess` for this study or leave it out of the split") from None
        return {"signals": signals, "study": study.id, "chunk": chunk}


def channel_widths(studies: Sequence[IndexedStudy]) -> tuple[int, ...]:
    """The largest channel count of each modality over ``studies``."""
    return tuple(max((len(s.channels[m]) for s in studies), default=1) for m in range(len(MODALITIES)))


class PadSignals:
    """Collate signal items: modality m becomes (B, widths[m], T) with a (B, widths[m]) mask, True = pad."""

    def __init__(self, widths: Sequence[int]) -> None:
        self.widths = tuple(widths)

    def __call__(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        n_samples = items[0]["signals"][0].shape[1]
        signals, masks = [], []
        for m, width in enumerate(self.widths):
            # np.empty + explicit zeroing of the padding only: a batch is hundreds of MB at
            # published sizes, and zero-filling it all first doubles the memory traffic.
            x = np.empty((len(items), width, n_samples), dtype=np.float32)
            mask = np.ones((len(items), width), dtype=bool)
            for b, item in enumerate(items):
                block = item["signals"][m]
                x[b, : block.shape[0]] = block
                x[b, block.shape[0] :] = 0.0
                mask[b, : block.shape[0]] = False
            signals.append(torch.from_numpy(x))
            masks.append(torch.from_numpy(mask))
        return {"signals": signals, "masks": masks, "study": [i["study"] for i in items],
                "chunk": [i["chunk"] for i in items]}


# ---------------------------------------------------------------------------- embeddings
def find_embedding_files(folder: Path) -> dict[str, Path]:
    """Embedding files under ``folder`` by study ID (published ``*_5min_agg`` twins left out)."""
    found: dict[str, Path] = {}
    for path in sorted(Path(folder).rglob("*")):
        if path.suffix.lower() not in (".h5", ".hdf5") or not path.is_file() or path.name.startswith("."):
            continue
        if path.parent.name.endswith("_5min_agg"):
            continue
        sid = study_id(path)
        if sid in found:
            raise InputError(f"two embedding files for study {sid!r}: {found[sid]} and {path}", where=folder)
        found[sid] = path
    return found


class EmbeddingDataset(Dataset):
    """One item per study: 5-s embeddings of every modality plus that study's targets.

    Item: ``{"x": float32 (M, S, E), "mask": bool (M, S) True = pad, "study": id}`` plus
    ``"targets"`` int64 (S,) (-1 unscored) when ``stages`` is given, ``"times"``/``"events"``
    float32 (K,) when ``outcomes`` is, and ``"covariates"`` float32 (D,) with ``covariates``.
    """

    def __init__(self, paths: dict[str, Path], *, stages: dict[str, np.ndarray] | None = None,
                 unscored: Unscored = "mask", outcomes: Outcomes | None = None,
                 covariates: dict[str, np.ndarray] | None = None, max_tokens: int | None = None,
                 max_open_files: int = 64) -> None:
        self.ids = sorted(paths)
        self.paths = paths
        self.stages, self.unscored = stages, unscored
        self.outcomes, self.covariates = outcomes, covariates
        self.max_tokens = max_tokens
        self._files: HandleCache[EmbeddingStore] = HandleCache(EmbeddingStore, max_open_files)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int) -> dict[str, Any]:
        sid = self.ids[index]
        try:
            x, mask = self._files.get(self.paths[sid]).stacked(MODALITIES, self.max_tokens)
        except (OSError, KeyError) as exc:
            raise InputError(f"cannot read the embeddings ({exc})", where=self.paths[sid],
                             fix="re-run `sleepfm embed` for this study") from None
        item: dict[str, Any] = {"x": x, "mask": mask, "study": sid}
        if self.stages is not None:
            item["targets"] = align_tokens(self.stages[sid], x.shape[1], self.unscored)
        if self.outcomes is not None:
            row = self.outcomes.row(sid)
            item["times"], item["events"] = self.outcomes.times[row], self.outcomes.events[row]
        if self.covariates is not None:
            item["covariates"] = self.covariates[sid]
        return item


def collate_embeddings(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Pad studies to the longest in the batch: ``x`` (B, M, S, E), ``mask`` (B, M, S), ``targets`` (B, S)."""
    n_mod, _, dim = items[0]["x"].shape
    length = max(i["x"].shape[1] for i in items)
    x = torch.zeros(len(items), n_mod, length, dim)
    mask = torch.ones(len(items), n_mod, length, dtype=torch.bool)
    for b, item in enumerate(items):
        s = item["x"].shape[1]
        x[b, :, :s] = torch.from_numpy(item["x"])
        mask[b, :, :s] = torch.from_numpy(item["mask"])
    batch: dict[str, Any] = {"x": x, "mask": mask, "study": [i["study"] for i in items]}
    if "targets" in items[0]:
        targets = torch.full((len(items), length), UNSCORED, dtype=torch.long)
        for b, item in enumerate(items):
            targets[b, : item["targets"].shape[0]] = torch.from_numpy(item["targets"])
        batch["targets"] = targets
    for key in ("times", "events", "covariates"):
        if key in items[0]:
            batch[key] = torch.from_numpy(np.stack([i[key] for i in items]))
    return batch
