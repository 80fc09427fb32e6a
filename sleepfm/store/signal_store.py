"""HDF5 signal stores: one file per study, one float16 dataset per channel at 128 Hz.

The layout is the published converter's, so files written by either tool read in both:
every channel is a root-level 1-D float16 dataset named by its (unique) label, chunked in
5-minute blocks. sleepfm adds attributes the published files lack:

File attributes (:data:`FILE_ATTRS`)
    ``sampling_rate`` (Hz), ``duration`` (s), ``source_file``, ``start_time`` (ISO 8601 or
    ``""``), ``channel_mapper``, ``sleepfm_version``, ``format`` (``"sleepfm-signals"``).
    Optional: ``dropped_channels`` (JSON list of ``{"label", "reason"}`` for channels not
    stored, e.g. NaN after resampling) and ``notes`` (JSON list of warnings about the study).
Dataset attributes (:data:`CHANNEL_ATTRS`)
    ``label`` (as in the source file), ``unit``, ``original_rate`` (Hz), ``modality``
    (``BAS``/``RESP``/``EKG``/``EMG``, or ``""`` when unmapped), ``rule`` (which mapping rule
    decided), ``reason`` (why unmapped). Optional (:data:`PHYSICAL_ATTRS`, for the quality
    checks): ``scale`` and ``offset`` (``physical = stored * scale + offset`` in ``unit``) and
    ``physical_min``/``physical_max`` (the recording's limits from its header, in ``unit``).
Quality flags
    The group ``sleepfm_quality`` (:mod:`sleepfm.quality.flags`): per channel and 5-s patch,
    which quality checks flagged it. A group, so it is never taken for a channel.

A published file has none of these: its rate is assumed to be 128 Hz (and logged), and
modalities come from a channel mapper applied to the dataset names.

Dataset names follow :func:`sleepfm.store.signal_names.dataset_names` (MNE's ``X-0``,
``X-1`` for repeated labels, ``/`` → ``-``). A file is written as
``.<name>.<host>-<pid>.tmp`` beside its final path and renamed only when complete, so an
``.h5`` that exists is whole; :func:`remove_stale_temporaries` deletes the leftovers of
killed runs on this host.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import h5py
import numpy as np

from sleepfm.errors import InputError, disk_full
from sleepfm.interfaces.channel_mapper import ChannelMapper
from sleepfm.interfaces.modality import MODALITIES, Modality
from sleepfm.store.checks import (
    REDO,
    check_channel,
    json_list_attribute,
    modality_attribute,
    number_attribute,
    text_attribute,
)
from sleepfm.store.chunk_reader import ChunkLayout, InflateError, chunk_layout, read_into
from sleepfm.store.compression import Compression, EncodedChannel, encode

if TYPE_CHECKING:
    from sleepfm.quality.flags import QualityFlags

log = logging.getLogger(__name__)

FORMAT = "sleepfm-signals"
PUBLISHED_RATE = 128.0
CHUNK_SECONDS = 300
FILE_ATTRS = ("sampling_rate", "duration", "source_file", "start_time", "channel_mapper", "sleepfm_version", "format")
CHANNEL_ATTRS = ("label", "unit", "original_rate", "modality", "rule", "reason")
PHYSICAL_ATTRS = ("scale", "offset", "physical_min", "physical_max")
# Filters that live in hdf5plugin rather than in libhdf5/h5py (Blosc, Blosc2, Zstd, LZ4, Bitshuffle).
_PLUGIN_FILTERS = {32001, 32026, 32015, 32004, 32008}


@dataclass(frozen=True)
class StoredChannel:
    """One channel of a signal store."""

    name: str
    label: str
    modality: Modality | None
    unit: str = ""
    original_rate: float | None = None
    rule: str = ""
    n_samples: int = 0
    #: ``physical = stored * scale + offset`` in ``unit``, and the recording's limits; None when unknown.
    scale: float | None = None
    offset: float | None = None
    physical_min: float | None = None
    physical_max: float | None = None


def _number(attrs: Any, key: str) -> float | None:
    """A finite float attribute, or None when absent or not a finite number."""
    try:
        value = float(attrs[key])
    except (KeyError, TypeError, ValueError):
        return None
    return value if np.isfinite(value) else None


class SignalStore:
    """Read access to a signal store (ours or the published converter's).

    Channels are listed in HDF5 key order (lexicographic), the order the published code
    uses within a modality. Only root-level datasets are channels: the published converter
    turned labels containing ``/`` into nested groups, which it never read either.
    """

    def __init__(self, path: Path, *, mapper: ChannelMapper | None = None) -> None:
        self.path = Path(path)
        try:
            self._file = h5py.File(self.path, "r")
        except FileNotFoundError:
            raise InputError("file not found", where=self.path) from None
        except OSError as exc:
            raise InputError(f"not a readable HDF5 file ({exc})", where=self.path,
                             fix="re-run `sleepfm preprocess` for this study") from None
        try:
            self._read_layout(mapper)
        except BaseException as exc:
            self._file.close()
            if isinstance(exc, OSError | KeyError | RuntimeError):  # h5py on a damaged file
                raise InputError(f"malformed signal store ({type(exc).__name__}: {exc})", where=self.path,
                                 fix=REDO) from None
            raise

    def _read_layout(self, mapper: ChannelMapper | None) -> None:
        """Read and check every attribute and the channels' declared shapes (one line per problem)."""
        attrs = self._file.attrs
        self.published = text_attribute(attrs.get("format")) != FORMAT
        self._layouts: dict[str, ChunkLayout | None] = {}
        #: True when the file stores no rate and :data:`PUBLISHED_RATE` is assumed.
        self.rate_assumed = "sampling_rate" not in attrs
        if "sampling_rate" in attrs:
            self.rate = number_attribute(attrs["sampling_rate"], "attribute 'sampling_rate'", self.path,
                                         positive=True)
        else:
            self.rate = PUBLISHED_RATE
            log.info("%s stores no sampling rate (published converter); assuming %g Hz", self.path, PUBLISHED_RATE)
        self.source_file = text_attribute(attrs.get("source_file"))
        self.start_time = text_attribute(attrs.get("start_time"))
        names = [name for name, obj in self._file.items() if isinstance(obj, h5py.Dataset) and obj.ndim == 1]
        for name in names:
            check_channel(self._file[name], self.rate, self.path)
        if names:
            _load_filters(self._file[names[0]])
        self.dropped = json_list_attribute(attrs, "dropped_channels", self.path)
        self.notes = json_list_attribute(attrs, "notes", self.path)
        self.channels = self._describe(names, mapper)
        self.n_samples = min((c.n_samples for c in self.channels), default=0)

    def _describe(self, names: list[str], mapper: ChannelMapper | None) -> list[StoredChannel]:
        stored = {n: self._file[n].attrs for n in names}
        # A mapper given by the caller wins over stored modalities: it is how a user applies
        # the published table (or another rule set) to files we wrote.
        decisions = {a.label: a for a in mapper.assign(names)} if mapper is not None else {}
        channels = []
        for name in names:
            attrs = stored[name]
            if name in decisions:
                modality, rule = decisions[name].modality, decisions[name].rule
            elif "modality" in attrs:
                modality = modality_attribute(attrs["modality"], name, self.path)
                rule = text_attribute(attrs.get("rule"))
            else:
                modality, rule = None, "no-mapper"
            channels.append(
                StoredChannel(
                    name=name,
                    label=text_attribute(attrs.get("label")) or name,
                    modality=modality,
                    unit=text_attribute(attrs.get("unit")),
                    original_rate=number_attribute(attrs["original_rate"], f"attribute 'original_rate' of {name!r}",
                                                   self.path) if "original_rate" in attrs else None,
                    rule=rule,
                    n_samples=int(self._file[name].shape[0]),
                    **{key: _number(attrs, key) for key in PHYSICAL_ATTRS},
                )
            )
        return channels

    @property
    def duration(self) -> float:
        return self.n_samples / self.rate

    def by_modality(self) -> dict[Modality, list[StoredChannel]]:
        """Mapped channels per modality (every modality present as a key, maybe empty)."""
        groups: dict[Modality, list[StoredChannel]] = {m: [] for m in MODALITIES}
        for channel in self.channels:
            if channel.modality is not None:
                groups[channel.modality].append(channel)
        return groups

    def read(self, name: str, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Samples ``[start, stop)`` of channel ``name`` as float32."""
        length = self._file[name].shape[0]
        start, stop, _ = slice(start, stop).indices(length)
        return self.read_block([name], start, max(start, stop))[0]

    def read_block(self, names: list[str], start: int, stop: int) -> np.ndarray:
        """Samples ``[start, stop)`` of several channels as float32 (C, stop - start).

        gzip-compressed and uncompressed chunks are inflated without holding the GIL
        (:mod:`sleepfm.store.chunk_reader`), so a reading thread does not stall compute.
        """
        out = np.empty((len(names), stop - start), dtype=np.float32)
        for i, name in enumerate(names):
            dataset = self._file[name]
            if name not in self._layouts:
                self._layouts[name] = chunk_layout(dataset)
            layout = self._layouts[name]
            try:
                if stop > dataset.shape[0] or layout is None or not read_into(dataset, layout, start, stop, out[i]):
                    out[i] = dataset[start:stop]
            except (OSError, RuntimeError, ValueError, InflateError) as exc:  # a damaged chunk
                raise InputError(f"channel {name!r}: samples {start}-{stop} cannot be read ({exc})",
                                 where=self.path, fix=REDO) from None
        return out

    def quality_flags(self) -> QualityFlags | None:
        """The quality flags ``sleepfm preprocess`` kept, or None (none kept, or unreadable)."""
        from sleepfm.quality.flags import QualityFlags

        return QualityFlags.read(self._file)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> SignalStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _load_filters(dataset: h5py.Dataset) -> None:
    """Import hdf5plugin when ``dataset`` is compressed with one of its filters."""
    plist = dataset.id.get_create_plist()
    if any(plist.get_filter(i)[0] in _PLUGIN_FILTERS for i in range(plist.get_nfilters())):
        import hdf5plugin  # noqa: F401 - registers the filters with HDF5


def temporary_path(path: Path) -> Path:
    """Where the file for ``path`` is written before it is complete (hidden, per host and process)."""
    return path.with_name(f".{path.name}.{socket.gethostname()}-{os.getpid()}.tmp")


def write_text_atomically(path: Path, text: str) -> Path:
    """Write ``path`` through :func:`temporary_path` and a rename (cleaned up if a run is killed)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = temporary_path(path)
    try:
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
    except OSError as exc:
        raise disk_full(exc, path.parent) or exc from None
    finally:
        temporary.unlink(missing_ok=True)
    return path


def remove_stale_temporaries(folder: Path) -> list[Path]:
    """Delete temporary files left in ``folder`` by killed runs of this host; returns them.

    A temporary belongs to a dead run when it was made on this host by a process that no
    longer exists. Files of other hosts (a shared folder written by a cluster job array)
    and of live processes are left alone.
    """
    removed = []
    marker = f".{socket.gethostname()}-"
    for candidate in Path(folder).glob(".*.tmp"):
        head, found, pid = candidate.name[: -len(".tmp")].rpartition(marker)
        if not found or not head or not pid.isdigit():
            continue
        try:
            written = candidate.stat().st_mtime
        except FileNotFoundError:
            continue
        if _writer_alive(int(pid), written):
            continue
        candidate.unlink(missing_ok=True)
        removed.append(candidate)
    return removed


def _writer_alive(pid: int, written: float) -> bool:
    """Whether process ``pid`` may still be writing a file last modified at ``written``."""
    if os.name != "posix":  # os.kill(pid, 0) would terminate the process on Windows
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # os.kill succeeds for a killed worker that is still a zombie (not yet reaped by its new
    # parent) and for an unrelated process that got the pid recycled; on Linux /proc tells both.
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        boot = next(float(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime "))
    except (OSError, IndexError, StopIteration, ValueError):
        return True
    if fields[0] in ("Z", "X"):
        return False
    started = boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    return started <= written + 1.0


class SignalStoreWriter:
    """Writes a signal store under a temporary name; :meth:`commit` renames it into place.

    Used as a context manager, an exception inside the block removes the temporary file, so
    no half-written ``.h5`` is ever left where a later run would take it for complete.

    ``compression`` is a codec name (``"gzip"``, ``"lzf"``, ``"zstd"``, ``"none"``/None) with
    ``compression_opts`` its level, or a :class:`~sleepfm.store.compression.Compression`.
    Channels can be handed over already encoded (:meth:`encode`, thread-safe), which is how
    the preprocessing compresses in its worker threads.
    """

    def __init__(
        self,
        path: Path,
        *,
        rate: float,
        source_file: str = "",
        start_time: str = "",
        channel_mapper: str = "",
        compression: str | Compression | None = "gzip",
        compression_opts: Any = None,
        shuffle: bool = False,
    ) -> None:
        from sleepfm import __version__

        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp_path = temporary_path(self.path)
        self.rate = rate
        self.chunk = round(CHUNK_SECONDS * rate)
        if not isinstance(compression, Compression):
            compression = Compression(compression or "none", compression_opts, shuffle)
        self.compression = compression
        from sleepfm.store.h5_output import H5Output

        self._output = H5Output(self.tmp_path)
        self._file = self._output.file
        self._file.attrs.update(
            {
                "format": FORMAT,
                "sampling_rate": float(rate),
                "source_file": source_file,
                "start_time": start_time,
                "channel_mapper": channel_mapper,
                "sleepfm_version": __version__,
            }
        )
        self._n_samples = 0
        self.dropped: list[dict[str, str]] = []
        self.notes: list[str] = []
        self.quality: QualityFlags | None = None

    def encode(self, data: np.ndarray) -> EncodedChannel:
        """Prepare ``data`` for :meth:`add_channel` (float16, compressed chunks); safe in any thread."""
        return encode(data, self.chunk, self.compression)

    def add_channel(
        self,
        name: str,
        data: np.ndarray | EncodedChannel,
        *,
        label: str,
        unit: str = "",
        original_rate: float | None = None,
        modality: Modality | None = None,
        rule: str = "",
        reason: str | None = None,
        physical: dict[str, float | None] | None = None,
    ) -> None:
        """Store one channel (converted to float16) as dataset ``name``; ``physical`` holds the
        optional :data:`PHYSICAL_ATTRS` (those that are None are not written)."""
        if "/" in name or name in self._file:
            raise ValueError(f"dataset name {name!r} is not unique or contains '/'")
        encoded = data if isinstance(data, EncodedChannel) else self.encode(data)
        samples = encoded.data
        # h5py refuses a chunk longer than the data; a short study gets one chunk.
        if not encoded.chunk:
            dataset = self._file.create_dataset(name, data=samples)
        elif encoded.chunks is None:
            dataset = self._file.create_dataset(
                name, data=samples, chunks=(encoded.chunk,), **self.compression.dataset_options()
            )
        else:
            dataset = self._file.create_dataset(
                name, shape=samples.shape, dtype=np.float16, chunks=(encoded.chunk,),
                **self.compression.dataset_options(),
            )
            for i, blob in enumerate(encoded.chunks):
                dataset.id.write_direct_chunk((i * encoded.chunk,), blob)
        dataset.attrs.update(
            {
                "label": label,
                "unit": unit,
                "original_rate": float(original_rate) if original_rate is not None else float("nan"),
                "modality": modality.value if modality is not None else "",
                "rule": rule,
                "reason": reason or "",
            }
        )
        extra = {k: float(v) for k, v in (physical or {}).items() if k in PHYSICAL_ATTRS and v is not None}
        dataset.attrs.update(extra)
        self._n_samples = max(self._n_samples, samples.shape[0])

    def drop_channel(self, label: str, reason: str) -> None:
        """Record a channel that is not stored, and why (file attribute ``dropped_channels``)."""
        self.dropped.append({"label": label, "reason": reason})

    def note(self, message: str) -> None:
        """Record a warning about the study (file attribute ``notes``)."""
        self.notes.append(message)

    def commit(self) -> Path:
        """Finish the file and move it to its final name."""
        self._file.attrs["duration"] = self._n_samples / self.rate
        if self.dropped:
            self._file.attrs["dropped_channels"] = json.dumps(self.dropped, ensure_ascii=False)
        if self.notes:
            self._file.attrs["notes"] = json.dumps(self.notes, ensure_ascii=False)
        if self.quality is not None:
            self.quality.write(self._file)
        return self._output.commit(self.path)

    def abort(self) -> None:
        """Discard the partial file."""
        self._output.discard()

    def __enter__(self) -> SignalStoreWriter:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if exc_type is not None:
            self.abort()
        elif self._file.id.valid:
            self.commit()


def iter_stores(paths: list[Path]) -> Iterator[Path]:
    """Expand files, folders and glob patterns into ``.h5``/``.hdf5`` files
    (:func:`sleepfm.read.discover.find_stores`: folders recursively, sorted)."""
    from sleepfm.read.discover import find_stores

    yield from find_stores(paths)
