"""Compression of signal datasets, chosen by measurement (numbers in docs/preprocess.md).

``gzip`` and ``lzf`` (with HDF5's byte shuffle) are read by every h5py, so files keep
reading in the published tool; ``zstd`` (Blosc + Zstandard through ``hdf5plugin``) is
faster and smaller but needs ``import hdf5plugin`` in the reading process.

For ``gzip`` the chunks are compressed by :func:`encode` in the caller's thread (zlib
releases the GIL) and written with ``write_direct_chunk``: HDF5 would otherwise compress
every chunk of every channel on the one writing thread. The bytes are exactly what HDF5's
shuffle and deflate filters produce and read back.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

CODECS = ("gzip", "lzf", "zstd", "none")


@dataclass(frozen=True)
class Compression:
    """How datasets are compressed. ``level`` applies to gzip (1-9) and zstd (1-22)."""

    codec: str = "gzip"
    level: int | None = None
    shuffle: bool = True

    def __post_init__(self) -> None:
        if self.codec not in CODECS:
            raise ValueError(f"unknown compression {self.codec!r}; use one of {', '.join(CODECS)}")

    @property
    def gzip_level(self) -> int:
        return 4 if self.level is None else self.level

    @property
    def encodes_chunks(self) -> bool:
        """Whether :func:`encode` compresses chunks itself (for direct chunk writes)."""
        return self.codec == "gzip"

    def dataset_options(self) -> dict[str, Any]:
        """Keyword arguments for ``h5py.Group.create_dataset``."""
        if self.codec == "none":
            return {}
        if self.codec == "gzip":
            return {"compression": "gzip", "compression_opts": self.gzip_level, "shuffle": self.shuffle}
        if self.codec == "lzf":
            return {"compression": "lzf", "shuffle": self.shuffle}
        import hdf5plugin

        shuffle = hdf5plugin.Blosc.SHUFFLE if self.shuffle else hdf5plugin.Blosc.NOSHUFFLE
        return dict(hdf5plugin.Blosc(cname="zstd", clevel=1 if self.level is None else self.level, shuffle=shuffle))


@dataclass
class EncodedChannel:
    """A channel ready to store: its float16 samples, and its compressed chunks when pre-encoded."""

    data: np.ndarray
    chunk: int
    chunks: list[bytes] | None = None


def chunk_length(n_samples: int, chunk: int) -> int:
    """The chunk length for a channel: ``chunk``, or the whole channel when it is shorter."""
    return min(chunk, n_samples) if n_samples else 0


def encode(data: np.ndarray, chunk: int, compression: Compression) -> EncodedChannel:
    """Convert to float16 and, for gzip, compress each chunk as HDF5's filters would."""
    data = np.asarray(data, dtype=np.float16)
    length = chunk_length(data.shape[0], chunk)
    if not compression.encodes_chunks or not length:
        return EncodedChannel(data, length)
    blobs = []
    for start in range(0, data.shape[0], length):
        piece = data[start : start + length]
        if piece.shape[0] < length:  # HDF5 stores the last chunk whole, padded
            piece = np.concatenate([piece, np.zeros(length - piece.shape[0], dtype=np.float16)])
        raw = piece.view(np.uint8).reshape(-1, 2)
        if compression.shuffle:
            raw = raw.T  # HDF5 shuffle: every sample's first byte, then every second byte
        blobs.append(zlib.compress(np.ascontiguousarray(raw), compression.gzip_level))
    return EncodedChannel(data, length, blobs)
