"""The signal store as preprocessing writes it: codecs, pre-encoded chunks, temporaries."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from sleepfm.store.compression import Compression, encode
from sleepfm.store.signal_store import SignalStore
from sleepfm.store.signal_writer import SignalStoreWriter, remove_stale_temporaries, temporary_path


@pytest.mark.parametrize("codec", ["none", "gzip", "lzf", "zstd"])
@pytest.mark.parametrize("length", [38400 * 2, 38400 + 1000, 5000])
def test_codecs_round_trip_and_read_in_plain_h5py(tmp_path: Path, codec: str, length: int) -> None:
    rng = np.random.default_rng(length)
    data = rng.standard_normal(length).astype(np.float16)
    compression = Compression(codec, None, True)
    with SignalStoreWriter(tmp_path / "c.h5", rate=128.0, compression=compression) as writer:
        writer.add_channel("pre-encoded", writer.encode(data), label="A")  # compressed in the caller's thread
        writer.add_channel("plain", data, label="B")
    with SignalStore(tmp_path / "c.h5") as store:
        np.testing.assert_array_equal(store.read("pre-encoded"), data.astype(np.float32))
        np.testing.assert_array_equal(store.read("plain"), data.astype(np.float32))
    if codec in ("none", "gzip", "lzf"):  # built into every h5py: the published tool reads them as they are
        with h5py.File(tmp_path / "c.h5") as handle:
            np.testing.assert_array_equal(handle["pre-encoded"][:], data)
            assert handle["pre-encoded"].chunks == (min(38400, length),)
            assert handle["pre-encoded"].compression == (None if codec == "none" else codec)


def test_gzip_chunks_encoded_by_us_equal_hdf5s_own_filters(tmp_path: Path) -> None:
    data = np.random.default_rng(0).standard_normal(38400 * 3 - 17).astype(np.float16)
    encoded = encode(data, 38400, Compression("gzip", 1, True))
    with h5py.File(tmp_path / "h.h5", "w") as handle:
        dataset = handle.create_dataset("x", data=data, chunks=(38400,), compression="gzip", compression_opts=1,
                                        shuffle=True)
        hdf5_chunks = [dataset.id.read_direct_chunk((i * 38400,))[1] for i in range(3)]
    assert encoded.chunks is not None and [bytes(c) for c in hdf5_chunks] == encoded.chunks


def test_zstd_files_read_in_a_fresh_process_without_importing_hdf5plugin_first(tmp_path: Path) -> None:
    with SignalStoreWriter(tmp_path / "z.h5", rate=128.0, compression=Compression("zstd")) as writer:
        writer.add_channel("EEG", np.ones(50000), label="EEG")
    code = ("from sleepfm.store.signal_store import SignalStore; s = SignalStore(__import__('sys').argv[1]);"
            " print(float(s.read('EEG').sum()))")
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path / "z.h5")], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == "50000.0", result.stderr


def test_temporaries_of_dead_runs_on_this_host_are_removed_and_others_kept(tmp_path: Path) -> None:
    host = socket.gethostname()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f".a.h5.{host}-{int(dead.stdout)}.tmp"
    live = tmp_path / f".b.h5.{host}-{os.getpid()}.tmp"
    foreign = tmp_path / ".c.h5.other-node.cluster-123.tmp"
    unrelated = tmp_path / ".notes.tmp"
    for path in (stale, live, foreign, unrelated):
        path.write_bytes(b"partial")
    assert remove_stale_temporaries(tmp_path) == [stale]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in (live, foreign, unrelated))
    assert temporary_path(tmp_path / "x.h5").name == f".x.h5.{host}-{os.getpid()}.tmp"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_temporaries_of_zombie_and_recycled_pids_are_stale(tmp_path: Path) -> None:
    # A SIGKILLed worker can linger as a zombie, and its pid can be reused by another process:
    # neither is the writer any more, although os.kill(pid, 0) succeeds for both.
    host = socket.gethostname()
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 30
    while Path(f"/proc/{zombie.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    of_zombie = tmp_path / f".z.h5.{host}-{zombie.pid}.tmp"
    of_zombie.write_bytes(b"partial")
    old = tmp_path / f".r.h5.{host}-0.tmp"
    old.write_bytes(b"partial")
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    newcomer = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        recycled = old.rename(tmp_path / f".r.h5.{host}-{newcomer.pid}.tmp")
        assert sorted(remove_stale_temporaries(tmp_path)) == sorted([of_zombie, recycled])
    finally:
        newcomer.kill()
        newcomer.wait()
        zombie.wait()


def test_dropped_channels_and_notes_are_stored(tmp_path: Path) -> None:
    with SignalStoreWriter(tmp_path / "d.h5", rate=128.0) as writer:
        writer.add_channel("EEG", np.zeros(100), label="EEG")
        writer.drop_channel("ECG", "NaN after resampling")
        writer.note("only 1 s long")
    with SignalStore(tmp_path / "d.h5") as store:
        assert store.dropped == [{"label": "ECG", "reason": "NaN after resampling"}]
        assert store.notes == ["only 1 s long"]
