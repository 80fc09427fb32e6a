"""HDF5 outputs on a full disk (issue 10.4), without needing root: ``/dev/full`` fails every write
with ENOSPC, as a full file system does. HDF5 must close cleanly (it used to crash the
interpreter), the writer must raise one :class:`DiskFullError` and leave nothing behind."""

from __future__ import annotations

import builtins
from pathlib import Path

import h5py
import numpy as np
import pytest

from sleepfm.errors import DiskFullError
from sleepfm.store import h5_output
from sleepfm.store.embedding_store import write_embeddings
from sleepfm.store.h5_output import H5Output
from sleepfm.store.signal_writer import SignalStoreWriter

pytestmark = pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")


@pytest.fixture
def full_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every HDF5 output file is opened on /dev/full instead."""
    def on_full_device(path: Path, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        return builtins.open("/dev/full", *args, **kwargs)

    monkeypatch.setattr(h5_output, "open", on_full_device, raising=False)


def test_hdf5_closes_cleanly_when_every_write_fails(tmp_path: Path) -> None:
    sink = h5_output._Sink(Path("/dev/full"))
    handle = h5py.File(sink, "w")
    handle.create_dataset("x", data=np.zeros(100_000, np.float16), chunks=(1000,))
    handle.close()
    sink.close()
    assert isinstance(sink.error, OSError) and sink.error.errno == 28


def test_writers_raise_one_disk_full_error_and_leave_nothing(tmp_path: Path, full_disk: None) -> None:
    output = H5Output(tmp_path / ".x.h5.tmp")
    output.file.create_dataset("x", data=np.zeros(10_000))
    with pytest.raises(DiskFullError, match="no space left on device"):
        output.commit(tmp_path / "x.h5")
    with (pytest.raises(DiskFullError, match=f"no space left on device: {tmp_path}"),
          SignalStoreWriter(tmp_path / "night.h5", rate=128.0) as writer):
        writer.add_channel("C3", np.zeros(38400, np.float32), label="C3")
    with pytest.raises(DiskFullError):
        write_embeddings(tmp_path / "emb.h5", {}, {})
    assert list(tmp_path.iterdir()) == []
