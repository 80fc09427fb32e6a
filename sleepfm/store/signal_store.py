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
``X-1`` for repeated labels, ``/`` → ``-``). Writing them: :mod:`sleepfm.store.signal_writer`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import h5py
import numpy as np

from sleepfm.errors import InputError
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


def iter_stores(paths: list[Path]) -> Iterator[Path]:
    """Expand files, folders and glob patterns into ``.h5``/``.hdf5`` files
    (:func:`sleepfm.read.discover.find_stores`: folders recursively, sorted)."""
    from sleepfm.read.discover import find_stores

    yield from find_stores(paths)
