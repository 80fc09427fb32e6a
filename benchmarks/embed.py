"""`sleepfm embed` against the published embedding loop, on the same synthetic 8-hour night.

Writes a night the way the published converter does (root float16 datasets named by
channel label, 5-minute gzip chunks, no attributes; 16 channels across BAS/RESP/EKG/EMG plus
one unmapped), then in one process, alternating, runs

* **published**: the published data path (SPEC §3.2, §6): an index of 5-minute items; per
  item the HDF5 file is opened and each channel read on its own (float16 → float64 →
  float32); batches of 16 items with each modality's channel slots zero-padded to the batch
  maximum; the model (the plain module, published semantics) called once per modality per
  batch under ``torch.no_grad``; each item appended to the two published output files,
  opened per item;
* **sleepfm**: ``sleepfm embed NIGHT --checkpoint … --channel-map … --out …`` (in-process),

and prints each wall time (best of ``--repeats``), the ratio, and the largest deviation
between the two outputs. Usage::

    .venv/bin/python benchmarks/embed.py [--hours 8] [--repeats 2] [--checkpoint DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO.parent / "shared" / "reference"
RATE, CHUNK = 128, 38400
CHANNELS = {
    "BAS": ["C3-M2", "C4-M1", "F3-M2", "F4-M1", "O1-M2", "O2-M1", "E1-M2"],
    "RESP": ["Thor", "Abdo", "SpO2", "Therm", "Nasal Pressure"],
    "EKG": ["EKG"],
    "EMG": ["Chin", "Leg L", "Leg R"],
}
MODALITIES = ("BAS", "RESP", "EKG", "EMG")


def write_night(path: Path, hours: float, seed: int = 0) -> None:
    """A published-converter-style file: z-scored coloured noise plus slow sines, float16, gzip."""
    rng = np.random.default_rng(seed)
    n = int(hours * 3600 * RATE)
    names = [name for group in CHANNELS.values() for name in group] + ["Pos"]
    with h5py.File(path, "w") as handle:
        for i, name in enumerate(names):
            noise = np.cumsum(rng.standard_normal(n, dtype=np.float32)) * 0.02 + rng.standard_normal(n, np.float32)
            t = np.arange(n, dtype=np.float32) / RATE
            signal = noise + np.sin(2 * np.pi * (0.3 + 0.1 * i) * t)
            signal = (signal - signal.mean()) / signal.std()
            handle.create_dataset(name, data=signal.astype(np.float16), chunks=(CHUNK,), compression="gzip")


def published_loop(night: Path, model: torch.nn.Module, table: dict[str, list[str]], out: Path,
                   batch_size: int = 16) -> None:
    # Index (SPEC §3.1): selected root datasets per modality in key order, whole chunks only.
    with h5py.File(night, "r") as handle:
        keys = [k for k in handle if isinstance(handle[k], h5py.Dataset)]
        names = {m: [k for k in keys if k in table[m]] for m in MODALITIES}
        n = handle[keys[-1]].shape[0]
    items = [(night, names, start) for start in range(0, n // CHUNK * CHUNK, CHUNK)]
    stem = night.name.split(".")[0]
    paths = {"5s": out / "emb" / f"{stem}.hdf5", "5min": out / "emb_5min_agg" / f"{stem}.hdf5"}
    for p in paths.values():
        p.parent.mkdir(parents=True, exist_ok=True)

    def get_item(index: int) -> tuple[list[torch.Tensor], int]:
        path, groups, start = items[index]
        with h5py.File(path, "r", rdcc_nbytes=300 * 512 * 8 * 2) as handle:
            target = []
            for modality in MODALITIES:
                rows = [np.array(handle[name][start: start + CHUNK]).astype(np.float64) for name in groups[modality]]
                target.append(torch.tensor(np.stack(rows)).float())
        return target, start

    def collate(batch: list) -> tuple[list[torch.Tensor], list[torch.Tensor], list[int]]:
        xs, masks = [], []
        for m in range(len(MODALITIES)):
            widest = max(item[0][m].shape[0] for item in batch)
            x = torch.zeros(len(batch), widest, CHUNK)
            mask = torch.ones(len(batch), widest)
            for i, item in enumerate(batch):
                c = item[0][m].shape[0]
                x[i, :c], mask[i, :c] = item[0][m], 0
            xs.append(x)
            masks.append(mask)
        return xs, masks, [item[1] for item in batch]

    with torch.no_grad():
        for first in range(0, len(items), batch_size):
            xs, masks, starts = collate([get_item(i) for i in range(first, min(first + batch_size, len(items)))])
            outputs = [model(x, mask.bool()) for x, mask in zip(xs, masks, strict=True)]
            for i, start in enumerate(starts):
                for level, rows_per_chunk in (("5s", 60), ("5min", 1)):
                    with h5py.File(paths[level], "a") as handle:
                        row = start // CHUNK * rows_per_chunk
                        for m, modality in enumerate(MODALITIES):
                            pooled, sequence = outputs[m]
                            data = (sequence[i] if level == "5s" else pooled[i : i + 1]).numpy()
                            if modality not in handle:
                                handle.create_dataset(modality, data=data, chunks=(128, 128), maxshape=(None, 128))
                            else:
                                dataset = handle[modality]
                                dataset.resize((max(dataset.shape[0], row + len(data)), 128))
                                dataset[row: row + len(data)] = data


def synthetic_checkpoint(folder: Path) -> Path:
    """A published-layout base checkpoint with random weights (when ../shared is absent)."""
    from sleepfm.checkpoints.published import PublishedBaseConfig
    from sleepfm.embedding.set_transformer import SetTransformer, SetTransformerConfig

    torch.manual_seed(0)
    base = PublishedBaseConfig(pooling_head=8, dropout=0.3)
    model = SetTransformer(SetTransformerConfig.model_validate(base.model_params()))
    folder.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": {f"module.{k}": v for k, v in model.state_dict().items()}}, folder / "best.pt")
    (folder / "config.json").write_text(json.dumps(base.model_dump(), indent=4))
    return folder


def setup(tmp: Path, hours: float, checkpoint: Path | None) -> tuple[Path, Path, Path]:
    """``(checkpoint, channel table, night)`` in ``tmp``: the given or shared checkpoint (else a
    synthetic one), the night's channel table as JSON, and the synthetic night."""
    checkpoint = checkpoint or (REFERENCE / "sleepfm-compat" / "model_base")
    if not (checkpoint / "config.json").is_file():
        checkpoint = synthetic_checkpoint(tmp / "model_base")
    table_path = tmp / "channel_groups.json"
    table_path.write_text(json.dumps(CHANNELS))
    night = tmp / "night.hdf5"
    write_night(night, hours)
    return checkpoint, table_path, night


