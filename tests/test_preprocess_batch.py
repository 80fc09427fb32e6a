"""The preprocessing batch: resume, overwrite, shards, output names, manifest, executors, NaN channels."""

from __future__ import annotations

import csv
import json
import os
from datetime import datetime
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml

import sleepfm
from sleepfm.cli.app import main
from sleepfm.errors import UsageError
from sleepfm.execute import plan_workers
from sleepfm.interfaces.signal_reader import ChannelInfo, Recording
from sleepfm.map.rules import RulesMapper
from sleepfm.preprocessing.batch import assign_outputs
from sleepfm.preprocessing.convert import ConvertOptions, convert_recording
from sleepfm.read.edf_writer import synthetic_recording
from sleepfm.store.signal_store import CHANNEL_ATTRS, FILE_ATTRS, SignalStore

MONTAGE = {"C3-M2": 256.0, "E1-M2": 256.0, "ECG": 256.0, "Chin": 256.0, "Thor": 32.0, "SpO2": 1.0, "Pos": 1.0}


def _studies(folder: Path, count: int, seconds: float = 60) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return [synthetic_recording(folder / f"s{i}.edf", seconds, MONTAGE, seed=i) for i in range(count)]


def _manifest(out: Path, name: str = "manifest.csv") -> dict[str, dict[str, str]]:
    with open(out / name, newline="") as handle:
        return {row["output"]: row for row in csv.DictReader(handle)}


def test_outputs_carry_the_store_contract(tmp_path: Path) -> None:
    (source,) = _studies(tmp_path / "in", 1)
    report = sleepfm.preprocess(source, tmp_path / "out")
    assert report.count("done") == 1 and report.failures == []
    with h5py.File(tmp_path / "out" / "s0.h5") as handle:
        assert set(FILE_ATTRS) <= set(handle.attrs)
        assert handle.attrs["sampling_rate"] == 128 and handle.attrs["duration"] == 60
        assert handle.attrs["source_file"] == str(source) and handle.attrs["channel_mapper"] == "rules"
        assert handle.attrs["start_time"] == datetime(2020, 1, 1, 22, 0).isoformat()
        # Root-level datasets are the channels (the quality flags live in a group: never one of them).
        channels = [name for name, item in handle.items() if isinstance(item, h5py.Dataset)]
        assert sorted(channels) == ["C3-M2", "Chin", "E1-M2", "ECG", "Pos", "SpO2", "Thor"]
        for name in channels:
            assert set(CHANNEL_ATTRS) <= set(handle[name].attrs) and handle[name].dtype == np.float16
        assert handle["Pos"].attrs["modality"] == "" and "position" in handle["Pos"].attrs["reason"]
        assert handle["SpO2"].attrs["original_rate"] == 1 and handle["SpO2"].attrs["unit"] == "%"
    with SignalStore(tmp_path / "out" / "s0.h5") as store:
        assert {m.value: [c.name for c in cs] for m, cs in store.by_modality().items()} == {
            "BAS": ["C3-M2", "E1-M2"], "RESP": ["SpO2", "Thor"], "EKG": ["ECG"], "EMG": ["Chin"]}
    saved = yaml.safe_load((tmp_path / "out" / "config.resolved.yaml").read_text())
    assert saved["workflow"] == "preprocess" and saved["compression"] == "none"


def test_resume_skips_complete_outputs_and_overwrite_redoes_them(tmp_path: Path, capsys) -> None:
    _studies(tmp_path / "in", 2)
    out = tmp_path / "out"
    assert main(["preprocess", str(tmp_path / "in"), "--out", str(out)]) == 0
    before = {p.name: p.stat().st_mtime_ns for p in out.glob("*.h5")}
    first = _manifest(out)
    capsys.readouterr()
    assert main(["preprocess", str(tmp_path / "in"), "--out", str(out)]) == 0
    assert "0 converted, 2 already done, 0 failed" in capsys.readouterr().out
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.h5")} == before
    again = _manifest(out)
    assert {row["status"] for row in again.values()} == {"skipped"}
    # A rerun keeps what the run that made each store recorded: its time and the library that read it.
    for name, row in again.items():
        assert row["reader"] == first[name]["reader"] != "" and row["seconds"] == first[name]["seconds"] != "0"
    assert main(["preprocess", str(tmp_path / "in"), "--out", str(out), "--overwrite"]) == 0
    assert all(p.stat().st_mtime_ns != before[p.name] for p in out.glob("*.h5"))
    assert {row["status"] for row in _manifest(out).values()} == {"done"}


