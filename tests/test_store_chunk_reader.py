"""Chunk reads that inflate outside the GIL return exactly what h5py returns."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from sleepfm.store.chunk_reader import chunk_layout
from sleepfm.store.signal_store import SignalStore

LENGTH = 38400 * 3 - 1234  # a partial last chunk
STORAGE = {
    "gzip": {"compression": "gzip", "chunks": (38400,)},  # the published converter's
    "gzip-shuffle": {"compression": "gzip", "compression_opts": 1, "shuffle": True, "chunks": (38400,)},
    "shuffle": {"shuffle": True, "chunks": (1000,)},
    "chunked": {"chunks": (38400,)},
    "contiguous": {},
    "lzf": {"compression": "lzf", "chunks": (38400,)},
    "float32-gzip": {"compression": "gzip", "chunks": (5000,)},
}


@pytest.fixture
def store(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    with h5py.File(tmp_path / "s.h5", "w") as handle:
        for name, options in STORAGE.items():
            dtype = np.float32 if name.startswith("float32") else np.float16
            handle.create_dataset(name, data=rng.standard_normal(LENGTH).astype(dtype), **options)
    return tmp_path / "s.h5"


def test_layouts_decoded_here_and_left_to_h5py(store: Path) -> None:
    with h5py.File(store) as handle:
        decoded = {name for name in STORAGE if chunk_layout(handle[name]) is not None}
    assert decoded == {"gzip", "gzip-shuffle", "shuffle", "chunked", "float32-gzip"}


@pytest.mark.parametrize(("start", "stop"), [(0, LENGTH), (0, 38400), (38399, 38401), (1000, 90000),
                                             (76800, LENGTH), (LENGTH - 5, LENGTH), (500, 500)])
def test_reads_equal_h5py_bit_for_bit(store: Path, start: int, stop: int) -> None:
    with h5py.File(store) as handle:
        expected = {name: handle[name][start:stop].astype(np.float32) for name in STORAGE}
    with SignalStore(store) as signals:
        block = signals.read_block(list(STORAGE), start, stop)
        for row, name in enumerate(STORAGE):
            np.testing.assert_array_equal(block[row], expected[name], err_msg=name)
            np.testing.assert_array_equal(signals.read(name, start, stop), expected[name], err_msg=name)
    assert block.dtype == np.float32 and block.shape == (len(STORAGE), stop - start)


def test_read_defaults_and_negative_bounds_behave_like_slicing(store: Path) -> None:
    with h5py.File(store) as handle:
        whole, tail = handle["gzip"][:].astype(np.float32), handle["gzip"][-100:].astype(np.float32)
    with SignalStore(store) as signals:
        np.testing.assert_array_equal(signals.read("gzip"), whole)
        np.testing.assert_array_equal(signals.read("gzip", -100), tail)
