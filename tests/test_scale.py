"""The executor layer on the clinical commands (issue 12): a dask cluster, shards and their merge
give the same bits as one local run; a GPU step with no GPU worker is one line; the Python API
works from an unguarded script and returns the nights themselves."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import h5py
import numpy as np
import pytest

from sleepfm.cli.app import main

from .helpers_clinical import COMPAT, LABELS, NIGHT, START, error_lines, write_night


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """A LocalCluster of two single-threaded worker processes, shared by this module's runs."""
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as c:
        yield c.scheduler_address


@pytest.fixture(scope="module")
def clinic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("clinic")
    write_night(data / "night1.edf", NIGHT, hypnogram=data / "night1-hypnogram.edf")
    write_night(data / "night2.edf", NIGHT[:12], seed=1)
    (data / "demographics.csv").write_text("Study ID,age,sex\nnight1,54,F\nnight2,61,M\n")
    return data


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.suffix in (".csv", ".json", ".png") and p.parent.name != "signals"}


def _embeddings(folder: Path) -> dict[str, np.ndarray]:
    arrays = {}
    for path in sorted(folder.glob("*.h5")):
        with h5py.File(path) as handle:
            for group in handle.values():  # /5s and /5min, one dataset per modality
                arrays.update({f"{path.stem}/{group.name}/{name}": data[()] for name, data in group.items()})
    return arrays


def _report(folder: Path) -> dict:
    report = json.loads((folder / "report.json").read_text())
    for key in ("created", "out", "config"):
        report["run"].pop(key)
    return report


def _run(args: list[str], shared: Path, clinic: Path, out: Path, capsys) -> int:  # type: ignore[no-untyped-def]
    code = main(["run", "--data", str(clinic), "--out", str(out), "--checkpoints", str(shared / COMPAT), "--quiet",
                 "--set", f"risk.labels={shared / LABELS}", "--set", "staging.plots=false", *args])
    capsys.readouterr()
    return code


@pytest.mark.slow
def test_stage_on_a_dask_cluster_is_the_local_run_bit_for_bit(shared: Path, clinic: Path, cluster: str,
                                                               tmp_path: Path) -> None:
    nights = [str(clinic / f"night{i}.edf") for i in (1, 2)]
    common = ["stage", *nights, "--checkpoints", str(shared / COMPAT), "--no-plot", "--quiet"]
    assert main([*common, "--out", str(tmp_path / "local"), "--work", str(tmp_path / "wl")]) == 0
    assert main([*common, "--out", str(tmp_path / "dask"), "--work", str(tmp_path / "wd"), "--executor", "dask",
                 "--scheduler", cluster]) == 0
    local, remote = _files(tmp_path / "local"), _files(tmp_path / "dask")
    assert sorted(local) == sorted(f"night{i}.{x}" for i in (1, 2) for x in ("hypnogram.csv", "stats.json"))
    assert local == remote
    a, b = _embeddings(tmp_path / "wl" / "embeddings"), _embeddings(tmp_path / "wd" / "embeddings")
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


