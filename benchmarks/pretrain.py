"""Pretraining throughput: 5-minute multimodal items per second, baseline against ours.

Both sides train the same registered base model (the published-size ``set-transformer`` by
default) with the same contrastive loss and SGD, on the same synthetic cohort of signal
stores written by ``SignalStoreWriter`` (float16, gzip, 5-min chunks). They differ in the
data path:

baseline  the published one (SPEC §3.2, §10.19): the HDF5 file is re-opened for every item,
          each channel is read through float64, each modality is padded to the batch's own
          channel count; the training loop calls the model once per modality.
ours      ``sleepfm pretrain`` itself (``run_training``): files opened once per worker and
          kept, whole-chunk reads, fixed-width padding; items/s taken from its metrics log.

It prints items/s for the data path alone and for whole training steps, and the ratios
(training: on CPU seconds per item, which a busy machine disturbs far less than wall time).
Usage::

    .venv/bin/python benchmarks/pretrain.py                    # published-size model
    .venv/bin/python benchmarks/pretrain.py --steps 4 --batch 4
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np
import torch

from sleepfm import registry
from sleepfm.config import load_config
from sleepfm.interfaces.modality import MODALITIES, Modality
from sleepfm.store.signal_writer import SignalStoreWriter
from sleepfm.train.datasets import PadSignals, SignalChunkDataset, index_signal_stores
from sleepfm.train.run import run_training

CHUNK = 38400
# Channel counts of the reference mixed-rates file (BAS 5, RESP 5, EKG 1, EMG 2).
CHANNELS = {Modality.BAS: 5, Modality.RESP: 5, Modality.EKG: 1, Modality.EMG: 2}


def write_cohort(folder: Path, studies: int, chunks: int) -> list[Path]:
    rng = np.random.default_rng(0)
    paths = []
    for s in range(studies):
        path = folder / f"bench-{s:03d}.h5"
        with SignalStoreWriter(path, rate=128.0) as writer:
            for modality, count in CHANNELS.items():
                for c in range(count):
                    writer.add_channel(f"{modality.value}{c}", rng.standard_normal(chunks * CHUNK), label=f"x{c}",
                                       modality=modality)
        paths.append(path)
    return paths


class PublishedStyleDataset(torch.utils.data.Dataset):
    """The published item: open the file, read each channel via float64, close."""

    def __init__(self, items: list[tuple[Path, list[list[str]], int]]) -> None:
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> list[torch.Tensor]:
        path, names, start = self.items[index]
        with h5py.File(path, "r", rdcc_nbytes=300 * 512 * 8 * 2) as handle:
            return [torch.tensor(np.array([handle[n][start:start + CHUNK].astype(np.float64) for n in group]),
                                 dtype=torch.float32) for group in names]


def published_collate(batch: list[list[torch.Tensor]]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    signals, masks = [], []
    for m in range(len(MODALITIES)):
        width = max(item[m].shape[0] for item in batch)
        x = torch.zeros(len(batch), width, CHUNK)
        mask = torch.ones(len(batch), width)
        for b, item in enumerate(batch):
            x[b, : item[m].shape[0]] = item[m]
            mask[b, : item[m].shape[0]] = 0
        signals.append(x)
        masks.append(mask.bool())
    return signals, masks


def published_items(paths: list[Path]) -> list[tuple[Path, list[list[str]], int]]:
    items = []
    for path in paths:
        with h5py.File(path, "r") as handle:
            names = list(handle.keys())
            n = handle[names[-1]].shape[0]
        groups = [[k for k in names if k.startswith(m.value)] for m in MODALITIES]
        items += [(path, groups, start) for start in range(0, n // CHUNK * CHUNK, CHUNK)]
    random.Random(0).shuffle(items)
    return items


def data_rate(loader: torch.utils.data.DataLoader) -> float:
    count, started = 0, time.perf_counter()
    for batch in loader:
        count += (batch[0] if isinstance(batch, tuple) else batch["signals"])[0].shape[0]
    return count / (time.perf_counter() - started)


class Clock:
    """Wall and CPU time (this process, all threads) at each optimiser step."""

    def __init__(self) -> None:
        self.marks: list[tuple[float, float]] = []

    def __call__(self, step: int = 0) -> None:
        self.marks.append((time.perf_counter(), time.process_time()))

    def rates(self, batch: int) -> tuple[float, float]:
        """(items per wall second, CPU seconds per item) from the first mark (after set-up) to the last."""
        (wall0, cpu0), (wall1, cpu1) = self.marks[0], self.marks[-1]
        items = batch * (len(self.marks) - 1)
        return items / (wall1 - wall0), (cpu1 - cpu0) / items


def baseline_training_rate(paths: list[Path], model_name: str, params: dict, batch: int, steps: int
                           ) -> tuple[float, float]:
    torch.manual_seed(0)
    model = registry.get("models", model_name).from_config(params)
    loss = registry.get("losses", "contrastive").from_config({"mode": "leave_one_out"})
    optimizer = torch.optim.SGD([*model.parameters(), *loss.parameters()], lr=1e-3, momentum=0.9)
    loader = torch.utils.data.DataLoader(PublishedStyleDataset(published_items(paths)), batch_size=batch,
                                         shuffle=False, drop_last=True, collate_fn=published_collate)
    model.train()
    clock = Clock()
    for step, (signals, masks) in enumerate(loader):
        pooled = [model(x, m)[0] for x, m in zip(signals, masks, strict=True)]
        value = loss(pooled)
        optimizer.zero_grad()
        value.backward()
        optimizer.step()
        clock()  # the first step pays for one-time set-up on both sides: timing starts after it
        if step == steps:
            break
    return clock.rates(batch)


def ours_training_rate(folder: Path, run: Path, model_name: str, params: dict, batch: int, steps: int
                       ) -> tuple[float, float]:
    config = load_config(None, workflow="pretrain", overrides=[
        f"data.signals={folder}", f"out={run}", f"model.name={model_name}", f"model.params={json.dumps(params)}",
        f"trainer.batch_size={batch}", f"trainer.max_steps={steps + 1}", "trainer.epochs=100", "trainer.log_every=1",
        "data.split.validation_fraction=0", "data.split.test_fraction=0", "trainer.tensorboard=false"])
    clock = Clock()
    run_training(config, on_step=clock)
    return clock.rates(batch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="set-transformer")
    parser.add_argument("--params", default="{}", help="model params as JSON (default: published size)")
    parser.add_argument("--studies", type=int, default=6)
    parser.add_argument("--chunks", type=int, default=8)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(2)
    params = json.loads(args.params)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "signals"
        paths = write_cohort(folder, args.studies, args.chunks)
        n_items = args.studies * args.chunks
        print(f"cohort: {args.studies} studies x {args.chunks} chunks = {n_items} 5-min items, "
              f"{sum(CHANNELS.values())} channels; torch threads {torch.get_num_threads()}")

        published = torch.utils.data.DataLoader(PublishedStyleDataset(published_items(paths)), batch_size=args.batch,
                                                collate_fn=published_collate)
        studies, _ = index_signal_stores(paths)
        dataset = SignalChunkDataset(studies)
        ours = torch.utils.data.DataLoader(dataset, batch_size=args.batch, collate_fn=PadSignals(dataset.widths))
        data_base = max(data_rate(published) for _ in range(args.rounds))
        data_ours = max(data_rate(ours) for _ in range(args.rounds))
        print(f"data path     baseline {data_base:8.1f} items/s   ours {data_ours:8.1f} items/s   "
              f"ratio {data_ours / data_base:.2f}x")

        # Alternate the two sides. Wall-clock rates follow whatever else loads the machine, so
        # the ratio is taken on CPU seconds per item (this process, all its threads); the
        # absolute rate is the best wall-clock round.
        base, ours_rounds = [], []
        for round_ in range(args.rounds):
            base.append(baseline_training_rate(paths, args.model, params, args.batch, args.steps))
            ours_rounds.append(ours_training_rate(folder, Path(tmp) / f"run{round_}", args.model, params,
                                                  args.batch, args.steps))
        wall_base, wall_ours = max(r[0] for r in base), max(r[0] for r in ours_rounds)
        cpu_base, cpu_ours = min(r[1] for r in base), min(r[1] for r in ours_rounds)
        print(f"training step (model {args.model}, batch {args.batch}, {args.steps} timed steps, best of "
              f"{args.rounds} rounds)")
        print(f"  wall clock  baseline {wall_base:7.3f} items/s   ours {wall_ours:7.3f} items/s")
        print(f"  CPU time    baseline {cpu_base:7.2f} s/item    ours {cpu_ours:7.2f} s/item    "
              f"ratio {cpu_base / cpu_ours:.2f}x")

if __name__ == "__main__":
    main()