def compare(ours: Path, published: Path, stem: str) -> float:
    worst = 0.0
    with h5py.File(ours / f"{stem}.h5") as mine:
        for level, folder in (("5s", "emb"), ("5min", "emb_5min_agg")):
            with h5py.File(published / folder / f"{stem}.hdf5") as theirs:
                for modality in MODALITIES:
                    worst = max(worst, float(np.abs(mine[f"{level}/{modality}"][()] - theirs[modality][()]).max()))
    return worst


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=8.0)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--checkpoint", type=Path, default=None)
    parser.add_argument("--batch-size", type=int, default=16, help="sleepfm's --batch-size (published: 16)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads for both (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    from sleepfm.checkpoints import load_model
    from sleepfm.cli.app import main as sleepfm_main

    with tempfile.TemporaryDirectory(prefix="sleepfm-bench-") as tmp_name:
        tmp = Path(tmp_name)
        started = time.perf_counter()
        checkpoint, table_path, night = setup(tmp, args.hours, args.checkpoint)
        print(f"synthetic night: {args.hours:g} h, {sum(map(len, CHANNELS.values()))} channels "
              f"({', '.join(f'{m} {len(c)}' for m, c in CHANNELS.items())}) + 1 unmapped, written in "
              f"{time.perf_counter() - started:.1f} s; torch threads {torch.get_num_threads()}")
        model = load_model(checkpoint, semantics="published")
        times: dict[str, list[tuple[float, float]]] = {"published": [], "sleepfm": []}
        for repeat in range(args.repeats):
            out = tmp / f"published-{repeat}"
            wall, cpu = time.perf_counter(), time.process_time()
            published_loop(night, model, CHANNELS, out)
            times["published"].append((time.perf_counter() - wall, time.process_time() - cpu))
            wall, cpu = time.perf_counter(), time.process_time()
            code = sleepfm_main(["embed", str(night), "--checkpoint", str(checkpoint), "--channel-map",
                                 str(table_path), "--out", str(tmp / f"sleepfm-{repeat}"),
                                 "--batch-size", str(args.batch_size)])
            times["sleepfm"].append((time.perf_counter() - wall, time.process_time() - cpu))
            if code:
                return code
            print(f"run {repeat + 1}: published {times['published'][-1][0]:.2f} s, "
                  f"sleepfm {times['sleepfm'][-1][0]:.2f} s (wall)")
        deviation = compare(tmp / "sleepfm-0", tmp / "published-0", "night")
        best = {k: min(v) for k, v in times.items()}
        print(f"published loop: {best['published'][0]:.2f} s wall, {best['published'][1]:.2f} s CPU   "
              f"sleepfm embed: {best['sleepfm'][0]:.2f} s wall, {best['sleepfm'][1]:.2f} s CPU   "
              f"(best of {args.repeats})")
        print(f"speed-up: {best['published'][0] / best['sleepfm'][0]:.2f}x wall "
              f"({best['published'][1] / best['sleepfm'][1]:.2f}x CPU time)   max |difference|: {deviation:.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
