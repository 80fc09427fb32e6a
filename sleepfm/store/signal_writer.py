"""Writing HDF5 signal stores (the layout: :mod:`sleepfm.store.signal_store`).

A file is written as ``.<name>.<host>-<pid>.tmp`` beside its final path and renamed only when
complete, so an ``.h5`` that exists is whole; :func:`remove_stale_temporaries` deletes the
leftovers of killed runs on this host (and only of dead processes: a cluster's job array may
share the folder).
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sleepfm import __version__
from sleepfm.errors import disk_full
from sleepfm.interfaces.modality import Modality
from sleepfm.store.compression import Compression, EncodedChannel, encode
from sleepfm.store.h5_output import H5Output
from sleepfm.store.signal_store import CHUNK_SECONDS, FORMAT, PHYSICAL_ATTRS

if TYPE_CHECKING:
    from sleepfm.quality.flags import QualityFlags


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
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp_path = temporary_path(self.path)
        self.rate = rate
        self.chunk = round(CHUNK_SECONDS * rate)
        if not isinstance(compression, Compression):
            compression = Compression(compression or "none", compression_opts, shuffle)
        self.compression = compression

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