@pytest.mark.slow
def test_run_on_dask_and_merged_shards_are_the_local_run_bit_for_bit(shared: Path, clinic: Path, cluster: str,
                                                                     tmp_path: Path, capsys) -> None:
    assert _run(["--workers", "2"], shared, clinic, tmp_path / "local", capsys) == 0
    assert _run(["--executor", "dask", "--scheduler", cluster], shared, clinic, tmp_path / "dask", capsys) == 0
    # A job array: two shards, each into a folder of its own, then the merge into a third.
    shards = [tmp_path / "s0", tmp_path / "s1"]
    assert _run(["--shard", "1/2"], shared, clinic, shards[1], capsys) == 0
    assert not (shards[1] / "report.json").exists()
    assert main(["run", "--merge", str(shards[1])]) == 1  # shard 0/2 has not run yet
    assert "shard 0/2 of the run is missing" in error_lines(capsys.readouterr().err)[0]
    assert _run(["--shard", "0/2"], shared, clinic, shards[0], capsys) == 0
    merged = tmp_path / "merged"
    assert main(["run", "--merge", *map(str, shards), "--out", str(merged), "--quiet"]) == 0
    assert f"2 of 2 studies completed → {merged / 'report.json'}" in capsys.readouterr().out

    local = _report(tmp_path / "local")
    assert local["summary"]["completed"] == 2 and local["summary"]["with_risk"] == 2
    assert _report(tmp_path / "dask") == local
    assert _files(tmp_path / "dask" / "studies") == _files(tmp_path / "local" / "studies")
    assert _files(shards[0] / "studies") | _files(shards[1] / "studies") == _files(tmp_path / "local" / "studies")
    report = _report(merged)
    assert report == {**local, "studies": report["studies"]}  # all but the output paths, which now lead back
    night1, night2 = report["studies"]
    assert night1["outputs"]["hypnogram"] == "../s0/studies/night1/night1.hypnogram.csv"
    assert (merged / night2["outputs"]["risk"]).is_file()
    for ours, theirs in zip(report["studies"], local["studies"], strict=True):
        assert {**ours, "outputs": theirs["outputs"]} == theirs


