"""``preprocess --scale robust``: a channel whose z-score artifacts dominate gets its clean scale
back; every other channel is stored bit for bit as published."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

import sleepfm
from sleepfm.demo.physiology import Traits
from sleepfm.demo.synth import synthesize_signals, write_psg
from sleepfm.store.signal_store import SignalStore

from .helpers_clinical import NIGHT, START


def _write(path: Path, burst: bool) -> None:
    signals = synthesize_signals(np.asarray(NIGHT * 2), Traits(), np.random.default_rng(3))
    if burst:
        f4 = signals["F4-M1"]
        f4[256 * 60: 256 * 150] *= 12  # ninety seconds of artifact, inside the ±500 µV range
    write_psg(path, signals, start=START, patient="p", male=True)


def _stores(tmp_path: Path, name: str, burst: bool) -> tuple[Path, Path]:
    _write(tmp_path / f"{name}.edf", burst)
    from sleepfm.cli.app import main

    sleepfm.preprocess(tmp_path / f"{name}.edf", tmp_path / "published")
    assert main(["preprocess", str(tmp_path / f"{name}.edf"), "--out", str(tmp_path / "robust"),
                 "--scale", "robust"]) == 0
    return tmp_path / "published" / f"{name}.h5", tmp_path / "robust" / f"{name}.h5"


def test_clean_night_is_stored_identically(tmp_path: Path) -> None:
    published, robust = _stores(tmp_path, "clean", burst=False)
    with h5py.File(published) as a, h5py.File(robust) as b:
        names = [n for n in a if isinstance(a[n], h5py.Dataset)]
        assert names and all(np.array_equal(a[n][()], b[n][()]) for n in names)


def test_artifact_dominated_channel_gets_its_clean_scale_back(tmp_path: Path) -> None:
    published, robust = _stores(tmp_path, "dirty", burst=True)
    _write(tmp_path / "twin.edf", burst=False)
    sleepfm.preprocess(tmp_path / "twin.edf", tmp_path / "twin")
    scales = {}
    for name, path in (("published", published), ("robust", robust), ("clean", tmp_path / "twin" / "twin.h5")):
        with SignalStore(path) as store:
            channel = next(c for c in store.channels if c.label == "F4-M1")
            flags = store.quality_flags()
            assert flags is not None
            scales[name] = (abs(channel.scale), bool(flags.by_check("zscore_dominated")[flags.row(channel.name)].any()))
    assert scales["published"][1] and not scales["robust"][1] and not scales["clean"][1]
    assert scales["published"][0] > 2.5 * scales["clean"][0]
    assert abs(scales["robust"][0] / scales["clean"][0] - 1) < 0.35
    with h5py.File(published) as a, h5py.File(robust) as b:  # the other channels are untouched
        assert all(np.array_equal(a[n][()], b[n][()]) for n in ("C4-M1", "O2-M1", "ECG", "Chin1-Chin2"))
