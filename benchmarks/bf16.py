"""bf16 against fp32 for `sleepfm embed`: speed, agreement of the embeddings, agreement of staging.

In one process:

1. **CPU**: the flags that matter for bf16 (read from /proc/cpuinfo as sleepfm reads them)
   and what ``--precision auto`` picks here, and why;
2. **speed**: benchmarks/embed.py's synthetic night (16 channels, the published converter's
   layout) embedded with the published architecture (the shared random-weight checkpoint, or
   a synthetic one) in fp32 and in bf16, alternating, best of ``--repeats``: seconds, nights
   (8 h) per minute, and the ratio bf16/fp32;
3. **embeddings**: on that night, the largest |bf16 - fp32| of the 5-min and the 5-s
   embeddings over the four modalities, beside the largest |fp32| (their scale) and the
   smallest cosine similarity of two 5-min vectors;
4. **staging on the demo cohort**: the nights of a ``sleepfm demo`` folder (``--demo DIR``;
   without it ``sleepfm demo --size small`` runs first, about 4 minutes on 2 cores) embedded
   with its pretrained model in both precisions and staged with its staging head: Cohen's κ
   between the two hypnograms at 30 s (goal ≥ 0.98) and at 5 s, the epochs that differ, and
   the embeddings' largest deviation.

bf16 runs through the embedding engine directly: ``sleepfm embed --precision bf16`` falls back
to fp32 (with a warning) on CPUs without bf16 matrix instructions, and this measures what
bf16 would cost there. ``--device cuda`` measures a GPU the same way. Usage::

    .venv/bin/python benchmarks/bf16.py [--hours 8] [--repeats 2] [--device cpu|cuda]
                                        [--demo DIR] [--split test|all]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from embed import CHANNELS, setup

FLAGS = ("amx_bf16", "amx_tile", "avx512_bf16", "avx512f", "avx2", "bf16")
PRECISIONS = ("fp32", "bf16")


def describe_machine(device: torch.device) -> None:
    from sleepfm.embedding.precision import CPUINFO, choose_precision, cpu_flags

    flags = cpu_flags()
    name = next((line.split(":", 1)[1].strip() for line in _lines(CPUINFO) if line.startswith("model name")), "?")
    present = [f for f in FLAGS if f in flags]
    absent = [f for f in FLAGS if f not in flags]
    print(f"CPU: {name}; flags present: {', '.join(present) or 'none'}; absent: {', '.join(absent) or 'none'}; "
          f"torch {torch.__version__} (capability {torch.backends.cpu.get_cpu_capability()}), "
          f"{torch.get_num_threads()} threads")
    if device.type == "cuda":
        print(f"GPU: {torch.cuda.get_device_name(device)}")
    print(f"sleepfm embed --precision auto here: {choose_precision('auto', device).reason}")
    fallback = choose_precision("bf16", device)
    if fallback.warn:
        print(f"sleepfm embed --precision bf16 here: {fallback.reason}")


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []


def embed(checkpoint: Path, paths: list[Path], precision: str, device: str, **options: Any
          ) -> tuple[dict[str, Any], float]:
    """Every study's embeddings (by stem) and the wall time of the embedding itself."""
    from sleepfm.checkpoints.folder import load_checkpoint
    from sleepfm.embedding.runner import Embedder, StudyFailure

    embedder = Embedder(load_checkpoint(checkpoint), device=device, precision=precision, **options)  # type: ignore[arg-type]
    started = time.perf_counter()
    results = {}
    for outcome in embedder.run(paths):
        if isinstance(outcome, StudyFailure):
            raise SystemExit(f"error: {outcome.error}")
        results[outcome.plan.stem] = outcome
    if embedder.device.type == "cuda":
        torch.cuda.synchronize()
    return results, time.perf_counter() - started


def deviation(exact: dict[str, Any], rounded: dict[str, Any]) -> dict[str, float]:
    worst = {"5min": 0.0, "5s": 0.0, "scale_5min": 0.0, "scale_5s": 0.0, "min_cosine": 1.0}
    for stem, study in exact.items():
        other = rounded[stem]
        for modality, pooled in study.pooled.items():
            low = other.pooled[modality]
            worst["5min"] = max(worst["5min"], float(np.abs(pooled - low).max()))
            worst["5s"] = max(worst["5s"], float(np.abs(study.tokens[modality] - other.tokens[modality]).max()))
            worst["scale_5min"] = max(worst["scale_5min"], float(np.abs(pooled).max()))
            worst["scale_5s"] = max(worst["scale_5s"], float(np.abs(study.tokens[modality]).max()))
            cosine = (pooled * low).sum(1) / (np.linalg.norm(pooled, axis=1) * np.linalg.norm(low, axis=1))
            worst["min_cosine"] = min(worst["min_cosine"], float(cosine.min()))
    return worst


def print_deviation(what: str, worst: dict[str, float]) -> None:
    print(f"{what}: max |bf16 - fp32| 5-min {worst['5min']:.2e} (largest |fp32| {worst['scale_5min']:.2f}), "
          f"5-s {worst['5s']:.2e} (largest |fp32| {worst['scale_5s']:.2f}); "
          f"smallest cosine similarity of 5-min vectors {worst['min_cosine']:.6f}")