@pytest.mark.slow
def test_a_gpu_step_with_no_gpu_worker_is_one_line(shared: Path, clinic: Path, cluster: str, tmp_path: Path,
                                                   capsys) -> None:
    code = main(["run", "--data", str(clinic), "--out", str(tmp_path / "o"), "--checkpoints", str(shared / COMPAT),
                 "--executor", "dask", "--scheduler", cluster, "--device", "cuda", "--set", "gpu_wait=1", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    (line,) = error_lines(err)
    assert "no dask worker advertises a GPU resource" in line and "--resources GPU=1" in line


@pytest.mark.slow
def test_the_python_api_from_an_unguarded_script(shared: Path, clinic: Path, tmp_path: Path) -> None:
    """No ``if __name__ == "__main__":``: worker processes must not run the script again."""
    script = tmp_path / "lab.py"
    script.write_text(textwrap.dedent(f"""
        import sleepfm
        with open({str(tmp_path / 'runs')!r}, "a") as handle:
            handle.write("run\\n")
        report = sleepfm.preprocess({str(clinic)!r}, {str(tmp_path / 'h5')!r}, workers=2)
        print("preprocessed", report.count("done"))
        report = sleepfm.preprocess({str(clinic)!r}, {str(tmp_path / 'dask')!r}, executor="dask", workers=2)
        print("on dask", report.count("done"))
        nights = sleepfm.stage([{str(clinic / 'night1.edf')!r}, {str(clinic / 'night2.edf')!r}],
                               {str(shared / COMPAT)!r}, workers=2)
        print("staged", [(n.key, len(n.stages), n.files) for n in nights])
    """))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300,
                          cwd=tmp_path)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert "preprocessed 2" in done.stdout and "on dask 2" in done.stdout
    assert "staged [('night1', 20, []), ('night2', 12, [])]" in done.stdout
    assert (tmp_path / "runs").read_text() == "run\n"


@pytest.mark.slow
def test_embed_on_dask_and_in_shards_is_the_local_run_bit_for_bit(tmp_path: Path, cluster: str) -> None:
    from .helpers_models import SMALL_CHUNK, STUDY, small_checkpoint, write_study

    checkpoint = small_checkpoint(tmp_path / "model")
    for seed in range(3):
        write_study(tmp_path / "h5" / f"s{seed}.h5", STUDY, (7 + 9 * seed) * SMALL_CHUNK + 100, seed=seed)
    common = ["embed", str(tmp_path / "h5"), "--checkpoint", str(checkpoint), "--partial-chunk", "pad"]
    assert main([*common, "--out", str(tmp_path / "local")]) == 0
    assert main([*common, "--out", str(tmp_path / "dask"), "--executor", "dask", "--scheduler", cluster]) == 0
    for shard in ("0/2", "1/2"):
        assert main([*common, "--out", str(tmp_path / "shards"), "--shard", shard]) == 0
    local = _embeddings(tmp_path / "local")
    assert len({k.split("/")[0] for k in local}) == 3
    for other in ("dask", "shards"):
        theirs = _embeddings(tmp_path / other)
        assert theirs.keys() == local.keys() and all(np.array_equal(local[k], theirs[k]) for k in local), other
    assert sorted(p.name for p in (tmp_path / "shards").glob("config.resolved*")) == [
        "config.resolved.shard-0-of-2.yaml", "config.resolved.shard-1-of-2.yaml"]


@pytest.mark.slow
def test_warnings_made_on_a_worker_reach_the_user(shared: Path, cluster: str, tmp_path: Path, capsys) -> None:
    """A night whose EEG and EOG are flat is unusable; the stage step that finds it may run on a
    dask worker, and its warning still reaches the terminal, once, as it does locally."""
    from sleepfm.demo.physiology import Traits
    from sleepfm.demo.synth import synthesize_signals, write_psg

    signals = synthesize_signals(np.asarray(NIGHT), Traits(), np.random.default_rng(3))
    for name in ("F4-M1", "C4-M1", "O2-M1", "E1-M2", "E2-M2"):
        signals[name] = np.zeros_like(signals[name])
    night = write_psg(tmp_path / "flat.edf", signals, start=START, patient="p3", male=False)
    common = ["stage", str(night), "--checkpoints", str(shared / COMPAT), "--no-plot", "--quiet"]
    for executor in ("local", "dask"):
        extra = ["--scheduler", cluster] if executor == "dask" else []
        assert main([*common, "--out", str(tmp_path / executor), "--executor", executor, *extra]) == 0
        stderr = capsys.readouterr().err
        lines = [line for line in stderr.splitlines() if "signal quality unusable" in line]
        assert len(lines) == 1 and lines[0].startswith("warning: flat: "), stderr
        stats = json.loads((tmp_path / executor / "flat.stats.json").read_text())
        assert stats["quality"]["verdict"] == "unusable"


@pytest.mark.slow
def test_qc_in_worker_processes_on_dask_and_in_shards_writes_the_same_files(shared: Path, cluster: str,
                                                                           tmp_path: Path, capsys) -> None:
    import pandas as pd

    folder = shared / "data" / "psg" / "sleep-edf"
    common = ["qc", str(folder), "--no-plot", "--quiet"]

    def files(out: Path) -> dict[str, bytes]:
        return {p.name: p.read_bytes() for p in sorted(out.glob("*.qc.*"))}

    assert main([*common, "--out", str(tmp_path / "one")]) == 0
    assert main([*common, "--out", str(tmp_path / "pool"), "--workers", "2"]) == 0
    assert main([*common, "--out", str(tmp_path / "dask"), "--executor", "dask", "--scheduler", cluster]) == 0
    for shard in ("0/2", "1/2"):
        assert main([*common, "--out", str(tmp_path / "shards"), "--shard", shard]) == 0
    capsys.readouterr()
    one = files(tmp_path / "one")
    assert len(one) == 4 and one == files(tmp_path / "pool") == files(tmp_path / "dask") == files(tmp_path / "shards")
    whole = pd.read_csv(tmp_path / "one" / "qc_summary.csv").sort_values("study", ignore_index=True)
    parts = pd.concat([pd.read_csv(tmp_path / "shards" / f"qc_summary.shard-{i}-of-2.csv") for i in (0, 1)])
    assert len(parts) == 2 and not (tmp_path / "shards" / "qc_summary.csv").exists()
    columns = [c for c in whole.columns if c != "rank"]
    assert parts.sort_values("study", ignore_index=True)[columns].equals(whole[columns])
