"""Read 1-D chunked HDF5 datasets without holding Python's GIL while inflating them.

h5py holds the GIL for the whole of a read, decompression included: a reader thread
inflating gzip chunks (the published converter's files are gzip) stops every other thread
from so much as launching its next operation. Here h5py only fetches each chunk's stored
bytes (``read_direct_chunk``: file I/O, quick); Intel ISA-L's inflate (python-isal, about
1.7× zlib on PSG chunks; :func:`zlib.decompress` where it is not installed), which releases
the GIL, inflates them, and NumPy undoes HDF5's byte shuffle and converts to float32. The
result is what h5py would return, bit for bit (a test checks).

Datasets this cannot take — contiguous storage, plugin filters (Zstd, Blosc, LZF), a
chunk stored with a filter skipped — are read through h5py as before.
"""

from __future__ import annotations

from dataclasses import dataclass

import h5py
import numpy as np

try:
    from isal.isal_zlib import decompress as inflate
    from isal.isal_zlib import error as _inflate_error
except ImportError:  # a platform without python-isal wheels: the standard library's, slower
    from zlib import decompress as inflate
    from zlib import error as _inflate_error

#: What inflating a damaged chunk raises.
InflateError: type[Exception] = _inflate_error

_DEFLATE, _SHUFFLE = h5py.h5z.FILTER_DEFLATE, h5py.h5z.FILTER_SHUFFLE


@dataclass(frozen=True)
class ChunkLayout:
    """How one dataset's chunks are stored, when this module can decode them."""

    chunk: int
    length: int
    dtype: np.dtype
    shuffle: bool
    deflate: bool


def chunk_layout(dataset: h5py.Dataset) -> ChunkLayout | None:
    """The layout of ``dataset`` if its chunks can be decoded here, else ``None``."""
    if dataset.ndim != 1 or dataset.chunks is None or dataset.dtype.kind != "f":
        return None
    plist = dataset.id.get_create_plist()
    filters = [plist.get_filter(i)[0] for i in range(plist.get_nfilters())]
    # HDF5 applies the pipeline in order on write: shuffle (if any) before deflate.
    if filters not in ([], [_DEFLATE], [_SHUFFLE], [_SHUFFLE, _DEFLATE]):
        return None
    return ChunkLayout(
        chunk=int(dataset.chunks[0]), length=int(dataset.shape[0]), dtype=dataset.dtype.newbyteorder("<"),
        shuffle=_SHUFFLE in filters, deflate=_DEFLATE in filters,
    )


def read_into(dataset: h5py.Dataset, layout: ChunkLayout, start: int, stop: int, out: np.ndarray) -> bool:
    """Fill ``out`` (float32, ``stop - start`` values) with samples ``[start, stop)``.

    Returns ``False`` (``out`` untouched or partly written) when a chunk is stored in a way
    this module does not decode, so the caller falls back to h5py.
    """
    itemsize = layout.dtype.itemsize
    first = start // layout.chunk * layout.chunk
    for offset in range(first, stop, layout.chunk):
        mask, stored = dataset.id.read_direct_chunk((offset,))
        if mask:  # a filter was skipped for this chunk: its bytes are not what the pipeline says
            return False
        raw = inflate(stored) if layout.deflate else stored
        values = np.frombuffer(raw, dtype=np.uint8)
        if layout.shuffle:
            values = values.reshape(itemsize, -1).T.copy().reshape(-1)
        samples = values.view(layout.dtype)
        lo, hi = max(start, offset), min(stop, offset + layout.chunk, layout.length)
        out[lo - start: hi - start] = samples[lo - offset: hi - offset]
    return True
