"""HDF5 signal stores: one file per study, one float16 dataset per channel at 128 Hz.

The layout is the published converter's, so files written by either tool read in both:
every channel is a root-level 1-D float16 dataset named by its (unique) label, chunked in
5-minute blocks. sleepfm adds attributes the published files lack:

File attributes (:data:`FILE_ATTRS`)
    ``sampling_rate`` (Hz), ``duration`` (s), ``source_file``, ``start_time`` (ISO 8601 or
    ``""``), ``channel_mapper``, ``sleepfm_version``, ``format`` (``"sleepfm-signals"``).
Dataset attributes (:data:`CHANNEL_ATTRS`)
    ``label`` (as in the source file), ``unit``, ``original_rate`` (Hz), ``modality``
    (``BAS``/``RESP``/``EKG``/``EMG``, or ``""`` when unmapped), ``rule`` (which mapping rule
    decided), ``reason`` (why unmapped).

A published file has none of these: its rate is assumed to be 128 Hz (and logged), and
modalities come from a channel mapper applied to the dataset names.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from sleepfm.errors import InputError
from sleepfm.interfaces.channel_mapper import ChannelMapper
from sleepfm.interfaces.modality import MODALITIES, Modality

log = logging.getLogger(__name__)

FORMAT = "sleepfm-signals"
PUBLISHED_RATE = 128.0
CHUNK_SECONDS = 300
FILE_ATTRS = ("sampling_rate", "duration", "source_file", "start_time", "channel_mapper", "sleepfm_version", "format")
CHANNEL_ATTRS = ("label", "unit", "original_rate", "modality", "rule", "reason")


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


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return "" if value is None else str(value)


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
        attrs = self._file.attrs
        self.published = _text(attrs.get("format")) != FORMAT
        #: True when the file stores no rate and :data:`PUBLISHED_RATE` is assumed.
        self.rate_assumed = "sampling_rate" not in attrs
        if "sampling_rate" in attrs:
            self.rate = float(attrs["sampling_rate"])
        else:
            self.rate = PUBLISHED_RATE
            log.info("%s stores no sampling rate (published converter); assuming %g Hz", self.path, PUBLISHED_RATE)
        self.source_file = _text(attrs.get("source_file"))
        self.start_time = _text(attrs.get("start_time"))
        names = [name for name, obj in self._file.items() if isinstance(obj, h5py.Dataset) and obj.ndim == 1]
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
                text = _text(attrs["modality"])
                modality = Modality(text) if text else None
                rule = _text(attrs.get("rule"))
            else:
                modality, rule = None, "no-mapper"
            channels.append(
                StoredChannel(
                    name=name,
                    label=_text(attrs.get("label")) or name,
                    modality=modality,
                    unit=_text(attrs.get("unit")),
                    original_rate=float(attrs["original_rate"]) if "original_rate" in attrs else None,
                    rule=rule,
                    n_samples=int(self._file[name].shape[0]),
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
        dataset = self._file[name]
        return dataset[start:stop].astype(np.float32)

    def read_block(self, names: list[str], start: int, stop: int) -> np.ndarray:
        """Samples ``[start, stop)`` of several channels as float32 (C, stop - start)."""
        out = np.empty((len(names), stop - start), dtype=np.float32)
        for i, name in enumerate(names):
            out[i] = self._file[name][start:stop]
        return out

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> SignalStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SignalStoreWriter:
    """Writes a signal store under a temporary name; :meth:`commit` renames it into place.

    Used as a context manager, an exception inside the block removes the temporary file, so
    no half-written ``.h5`` is ever left where a later run would take it for complete.
    """

    def __init__(
        self,
        path: Path,
        *,
        rate: float,
        source_file: str = "",
        start_time: str = "",
        channel_mapper: str = "",
        compression: str | None = "gzip",
        compression_opts: Any = None,
    ) -> None:
        from sleepfm import __version__

        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp_path = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        self.rate = rate
        self.chunk = round(CHUNK_SECONDS * rate)
        self._compression = compression
        self._compression_opts = compression_opts
        self._file = h5py.File(self.tmp_path, "w")
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

    def add_channel(
        self,
        name: str,
        data: np.ndarray,
        *,
        label: str,
        unit: str = "",
        original_rate: float | None = None,
        modality: Modality | None = None,
        rule: str = "",
        reason: str | None = None,
    ) -> None:
        """Store one channel (converted to float16) as dataset ``name``."""
        if "/" in name or name in self._file:
            raise ValueError(f"dataset name {name!r} is not unique or contains '/'")
        data = np.asarray(data, dtype=np.float16)
        # h5py refuses a chunk longer than the data; a short study gets one chunk.
        chunk = (min(self.chunk, data.shape[0]),) if data.shape[0] else None
        dataset = self._file.create_dataset(
            name, data=data, chunks=chunk, compression=self._compression if chunk else None,
            compression_opts=self._compression_opts if chunk else None,
        )
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
        self._n_samples = max(self._n_samples, data.shape[0])

    def commit(self) -> Path:
        """Finish the file and move it to its final name."""
        self._file.attrs["duration"] = self._n_samples / self.rate
        self._file.close()
        os.replace(self.tmp_path, self.path)
        return self.path

    def abort(self) -> None:
        """Discard the partial file."""
        try:
            self._file.close()
        finally:
            self.tmp_path.unlink(missing_ok=True)

    def __enter__(self) -> SignalStoreWriter:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if exc_type is not None:
            self.abort()
        elif self._file.id.valid:
            self.commit()


def iter_stores(paths: list[Path]) -> Iterator[Path]:
    """Expand files and folders into ``.h5``/``.hdf5`` files (folders recursively, sorted)."""
    for path in paths:
        path = Path(path)
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.suffix.lower() in (".h5", ".hdf5") and p.is_file())
        else:
            yield path