def test_an_incomplete_file_under_the_output_name_is_redone(tmp_path: Path) -> None:
    (source,) = _studies(tmp_path / "in", 1)
    out = tmp_path / "out"
    out.mkdir()
    (out / "s0.h5").write_bytes(b"not hdf5")  # e.g. copied in by hand, or a foreign file
    report = sleepfm.preprocess(source, out)
    assert report.count("done") == 1
    with SignalStore(out / "s0.h5") as store:
        assert not store.published and store.duration == 60


def test_shards_split_the_inputs_and_keep_their_own_manifests(tmp_path: Path) -> None:
    _studies(tmp_path / "in", 5, seconds=10)
    out = tmp_path / "out"
    first = sleepfm.preprocess(tmp_path / "in", out, shard="0/2")
    second = sleepfm.preprocess(tmp_path / "in", out, shard="1/2")
    names = [Path(r.output).name for r in first.results], [Path(r.output).name for r in second.results]
    assert names == (["s0.h5", "s2.h5", "s4.h5"], ["s1.h5", "s3.h5"])
    assert set(_manifest(out, "manifest.shard-0-of-2.csv")) == {"s0.h5", "s2.h5", "s4.h5"}
    assert set(_manifest(out, "manifest.shard-1-of-2.csv")) == {"s1.h5", "s3.h5"}
    with pytest.raises(Exception, match="shard must be I/N"):
        sleepfm.preprocess(tmp_path / "in", out, shard="2/2")


def test_output_names_stay_distinct(tmp_path: Path) -> None:
    files = [tmp_path / "a" / "x.edf", tmp_path / "a" / "x.bdf", tmp_path / "b" / "x.edf", tmp_path / "a" / "y.EDF"]
    jobs = assign_outputs(files, tmp_path / "out")
    assert [target.name for _, target in jobs] == ["a__x.edf.h5", "x.bdf.h5", "b__x.edf.h5", "y.h5"]


def test_inputs_are_found_recursively_in_any_case_and_missing_ones_are_usage_errors(tmp_path: Path) -> None:
    synthetic_recording(tmp_path / "in" / "deep" / "Z.EDF", 10, MONTAGE)
    synthetic_recording(tmp_path / "in" / "w.bdf", 10, MONTAGE, bdf=True)
    (tmp_path / "in" / "notes.txt").write_text("not a recording")
    report = sleepfm.preprocess(tmp_path / "in", tmp_path / "out")
    assert sorted(Path(r.output).name for r in report.results) == ["Z.h5", "w.h5"]
    with pytest.raises(UsageError, match="input not found"):
        sleepfm.preprocess(tmp_path / "nope", tmp_path / "out")


class _NanRecording(Recording):
    """A reader plugin's recording whose second channel is NaN (EDF data never are)."""

    def __init__(self, path: Path) -> None:
        self.path, self.start_time, self.duration, self.backend = path, None, 30.0, "test"
        labels = ["C3-M2", "ECG", "Thor", "Chin"]
        self.channels = [ChannelInfo(i, label, 128.0, "µV", 128 * 30) for i, label in enumerate(labels)]

    def read(self, channel: int) -> np.ndarray:
        values = np.sin(np.arange(128 * 30) * (channel + 1) / 50.0)
        return np.full_like(values, np.nan) if channel == 1 else values


def test_a_nan_channel_is_dropped_without_shifting_the_names_of_the_others(tmp_path: Path) -> None:
    result = convert_recording(_NanRecording(tmp_path / "n.edf"), tmp_path / "n.h5", RulesMapper(), ConvertOptions())
    assert result.channels == 3 and any("'ECG' not stored: NaN after resampling" in w for w in result.warnings)
    with SignalStore(tmp_path / "n.h5") as store:
        assert [c.name for c in store.channels] == ["C3-M2", "Chin", "Thor"]
        assert store.dropped == [{"label": "ECG", "reason": "NaN after resampling"}]
        expected = np.sin(np.arange(128 * 30) * 3 / 50.0)
        thor = store.read("Thor")
        np.testing.assert_allclose(thor, (expected - expected.mean()) / expected.std(), atol=2e-3)


