"""One study: a PSG recording → one 128 Hz float16 HDF5 signal store.

Channels are processed in a thread pool (reading, resampling, float16 conversion and
chunk compression release the GIL) and written as they finish; at most ``threads``
channels are in memory at the file's rate at any time. The store is written under a
temporary name and renamed when complete (:class:`~sleepfm.store.signal_writer.SignalStoreWriter`).

Channels whose resampled signal contains NaN are not stored (the published converter
dropped them too, but shifted every later channel's name — REF-BUG §10.1). Here names are
computed from the labels before any processing, so every stored channel keeps its own
name; the dropped one is listed in the file attribute ``dropped_channels`` and in the
manifest.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sleepfm.config.quality import QualityConfig
from sleepfm.errors import DiskFullError, InputError, disk_full
from sleepfm.interfaces.channel_mapper import ChannelAssignment, ChannelMapper
from sleepfm.interfaces.modality import MODALITIES
from sleepfm.interfaces.quality_check import ChannelSignal
from sleepfm.interfaces.signal_reader import ChannelInfo, Recording
from sleepfm.map import make_mapper
from sleepfm.quality.assess import ChannelResult, CheckSet, assess_channel, channel_signal, collect
from sleepfm.quality.checks import ZscoreDominated
from sleepfm.read import read_recording
from sleepfm.resample.fast import Resampler
from sleepfm.store.compression import Compression, EncodedChannel
from sleepfm.store.signal_names import dataset_names
from sleepfm.store.signal_store import CHUNK_SECONDS, StoredChannel
from sleepfm.store.signal_writer import SignalStoreWriter
from sleepfm.warnings_log import warnings_to_log

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConvertOptions:
    """What every study of a batch is converted with (picklable: it travels to worker processes)."""

    target_rate: float = 128.0
    compression: Compression = field(default_factory=Compression)
    threads: int = 1
    reader: str = "auto"
    channel_mapper: str = "rules"
    channel_map: Path | None = None
    #: ``--scale robust``: clip at this many robust standard deviations before the z-score (None: published),
    #: channels whose z-score artifacts would dominate only (docs/quality.md).
    clip: float | None = None
    #: Quality checks whose flags are kept in the store (None: none run).
    quality: QualityConfig | None = None

    def mapper(self) -> ChannelMapper:
        return make_mapper("table", self.channel_map) if self.channel_map is not None \
            else make_mapper(self.channel_mapper)

    @property
    def mapper_description(self) -> str:
        return f"table:{self.channel_map}" if self.channel_map is not None else self.channel_mapper


@dataclass
class StudyResult:
    """The outcome for one input file (one manifest row)."""

    file: str
    output: str
    status: str  # "done", "skipped" (already complete), "ignored" (annotations only) or "failed"
    channels: int = 0
    modalities: list[str] = field(default_factory=list)
    duration: float = 0.0
    seconds: float = 0.0
    backend: str = ""
    warnings: list[str] = field(default_factory=list)
    error: str = ""


def convert_file(source: Path, output: Path, options: ConvertOptions) -> StudyResult:
    """Convert ``source`` into ``output``; bad input becomes a failed result, never an exception."""

    started = time.perf_counter()
    result = StudyResult(str(source), str(output), "failed")
    try:
        with warnings_to_log(), read_recording(source, options.reader) as recording:
            result.backend = recording.backend
            convert_recording(recording, output, options.mapper().for_recording(Path(source)), options, result)
        result.status = "done"
    except DiskFullError as exc:
        result.error = f"{source}: {exc}"
    except InputError as exc:
        result.error = str(exc)
    except MemoryError:
        result.error = f"{source}: out of memory — use fewer --workers"
    except Exception as exc:
        if (full := disk_full(exc, output.parent)) is not None:
            result.error = f"{source}: {full}"
        else:
            log.debug("unexpected failure on %s", source, exc_info=True)
            result.error = f"{source}: unexpected {type(exc).__name__}: {exc} — rerun with --debug and report it"
    result.seconds = round(time.perf_counter() - started, 3)
    return result


def _file_grid(recording: Recording) -> tuple[float, int]:
    """The file's highest rate and a channel's length at it (what MNE resamples every channel to)."""
    if hasattr(recording, "file_rate") and hasattr(recording, "file_samples"):
        return recording.file_rate, recording.file_samples  # type: ignore[attr-defined]
    rate = max(c.rate for c in recording.channels)
    lengths = {round(c.n_samples * rate / c.rate) for c in recording.channels}
    if len(lengths) != 1:
        raise InputError("channels cover different durations", where=recording.path)
    return rate, lengths.pop()


def _is_flat(data: np.ndarray) -> bool:
    """Whether every sample is equal (a sparse look first: nearly every channel fails it at once)."""
    if not data.shape[0]:
        return False
    sample = data[:: max(1, data.shape[0] // 4096)]
    return bool(sample.min() == sample.max() and data.min() == data.max())


@dataclass
class _Processed:
    """One channel after its worker thread: encoded samples (None if NaN), flatness, quality flags."""

    encoded: EncodedChannel | None
    flat: bool
    quality: ChannelResult | None = None
    physical: dict[str, float | None] = field(default_factory=dict)


def _process(recording: Recording, resampler: Resampler, info: ChannelInfo, writer: SignalStoreWriter,
             decision: ChannelAssignment, name: str, options: ConvertOptions, checks: CheckSet | None) -> _Processed:
    """Read, resample, encode and check one channel (in a worker thread)."""
    target = resampler.new_signal(info.n_samples)
    if hasattr(recording, "read_published"):
        recording.read_published(info.index, out=target.data)  # type: ignore[attr-defined]
        unit_scale = recording.published_scale(info.index)  # type: ignore[attr-defined]
    else:
        target.data[:] = recording.read(info.index)
        unit_scale = 1.0
    flat = _is_flat(target.data)
    clip, ratio = _robust_scaling(options, info, decision)
    samples, mean, spread = resampler.resample(target, dtype=np.float16, clip=clip, clip_ratio=ratio)
    if np.isnan(samples).any():
        return _Processed(None, flat)
    # Stored values back to the file's physical unit: undo the z-score, then MNE's unit scale.
    physical = {"scale": spread / unit_scale, "offset": mean / unit_scale,
                "physical_min": info.physical_min, "physical_max": info.physical_max}
    quality = None
    stored = StoredChannel(name=name, label=info.label, modality=decision.modality, unit=info.unit,
                           original_rate=info.rate, n_samples=samples.shape[0], **physical)
    if checks is not None and checks.wants(stored):
        quality = assess_channel(channel_signal(samples, stored, resampler.target), checks)
    return _Processed(writer.encode(samples), flat, quality, physical)


def _robust_scaling(options: ConvertOptions, info: ChannelInfo, decision: ChannelAssignment
                    ) -> tuple[float | None, float]:
    """``(clip, ratio)`` for ``--scale robust``: the channels the ``zscore_dominated`` check judges
    (EEG and respiration; not the ECG, EMG, EOG or levels, spiky or steady by nature), clipped when
    their standard deviation exceeds its ``max_ratio`` times the robust one."""
    if options.clip is None:
        return None, 0.0

    check = ZscoreDominated()
    probe = ChannelSignal(name=info.label, label=info.label, modality=decision.modality, unit=info.unit, rate=128.0,
                          samples=np.zeros(0, dtype=np.float32))
    if not check.applies(probe):
        return None, 0.0
    return options.clip, check.config.max_ratio


def convert_recording(
    recording: Recording,
    output: Path,
    mapper: ChannelMapper,
    options: ConvertOptions,
    result: StudyResult | None = None,
) -> StudyResult:
    """Write ``recording`` as a signal store at ``output``; raises :class:`InputError` if it cannot be."""
    result = result or StudyResult(str(recording.path), str(output), "failed")
    channels = recording.channels
    names = dataset_names([c.label for c in channels])
    decisions = mapper.assign(names)
    if not any(d.mapped for d in decisions):
        shown = ", ".join(repr(c.label) for c in channels[:8]) + (", ..." if len(channels) > 8 else "")
        raise InputError(
            f"none of its {len(channels)} channels maps to a modality ({shown})",
            where=recording.path,
            fix="see `sleepfm channels FILE` for why; pass --channel-map FILE for other labels",
        )
    file_rate, file_samples = _file_grid(recording)
    resampler = Resampler(file_rate, file_samples, options.target_rate)
    start = recording.start_time.isoformat() if recording.start_time else ""
    with SignalStoreWriter(
        output, rate=options.target_rate, source_file=str(recording.path), start_time=start,
        channel_mapper=options.mapper_description, compression=options.compression,
    ) as writer:
        checks = CheckSet.from_config(options.quality) if options.quality is not None else None
        stored, flat = _write_channels(recording, resampler, writer, names, decisions, options, checks)
        duration = resampler.n_out / options.target_rate
        for note in _notes(duration, stored, flat, writer.dropped, getattr(recording, "gaps", [])):
            writer.note(note)
    result.channels = len(stored)
    result.modalities = [m.value for m in MODALITIES if any(d.modality is m for d in stored)]
    result.duration = duration
    result.warnings = writer.notes
    return result


def _write_channels(
    recording: Recording,
    resampler: Resampler,
    writer: SignalStoreWriter,
    names: list[str],
    decisions: list[ChannelAssignment],
    options: ConvertOptions,
    checks: CheckSet | None,
) -> tuple[list[ChannelAssignment], list[str]]:
    stored: list[ChannelAssignment] = []
    flat: list[str] = []
    quality: dict[int, ChannelResult] = {}
    pending: dict[Future, int] = {}
    order = iter(range(len(recording.channels)))
    threads = max(1, options.threads)

    def submit(position: int) -> None:
        future = pool.submit(_process, recording, resampler, recording.channels[position], writer,
                             decisions[position], names[position], options, checks)
        pending[future] = position

    with ThreadPoolExecutor(max_workers=threads) as pool:
        # Keep at most ``threads`` channels in flight: each holds a channel at the file's rate.
        for position in order:
            submit(position)
            if len(pending) >= threads:
                break
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                position = pending.pop(future)
                info, decision = recording.channels[position], decisions[position]
                done: _Processed = future.result()
                if done.flat:
                    flat.append(info.label)
                if done.encoded is None:
                    writer.drop_channel(info.label, "NaN after resampling")
                else:
                    writer.add_channel(
                        names[position], done.encoded, label=info.label, unit=info.unit, original_rate=info.rate,
                        modality=decision.modality, rule=decision.rule, reason=decision.reason,
                        physical=done.physical,
                    )
                    stored.append(decision)
                    if done.quality is not None:
                        quality[position] = done.quality
                following = next(order, None)
                if following is not None:
                    submit(following)
    if checks is not None:
        kept = sorted(quality)
        writer.quality = collect([names[p] for p in kept], [quality[p] for p in kept], checks)
    return stored, flat


def _notes(duration: float, stored: list[ChannelAssignment], flat: list[str], dropped: list[dict[str, str]],
           gaps: list[tuple[float, float]]) -> list[str]:
    notes = []
    if duration < CHUNK_SECONDS:
        notes.append(f"only {duration:g} s long: stored, but shorter than one 5-minute chunk, so embedding "
                     "yields nothing for it")
    missing = [m.value for m in MODALITIES if not any(d.modality is m for d in stored)]
    if missing:
        notes.append(f"no {'/'.join(missing)} channel: the published loaders skip studies missing a modality")
    if flat:
        notes.append(f"constant (flat) channel(s): {', '.join(flat)}")
    for item in dropped:
        notes.append(f"channel {item['label']!r} not stored: {item['reason']}")
    if gaps:
        total = sum(length for _, length in gaps)
        notes.append(f"{len(gaps)} gap(s) between EDF+D records ({total:g} s), filled with the last sample")
    return notes