def speed(args: argparse.Namespace, tmp: Path) -> None:
    checkpoint, table, night = setup(tmp, args.hours, args.checkpoint)
    print(f"synthetic night: {args.hours:g} h, {sum(map(len, CHANNELS.values()))} channels, embedded {args.nights} "
          f"time(s) per run, batch size {args.batch_size}; model {checkpoint}")
    best: dict[str, float] = {}
    results: dict[str, dict[str, Any]] = {}
    for repeat in range(args.repeats):
        for precision in PRECISIONS:
            results[precision], seconds = embed(checkpoint, [night] * args.nights, precision, args.device,
                                                channel_map=table, batch_size=args.batch_size,
                                                notify=lambda _: None)  # (its assumed 128 Hz is expected)
            best[precision] = min(best.get(precision, float("inf")), seconds)
            print(f"run {repeat + 1} {precision}: {seconds:.2f} s", flush=True)
    nights = args.nights * args.hours / 8
    for precision in PRECISIONS:
        print(f"{precision}: {best[precision]:.2f} s, {nights / best[precision] * 60:.2f} nights (8 h) per minute "
              f"(best of {args.repeats})")
    print(f"speed ratio bf16/fp32: {best['fp32'] / best['bf16']:.2f}x (above 1: bf16 is faster)")
    print_deviation("synthetic night, published architecture", deviation(results["fp32"], results["bf16"]))


def demo_folder(args: argparse.Namespace, tmp: Path) -> Path:
    if args.demo is not None:
        return args.demo
    from sleepfm.demo.pipeline import run_demo

    print("running `sleepfm demo --size small` for its cohort and trained heads ...", flush=True)
    run_demo(tmp / "demo", size="small")
    return tmp / "demo"


def staging(args: argparse.Namespace, tmp: Path) -> None:
    from sleepfm.clinical.models import StagingRunner
    from sleepfm.clinical.night import stage_night
    from sleepfm.config import EmbedConfig
    from sleepfm.embedding.api import write_study
    from sleepfm.evaluate.staging import classification_metrics

    demo = demo_folder(args, tmp)
    pretrained = demo / "runs" / "pretrain" / ("best" if (demo / "runs" / "pretrain" / "best").is_dir() else "final")
    head = demo / "runs" / "staging" / "best"
    if not (pretrained / "config.json").is_file() or not (head / "config.json").is_file():
        raise SystemExit(f"error: {demo} is not a finished `sleepfm demo` folder (no runs/pretrain, runs/staging/best)")
    signals = sorted((demo / "signals").glob("*.h5"))
    if args.split != "all":
        chosen = set(json.loads((demo / "split.json").read_text())[args.split])
        signals = [p for p in signals if p.name in chosen]
    runner = StagingRunner(head, args.device)
    stages: dict[str, list[np.ndarray]] = {"30s": [], "5s": []}
    embedded = {}
    for precision in PRECISIONS:
        embedded[precision], seconds = embed(pretrained, signals, precision, args.device)
        config = EmbedConfig(out=tmp / f"demo-{precision}", partial_chunk="drop")
        per_night_30s, per_night_5s = [], []
        for study in embedded[precision].values():
            path = write_study(config, study, pretrained, precision)[0]  # type: ignore[arg-type]
            night = stage_night(runner.probabilities(path), duration=study.plan.duration, start_time=None)
            per_night_30s.append(night.hypnogram.stages)
            per_night_5s.append(night.hypnogram_5s.stages)
        stages["30s"].append(np.concatenate(per_night_30s))
        stages["5s"].append(np.concatenate(per_night_5s))
        print(f"demo cohort ({len(signals)} {args.split} nights) embedded in {precision}: {seconds:.2f} s", flush=True)
    hours = sum(s.plan.duration for s in embedded["fp32"].values()) / 3600
    print_deviation(f"demo cohort ({hours:.1f} h), demo model", deviation(embedded["fp32"], embedded["bf16"]))
    for resolution in ("30s", "5s"):
        exact, rounded = stages[resolution]
        kappa = classification_metrics(exact, rounded).kappa
        print(f"staging fp32 vs bf16 at {resolution}: Cohen's κ {kappa:.4f} (goal ≥ 0.98), "
              f"{int((exact != rounded).sum())} of {exact.size} {'epochs' if resolution == '30s' else 'tokens'} differ")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=8.0, help="length of the synthetic night for the speed test")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--nights", type=int, default=1, help="times the night is embedded in each timed run")
    parser.add_argument("--batch-size", type=int, default=16, help="5-minute segments per forward pass")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--checkpoint", type=Path, default=None, help="base model for the speed test")
    parser.add_argument("--demo", type=Path, default=None, help="a finished `sleepfm demo` output folder")
    parser.add_argument("--split", choices=("test", "validation", "train", "all"), default="test",
                        help="which of the demo's nights to stage (default: the held-out test nights)")
    parser.add_argument("--skip-speed", action="store_true", help="only the demo cohort's agreement")
    parser.add_argument("--skip-demo", action="store_true", help="only speed and the synthetic night's deviation")
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        print("error: --device cuda: CUDA is not available here", file=sys.stderr)
        return 2
    describe_machine(torch.device(args.device))
    with tempfile.TemporaryDirectory(prefix="sleepfm-bf16-") as tmp_name:
        tmp = Path(tmp_name)
        if not args.skip_speed:
            speed(args, tmp)
        if not args.skip_demo:
            staging(args, tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
