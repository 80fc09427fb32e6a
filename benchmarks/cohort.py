"""Cohort throughput: nights per hour from EDF to staged hypnograms, the published way and sleepfm's.

    python benchmarks/cohort.py [--nights 12] [--hours 8] [--workers 1] [--keep DIR]

Builds a cohort of N synthetic nights (16 channels at 256/32/1 Hz, EDF+C, as
``benchmarks/preprocess.py`` writes them; one seed each) and, in one run, measures:

(a) **published**: the published pipeline's steps in sequence, night after night — the
    published converter's algorithm (``benchmarks/preprocess.py``), the published embedding
    loop (``benchmarks/embed.py``), then the staging head applied to each night's embeddings
    (published semantics, one forward per night);
(b) ``sleepfm run`` with the local executor (``--workers`` preprocessing processes beside the
    embedding process);
(c) ``sleepfm run --executor dask --workers 2``: a LocalCluster of two single-threaded workers,
    one task per night;
(d) (b) with ``--set embed.precision=bf16`` where the CPU has AMX (``amx_bf16`` in
    /proc/cpuinfo); skipped, saying why, elsewhere;

each in its own process, on the published-format checkpoints of ../shared/reference (random
weights: the same work as the released ones). sleepfm runs with ``staging.plots=false`` and
``risk.enabled=off``, as the published steps draw no figure and compute no risk. It prints
nights per hour, the ratios (goals: (b) ≥ 4× (a); (c) within 10 % of (b)) and the dask
scheduler's overhead per task, measured with empty tasks on a cluster of the same size
(docs/scale.md uses it to scale on paper).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REFERENCE = HERE.parent.parent / "shared" / "reference"
COMPAT = REFERENCE / "sleepfm-compat"
sys.path.insert(0, str(HERE))


def make_cohort(folder: Path, nights: int, hours: float) -> list[Path]:
    from sleepfm.read.edf_writer import MIXED_RATES, synthetic_recording

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(nights):
        path = folder / f"night{index:03d}.edf"
        if not path.exists():
            synthetic_recording(path, hours * 3600, MIXED_RATES, edf_plus=True, seed=index)
        paths.append(path)
    return paths


def channel_table(night: Path) -> dict[str, list[str]]:
    """The published loop's channel table: sleepfm's label rules on the night's labels (the
    same assignment both sides use)."""
    from sleepfm.map.rules import RulesMapper
    from sleepfm.read import read_recording
    from sleepfm.store.signal_names import dataset_names

    with read_recording(night) as recording:
        names = dataset_names([c.label for c in recording.channels])
    table: dict[str, list[str]] = {m: [] for m in ("BAS", "RESP", "EKG", "EMG")}
    for name, decision in zip(names, RulesMapper().assign(names), strict=True):
        if decision.modality is not None:
            table[decision.modality.value].append(name)
    return table


def published(nights: list[Path], work: Path) -> None:
    """(a), in this process: convert, embed, stage, night after night."""
    import h5py
    import numpy as np
    import torch
    from embed import MODALITIES, published_loop
    from preprocess import published_baseline

    from sleepfm.checkpoints import load_model

    base = load_model(COMPAT / "model_base", semantics="published").eval()
    head = load_model(COMPAT / "model_sleep_staging", semantics="published").eval()
    table = channel_table(nights[0])
    for night in nights:
        h5 = work / f"{night.stem}.hdf5"
        published_baseline(night, h5)
        published_loop(h5, base, table, work)
        with h5py.File(work / "emb" / f"{night.stem}.hdf5") as handle:
            x = torch.from_numpy(np.stack([handle[m][()] for m in MODALITIES]))[None]
        with torch.no_grad():
            logits, _ = head(x, torch.zeros(x.shape[:3], dtype=torch.bool))
        np.save(work / f"{night.stem}.stages.npy", logits.argmax(-1)[0].numpy())


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-3000:]}")
    return time.perf_counter() - started


def run_command(data: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "sleepfm", "run", "--plugin", "cohort-edf", "--data", str(data), "--out", str(out),
            "--checkpoints", str(COMPAT), "--quiet", "--set", "risk.enabled=off", "--set", "staging.plots=false",
            *extra]


def dask_overhead(workers: int, tasks: int = 200) -> float:
    """Seconds of scheduling per task: empty tasks through the same executor path as a run."""
    from sleepfm.config.executor import ExecutorOptions
    from sleepfm.execute import Task, execute

    options = ExecutorOptions(executor="dask")
    list(execute([Task.call("warm-up", abs, -1)], options, workers=workers))  # cluster start-up is not per task
    started = time.perf_counter()
    done = list(execute([Task.call(str(i), abs, -i) for i in range(tasks)], options, workers=workers))
    elapsed = time.perf_counter() - started
    assert all(o.ok for o in done)
    return elapsed / tasks


def has_amx() -> bool:
    try:
        return "amx_bf16" in Path("/proc/cpuinfo").read_text()
    except OSError:
        return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nights", type=int, default=12, help="nights in the cohort (default 12)")
    parser.add_argument("--hours", type=float, default=8.0, help="hours per night (default 8)")
    parser.add_argument("--workers", type=int, default=1, help="(b)'s --workers (default 1)")
    parser.add_argument("--keep", type=Path, default=None, help="keep the cohort here (reused when rerun)")
    parser.add_argument("--published", nargs=2, metavar=("DATA", "WORK"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.published:
        published(sorted(Path(args.published[0]).glob("*.edf")), Path(args.published[1]))
        return 0
    if not (COMPAT / "model_base" / "config.json").is_file():
        raise SystemExit(f"needs the published-format checkpoints at {COMPAT}")

    with tempfile.TemporaryDirectory(prefix="sleepfm-cohort-") as scratch:
        tmp = Path(scratch)
        data = args.keep or tmp / "data"
        started = time.perf_counter()
        nights = make_cohort(data, args.nights, args.hours)
        print(f"cohort: {len(nights)} synthetic nights of {args.hours:g} h (16 channels), ready in "
              f"{time.perf_counter() - started:.0f} s; {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
        rows: dict[str, float] = {}
        (tmp / "published").mkdir()
        rows["(a) published steps in sequence"] = timed([sys.executable, __file__, "--published", str(data),
                                                         str(tmp / "published")])
        rows[f"(b) sleepfm run, local, --workers {args.workers}"] = timed(
            run_command(data, tmp / "local", "--workers", str(args.workers)))
        rows["(c) sleepfm run --executor dask, 2 workers"] = timed(
            run_command(data, tmp / "dask", "--executor", "dask", "--workers", "2"))
        bf16 = None
        if has_amx():
            bf16 = timed(run_command(data, tmp / "bf16", "--workers", str(args.workers), "--set",
                                     "embed.precision=bf16"))
            rows["(d) sleepfm run, local, bf16"] = bf16
        report = json.loads((tmp / "local" / "report.json").read_text())
        assert report["summary"]["completed"] == len(nights), report["summary"]
        overhead = dask_overhead(2)

    print(f"\n{'':44s}{'seconds':>10s}{'nights/hour':>14s}")
    for name, seconds in rows.items():
        print(f"{name:44s}{seconds:10.1f}{len(nights) * 3600 / seconds:14.1f}")
    if bf16 is None:
        print("(d) bf16: skipped — this CPU has no AMX (no amx_bf16 flag in /proc/cpuinfo), where bf16 is no "
              "faster than fp32")
    a, b, c = (rows[k] for k in list(rows)[:3])
    print(f"\n(b) vs (a): {a / b:.2f}× the nights per hour (goal ≥ 4×: {'met' if a / b >= 4 else 'NOT met'})")
    print(f"(c) vs (b): {b / c:.2f} of (b)'s throughput (goal ≥ 0.90: {'met' if b / c >= 0.9 else 'NOT met'})")
    if bf16 is not None:
        print(f"(d) vs (b): {b / bf16:.2f}×")
    print(f"dask scheduler overhead: {overhead * 1000:.1f} ms per task (200 empty tasks, 2 workers)")
    print(f"load average at the end: {os.getloadavg()[0]:.1f} (the figures move with the machine's load)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