def test_plan_workers() -> None:
    assert plan_workers(2, 1, None) == (1, 2)  # one study: in this process, on two threads
    assert plan_workers(2, 10, None) == (2, 1)
    assert plan_workers(8, 3, None) == (3, 2)
    assert plan_workers(4, 4, 3) == (4, 3)


@pytest.mark.slow
def test_process_pool_runs_studies_in_parallel(tmp_path: Path) -> None:
    _studies(tmp_path / "in", 3, seconds=30)
    report = sleepfm.preprocess(tmp_path / "in", tmp_path / "out", workers=2)
    assert report.count("done") == 3
    sleepfm.preprocess(tmp_path / "in" / "s1.edf", tmp_path / "single", workers=1)
    with h5py.File(tmp_path / "out" / "s1.h5") as a, h5py.File(tmp_path / "single" / "s1.h5") as b:
        assert all(np.array_equal(a[n][()], b[n][()]) for n in a if isinstance(a[n], h5py.Dataset))
        assert np.array_equal(a["sleepfm_quality/flags"][()], b["sleepfm_quality/flags"][()])


@pytest.mark.slow
def test_dask_executor_with_a_local_cluster_and_with_a_scheduler_address(tmp_path: Path) -> None:
    distributed = pytest.importorskip("dask.distributed")
    _studies(tmp_path / "in", 2, seconds=20)
    report = sleepfm.preprocess(tmp_path / "in", tmp_path / "local", executor="dask", workers=2)
    assert report.count("done") == 2
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        report = sleepfm.preprocess(tmp_path / "in", tmp_path / "remote", executor="dask",
                                    scheduler=cluster.scheduler_address)
    assert report.count("done") == 2
    assert json.loads(json.dumps(_manifest(tmp_path / "remote")))["s0.h5"]["status"] == "done"


def test_config_file_and_set_overrides(tmp_path: Path) -> None:
    (source,) = _studies(tmp_path / "in", 1, seconds=20)
    config = tmp_path / "pre.yaml"
    config.write_text(yaml.safe_dump({"workflow": "preprocess", "compression": "lzf", "out": str(tmp_path / "o")}))
    assert main(["preprocess", str(source), "--config", str(config), "--set", "compression=gzip",
                 "--set", "compression_level=1"]) == 0
    with h5py.File(tmp_path / "o" / "s0.h5") as handle:
        assert handle["ECG"].compression == "gzip" and handle["ECG"].compression_opts == 1 and handle["ECG"].shuffle
    assert main(["preprocess", str(source)]) == 2  # no --out anywhere


def test_the_api_function_survives_importing_the_package(tmp_path: Path) -> None:
    import sleepfm.preprocessing.batch  # importing the stage must not rebind sleepfm.preprocess

    (source,) = _studies(tmp_path / "in", 1, seconds=10)
    assert sleepfm.preprocess(source, tmp_path / "out").count("done") == 1
    assert os.path.exists(tmp_path / "out" / "s0.h5")


def test_a_hypnogram_in_a_folder_is_set_aside_but_named_alone_it_fails(
        tmp_path: Path, shared: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    folder = tmp_path / "in"
    _studies(folder, 1)
    hypnogram = Path(shutil.copy(shared / "data" / "psg" / "sleep-edf" / "SC4001EC-Hypnogram.edf", folder))
    assert main(["preprocess", str(folder), "--out", str(tmp_path / "out")]) == 0
    summary = "1 converted, 0 already done, 0 failed, 1 annotation-only file (hypnograms) set aside"
    assert summary in capsys.readouterr().out
    with open(tmp_path / "out" / "manifest.csv", newline="") as handle:
        rows = {Path(row["file"]).name: row for row in csv.DictReader(handle)}
    assert rows["s0.edf"]["status"] == "done"
    assert rows[hypnogram.name]["status"] == "ignored" and rows[hypnogram.name]["output"] == ""
    assert "sleepfm hypnogram" in rows[hypnogram.name]["warnings"]
    assert sorted(p.name for p in (tmp_path / "out").glob("*.h5")) == ["s0.h5"]

    assert main(["preprocess", str(hypnogram), "--out", str(tmp_path / "alone")]) == 1
    assert "only annotations" in capsys.readouterr().err
    assert not list((tmp_path / "alone").glob("*.h5"))
