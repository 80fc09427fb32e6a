"""A training run's folder: resumable checkpoints, the best and final models, RNG capture.

Layout of ``--out``::

    config.resolved.yaml     the resolved config of the run
    split.json               the studies of each split (published split-file shape)
    metrics.jsonl            one JSON object per logged step / validation
    checkpoints/step-000200/ a sleepfm checkpoint folder (config.json + weights.safetensors,
                             loadable with ``sleepfm.load_model``) plus trainer_state.pt:
                             optimiser, scheduler, loss parameters, step/epoch/data position,
                             best-so-far and the RNG states of every rank
    best/                    the model with the lowest validation loss (+ best.json)
    final/                   the model when training ended

A checkpoint folder is written under a temporary name and renamed into place, and
``trainer_state.pt`` is written last, so an interrupted save is never mistaken for a
complete checkpoint.
"""

from __future__ import annotations

import os
import random
import re
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from sleepfm.errors import CheckpointError

STATE_NAME = "trainer_state.pt"
CHECKPOINTS = "checkpoints"
BEST = "best"
FINAL = "final"
_STEP_DIR = re.compile(r"^step-(\d+)$")


@dataclass
class TrainState:
    """Where a run is: optimiser steps done, the epoch, and how far into it the data order is."""

    step: int = 0
    epoch: int = 0
    batches_in_epoch: int = 0
    best_loss: float | None = None
    best_step: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (CPU and CUDA) at once."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def capture_rng() -> dict[str, Any]:
    """This process's RNG states (python, numpy, torch CPU and CUDA)."""
    numpy_state = np.random.get_state()
    return {
        "python": random.getstate(),
        "numpy": [numpy_state[0], torch.from_numpy(numpy_state[1].astype(np.int64)), *numpy_state[2:]],
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def restore_rng(states: dict[str, Any]) -> None:
    python = states["python"]
    random.setstate((python[0], tuple(python[1]), python[2]))
    kind, keys, *rest = states["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), *rest))
    torch.set_rng_state(states["torch"])
    if states["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def save_model_folder(module: nn.Module, folder: Path, kind: str, name: str,
                      signal: dict[str, float] | None = None) -> Path:
    """``module`` as a sleepfm checkpoint folder (replacing ``folder``); ``signal`` records the
    input a base model was trained on (sampling rate, chunk length)."""
    from sleepfm.checkpoints import save_model

    return save_model(module, folder, kind=kind, name=name, signal=signal, overwrite=True)


def load_model_weights(module: nn.Module, folder: Path) -> None:
    """Load a sleepfm checkpoint folder's weights into ``module`` (strictly)."""
    from sleepfm.checkpoints import load_checkpoint

    loaded = load_checkpoint(folder).module
    try:
        module.load_state_dict(loaded.state_dict(), strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f"the checkpoint does not fit this run's network ({exc})".split("\n")[0],
                              where=folder) from None


def save_checkpoint(run: Path, module: nn.Module, kind: str, name: str, payload: dict[str, Any], step: int,
                    keep: int, signal: dict[str, float] | None = None) -> Path:
    """Write ``checkpoints/step-N`` (model folder + trainer state) and keep the newest ``keep``."""
    root = Path(run) / CHECKPOINTS
    final = root / f"step-{step:06d}"
    partial = root / f".step-{step:06d}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    save_model_folder(module, partial, kind, name, signal)
    torch.save(payload, partial / STATE_NAME)
    if final.exists():
        shutil.rmtree(final)
    os.replace(partial, final)
    for old in list_checkpoints(run)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def list_checkpoints(run: Path) -> list[Path]:
    """Complete checkpoints of a run, oldest first."""
    root = Path(run) / CHECKPOINTS
    if not root.is_dir():
        return []
    found = []
    for path in root.iterdir():
        match = _STEP_DIR.match(path.name)
        if match and (path / STATE_NAME).is_file():
            found.append((int(match.group(1)), path))
    return [path for _, path in sorted(found)]


def load_trainer_state(folder: Path) -> dict[str, Any]:
    try:
        return torch.load(Path(folder) / STATE_NAME, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError) as exc:
        raise CheckpointError(f"cannot read the trainer state ({exc})".split("\n")[0], where=folder,
                              fix="remove this checkpoint folder to resume from the one before") from None


def state_dict_of(state: TrainState) -> dict[str, Any]:
    return asdict(state)
