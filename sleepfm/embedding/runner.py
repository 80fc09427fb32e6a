"""The embedding runner behind ``sleepfm embed`` and ``sleepfm.embed``.

Studies stream through in input order: each is opened once, its channels are read in
blocks of whole 5-minute chunks (aligned with the files' HDF5 chunks, so every compressed
chunk is inflated once), and its 5-minute segments join a queue of segments from this and
following studies. Each batch is cut into **units**: one modality of up to :data:`UNIT`
consecutive segments of one study, counted from the study's first chunk. Units run through
:class:`~sleepfm.embedding.fast.FastEmbedder` (the built-in model) or
:class:`~sleepfm.embedding.generic.ModelEmbedder` (any other) one at a time on single-threaded
CPU workers, and each study is handed back as soon as its last segment is done.

An embedding is the same to the last bit whatever the batch size, the thread count, the
neighbouring studies, the executor or the shard: matrix kernels choose their blocking by the
shapes they are given, so the shapes are fixed by the study alone (its units), no channel
slot is padded, the lone-channel shortcut is decided per item, and every unit runs on one
thread.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from sleepfm.checkpoints.folder import Checkpoint
from sleepfm.config.quality import QualityConfig
from sleepfm.errors import InputError, SleepfmError, UnknownComponentError, UsageError, disk_full
from sleepfm.execute.prefetch import prefetched
from sleepfm.interfaces.channel_mapper import ChannelMapper
from sleepfm.interfaces.modality import MODALITIES, Modality
from sleepfm.interfaces.model import Model
from sleepfm.map import make_mapper
from sleepfm.registry_records import KINDS
from sleepfm.store.signal_store import SignalStore

from .fast import DTYPES, FastEmbedder
from .generic import ModelEmbedder
from .masking import ChunkMasks, quality_masks
from .precision import Precision
from .set_transformer import SetTransformer

log = logging.getLogger(__name__)
Notify = Callable[[str], None]
#: Segments of one modality of one study computed together (module docstring).
UNIT = 16


@dataclass
class StudyPlan:
    """What will be embedded of one study."""

    path: Path
    stem: str
    channels: dict[Modality, list[str]]  # modalities present → channel names used, in file order
    missing: list[Modality]
    n_samples: int
    n_chunks: int
    padded_tokens: int  # padded 5-s patches at the end of the last chunk (0: none)
    dropped_seconds: float  # recording left out at the end (partial chunk or partial patch)
    rate_assumed: bool  # the file stores no sampling rate (the published converter's)
    rate: float = 128.0

    @property
    def duration(self) -> float:
        """Seconds of recording."""
        return self.n_samples / self.rate


@dataclass
class StudyEmbeddings:
    """Embeddings of one study: ``tokens[m]`` (n_chunks·S, E) 5-s, ``pooled[m]`` (n_chunks, E) 5-min."""

    plan: StudyPlan
    tokens: dict[Modality, np.ndarray]
    pooled: dict[Modality, np.ndarray]
    outputs: list[Path] = field(default_factory=list)
    #: Which channels each chunk was embedded with (what quality masking left out).
    masks: ChunkMasks | None = None


@dataclass
class StudyFailure:
    path: Path
    error: SleepfmError


@dataclass
class _Study:
    plan: StudyPlan | None
    failure: StudyFailure | None = None
    result: StudyEmbeddings | None = None
    done: int = 0


@dataclass
class _Segment:
    study: _Study
    chunk: int
    signals: dict[Modality, np.ndarray]  # (C_m, chunk samples) float32
    patch_mask: torch.Tensor | None


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: CUDA is not available here (torch.cuda.is_available() is False)",
                         fix="use --device cpu, or install a CUDA build of torch")
    return torch.device(device)


class Embedder:
    """Embeds signal stores with a base-model checkpoint."""

    def __init__(
        self,
        checkpoint: Checkpoint,
        *,
        batch_size: int = 16,
        device: str = "auto",
        precision: Precision = "fp32",
        threads: int | None = None,
        partial_chunk: Literal["drop", "pad"] = "drop",
        channel_map: Path | None = None,
        channel_mapper: str = "rules",
        notify: Notify | None = None,
        quality: QualityConfig | None = None,
    ) -> None:
        if checkpoint.kind != "models" or not isinstance(checkpoint.module, Model):
            raise UsageError(f"the checkpoint holds {KINDS[checkpoint.kind]} {checkpoint.name!r}; embedding needs a "
                             "base model", where=checkpoint.path, fix="pass the model_base folder")
        self.checkpoint = checkpoint
        self.model: Model = checkpoint.module
        self.rate = float(checkpoint.signal.get("sampling_rate", 128.0))
        self.chunk = round(self.rate * float(checkpoint.signal.get("chunk_seconds", 300.0)))
        self.patch = self.model.patch_size
        self.steps = self.chunk // self.patch
        most = self.model.max_patches
        if self.chunk % self.patch or (most is not None and self.steps > most):
            raise UsageError(f"a chunk of {self.chunk} samples does not fit the model ({self.patch}-sample patches, "
                             f"at most {most})", where=checkpoint.path)
        self.batch_size = batch_size
        self.partial_chunk = partial_chunk
        self.device = resolve_device(device)
        # Runs in the precision it is given; which one a run asks for is decided by
        # sleepfm.embedding.precision.choose_precision (bf16 only where it is faster).
        self.precision = precision
        self.workers = 1 if self.device.type == "cuda" else (threads or torch.get_num_threads())
        # The built-in model has a fused fast path; any other base model runs through its interface.
        self.fast = FastEmbedder(self.model.to(self.device), DTYPES[precision]) if type(self.model) is SetTransformer \
            else ModelEmbedder(self.model.to(self.device))
        self.notify = notify or (lambda message: log.warning("%s", message))
        self.quality = quality or QualityConfig()
        self._table = make_mapper("table", channel_map) if channel_map is not None else None
        self._mapper_name = channel_mapper
        self._fallback: ChannelMapper | None = None
        self._said_rate = False

    # ------------------------------------------------------------------ planning
    def open(self, path: Path) -> SignalStore:
        """The store with modalities: from ``--channel-map``, else stored ones, else the default mapper."""
        store = SignalStore(path, mapper=self._table)
        if store.published and self._table is None:
            store.close()
            if self._fallback is None:
                try:
                    self._fallback = make_mapper(self._mapper_name)
                except UnknownComponentError:
                    raise UsageError(
                        f"this file stores no modalities (a published converter's file) and the channel mapper "
                        f"{self._mapper_name!r} is not installed", where=path,
                        fix="pass --channel-map channel_groups.json (or another table of the same shape)",
                    ) from None
            store = SignalStore(path, mapper=self._fallback)
        return store

    def plan(self, store: SignalStore) -> StudyPlan:
        path = store.path
        if abs(store.rate - self.rate) > 1e-6:
            raise InputError(f"sampled at {store.rate:g} Hz; the model takes {self.rate:g} Hz", where=path,
                             fix="re-run `sleepfm preprocess`, which resamples to 128 Hz")
        groups = store.by_modality()
        channels = {m: [c.name for c in groups[m]] for m in MODALITIES if groups[m]}
        if not channels:
            raise InputError("no channel maps to BAS, RESP, EKG or EMG", where=path,
                             fix="see which labels it has with h5ls, and pass --channel-map FILE")
        n_samples = min(c.n_samples for m in channels for c in groups[m])
        full, rest = divmod(n_samples, self.chunk)
        real_patches = rest // self.patch
        pad = self.partial_chunk == "pad" and real_patches > 0
        n_chunks = full + 1 if pad else full
        kept = full * self.chunk + (real_patches * self.patch if pad else 0)
        if n_chunks == 0:
            fix = ("use --partial-chunk pad to embed it padded and masked" if self.partial_chunk == "drop"
                   else f"it is shorter than one {_duration(self.patch / self.rate)} patch")
            raise InputError(f"recording is {_duration(n_samples / self.rate)} long, shorter than one "
                             f"{_duration(self.chunk / self.rate)} chunk: nothing to embed with --partial-chunk "
                             f"{self.partial_chunk}", where=path, fix=fix)
        return StudyPlan(
            path=path, stem=path.stem, channels=channels, missing=[m for m in MODALITIES if m not in channels],
            n_samples=n_samples, n_chunks=n_chunks, padded_tokens=self.steps - real_patches if pad else 0,
            dropped_seconds=(n_samples - kept) / self.rate, rate_assumed=store.rate_assumed, rate=self.rate,
        )

    # ------------------------------------------------------------------ reading
    def _segments(self, paths: Iterable[Path], studies: deque[_Study]) -> Iterator[_Segment]:
        # One malformed file fails alone, named, whatever it raises; the others are embedded.
        for path in paths:
            try:
                store = self.open(path)
            except Exception as exc:  # noqa: BLE001
                studies.append(_Study(None, StudyFailure(Path(path), _as_input_error(exc, path))))
                continue
            with store:
                try:
                    plan = self.plan(store)
                except Exception as exc:  # noqa: BLE001
                    studies.append(_Study(None, StudyFailure(Path(path), _as_input_error(exc, path))))
                    continue
                if plan.rate_assumed and not self._said_rate:
                    self._said_rate = True
                    self.notify(f"{path}: no sampling rate stored (a published converter's file): assuming "
                                f"{self.rate:g} Hz, as the published pipeline does")
                try:
                    masks = quality_masks(store, plan.channels, plan.n_chunks, self.chunk, self.quality)
                except Exception as exc:  # noqa: BLE001 - damaged flags fail this study alone
                    studies.append(_Study(None, StudyFailure(Path(path), _as_input_error(exc, path))))
                    continue
                study = _Study(plan)
                dim = self.model.embed_dim
                study.result = StudyEmbeddings(
                    plan,
                    tokens={m: np.zeros((plan.n_chunks * self.steps, dim), np.float32) for m in plan.channels},
                    pooled={m: np.zeros((plan.n_chunks, dim), np.float32) for m in plan.channels},
                    masks=masks,
                )
                studies.append(study)
                try:
                    yield from self._read(store, study)
                except Exception as exc:  # noqa: BLE001 - segments already read are dropped with it
                    study.failure = StudyFailure(Path(path), _as_input_error(exc, path))

    def _read(self, store: SignalStore, study: _Study) -> Iterator[_Segment]:
        plan = study.plan
        assert plan is not None and study.result is not None and study.result.masks is not None
        masks = study.result.masks
        last_mask = None
        if plan.padded_tokens:
            last_mask = torch.zeros(self.steps, dtype=torch.bool)
            last_mask[self.steps - plan.padded_tokens:] = True
        for first in range(0, plan.n_chunks, self.batch_size):
            stop = min(first + self.batch_size, plan.n_chunks)
            start_sample, stop_sample = first * self.chunk, stop * self.chunk
            blocks = {}
            for modality, names in plan.channels.items():
                block = store.read_block(names, start_sample, min(stop_sample, plan.n_samples))
                if block.shape[1] < stop_sample - start_sample:  # the padded last chunk
                    block = np.pad(block, ((0, 0), (0, stop_sample - start_sample - block.shape[1])))
                masks.drop_non_finite(modality, block, first, self.chunk)
                blocks[modality] = block
            for chunk in range(first, stop):
                offset = (chunk - first) * self.chunk
                signals = {}
                for m, block in blocks.items():
                    rows = masks.rows(m, chunk)
                    if rows.size == block.shape[0]:  # every channel: a view, no copy
                        signals[m] = block[:, offset: offset + self.chunk]
                    elif rows.size:  # the channels quality masking kept; none left: the modality is missing here
                        signals[m] = block[rows, offset: offset + self.chunk]
                yield _Segment(study, chunk, signals, last_mask if chunk == plan.n_chunks - 1 else None)

    # ------------------------------------------------------------------ running
    def _forward(self, signals: list[np.ndarray], masks: list[torch.Tensor | None]) -> tuple[np.ndarray, np.ndarray]:
        # FastEmbedder sets each op's dtype itself; autocast covers whatever runs the model's modules.
        autocast = torch.autocast(self.device.type, dtype=torch.bfloat16) if self.precision == "bf16" else nullcontext()
        with torch.inference_mode(), autocast:
            # One copy gathers every item's channels (views into the blocks read from the file).
            channels = torch.from_numpy(np.concatenate(signals)).to(self.device, non_blocking=True)
            moved = [m.to(self.device) if m is not None else None for m in masks]
            pooled, sequence = self.fast.embed_stacked(channels, [s.shape[0] for s in signals], moved)
            return pooled.float().cpu().numpy(), sequence.float().cpu().numpy()

    def _units(self, batch: list[_Segment]) -> list[list[tuple[_Segment, Modality]]]:
        """The batch's units (module docstring), costliest first."""
        units: dict[tuple[int, Modality, int], list[tuple[_Segment, Modality]]] = {}
        for segment in batch:
            for modality in segment.signals:
                units.setdefault((id(segment.study), modality, segment.chunk // UNIT), []).append((segment, modality))
        # An item costs about one channel's tokenizing and pooling per channel, plus about two
        # channels' worth for its encoder pass.
        return sorted(units.values(), key=lambda unit: -sum(s.signals[m].shape[0] + 2 for s, m in unit))

    def _run_batch(self, batch: list[_Segment], pool: ThreadPoolExecutor | None) -> None:
        units = self._units(batch)
        # Balance the units across the workers (each single-threaded); which worker runs a unit
        # does not change its result.
        parts: list[list[list[tuple[_Segment, Modality]]]] = [[] for _ in range(min(self.workers, len(units)))]
        load = [0] * len(parts)
        for unit in units:
            target = load.index(min(load))
            parts[target].append(unit)
            load[target] += sum(s.signals[m].shape[0] + 2 for s, m in unit)

        def run(part: list[list[tuple[_Segment, Modality]]]) -> None:
            for unit in part:
                pooled, sequence = self._forward([s.signals[m] for s, m in unit], [s.patch_mask for s, _ in unit])
                for row, (segment, modality) in enumerate(unit):
                    result = segment.study.result
                    assert result is not None
                    result.pooled[modality][segment.chunk] = pooled[row]
                    tokens = result.tokens[modality]
                    tokens[segment.chunk * self.steps: (segment.chunk + 1) * self.steps] = sequence[row]

        if pool is not None and len(parts) > 1:
            list(pool.map(run, parts))
        else:
            for part in parts:
                run(part)
        for segment in batch:
            segment.study.done += 1

    def run(self, paths: Iterable[Path]) -> Iterator[StudyEmbeddings | StudyFailure]:
        """Embed every study; yields each result (or failure) in input order as soon as it is complete."""
        studies: deque[_Study] = deque()
        # Workers run single-threaded ops side by side; torch's thread count is process-wide,
        # so the caller's setting is put back afterwards.
        previous_threads = torch.get_num_threads()
        if self.device.type == "cpu":
            torch.set_num_threads(1)
        pool = ThreadPoolExecutor(self.workers) if self.workers > 1 else None
        stop = threading.Event()
        try:
            batch: list[_Segment] = []
            for segment in prefetched(self._segments(paths, studies), 2 * self.batch_size, stop):
                batch.append(segment)
                # A batch ends with a whole unit, so that no unit is split between two batches.
                plan = segment.study.plan
                assert plan is not None
                closes_unit = (segment.chunk + 1) % UNIT == 0 or segment.chunk == plan.n_chunks - 1
                if len(batch) >= self.batch_size and closes_unit:
                    self._run_batch(batch, pool)
                    batch = []
                    yield from _finished(studies)
            if batch:
                self._run_batch(batch, pool)
            yield from _finished(studies, final=True)
        finally:
            stop.set()
            if pool is not None:
                pool.shutdown()
            torch.set_num_threads(previous_threads)


def _as_input_error(exc: Exception, path: Path) -> SleepfmError:
    """``exc`` as one line naming the file (a reader's own :class:`SleepfmError` already does)."""
    if isinstance(exc, SleepfmError):
        return exc
    if isinstance(exc, OSError) and (full := disk_full(exc)) is not None:
        return full
    message = " ".join(str(exc).split())
    return InputError(f"cannot be embedded: {type(exc).__name__}: {message}", where=path,
                      fix="check that it is a signal store written by sleepfm preprocess")


def _duration(seconds: float) -> str:
    return f"{seconds:g} s" if seconds < 120 else f"{seconds / 60:.3g} min"


def _finished(studies: deque[_Study], final: bool = False) -> Iterator[Any]:
    while studies:
        study = studies[0]
        if study.failure is not None:
            yield studies.popleft().failure
        elif study.plan is not None and (study.done == study.plan.n_chunks or final):
            result = studies.popleft().result
            if result is not None and result.masks is not None and not result.masks.any_kept():
                yield StudyFailure(result.plan.path, InputError(
                    "no usable signal: every channel is non-finite or flagged by the quality checks in every chunk",
                    where=result.plan.path, fix="see `sleepfm qc` for the flags; --quality off feeds flagged channels"))
            else:
                yield result
        else:
            return
