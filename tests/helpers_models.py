"""Builders shared by the model, checkpoint and embedding tests: small checkpoints and
synthetic signal stores (ours, with modality attributes, or the published converter's)."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import torch

from sleepfm.checkpoints import save_model
from sleepfm.checkpoints.published import PublishedBaseConfig
from sleepfm.embedding.set_transformer import SetTransformer, SetTransformerConfig
from sleepfm.interfaces.modality import Modality
from sleepfm.store.signal_writer import SignalStoreWriter

RATE = 128.0
#: The small test model has 64-sample patches and 16 positions: 8-s "chunks" of 1024 samples.
SMALL_SIGNAL = {"sampling_rate": RATE, "chunk_seconds": 8.0}
SMALL_CHUNK = 1024
SMALL_STEPS = 16

#: Channel name → modality of a typical synthetic study.
STUDY = {"C3-M2": Modality.BAS, "C4-M1": Modality.BAS, "E1-M2": Modality.BAS, "Thor": Modality.RESP,
         "SpO2": Modality.RESP, "EKG": Modality.EKG, "Chin": Modality.EMG, "Leg L": Modality.EMG, "Pos": None}


def randomize_norm_stats(model: torch.nn.Module, seed: int = 0) -> None:
    """Move BatchNorm statistics off their defaults, so that folding them is really tested."""
    generator = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm1d):
            module.running_mean.copy_(torch.randn(module.num_features, generator=generator) * 0.1)
            module.running_var.copy_(torch.rand(module.num_features, generator=generator) + 0.5)


def small_model(seed: int = 0) -> SetTransformer:
    torch.manual_seed(seed)
    model = SetTransformer(SetTransformer.test_config())
    randomize_norm_stats(model, seed)
    return model.eval()


def small_checkpoint(folder: Path, seed: int = 0) -> Path:
    return save_model(small_model(seed), folder, signal=SMALL_SIGNAL)


def published_base(folder: Path, seed: int = 0) -> Path:
    """A published-layout base checkpoint (real architecture, random weights)."""
    torch.manual_seed(seed)
    config = PublishedBaseConfig(pooling_head=8, dropout=0.3)
    model = SetTransformer(SetTransformerConfig.model_validate(config.model_params()))
    randomize_norm_stats(model, seed)
    folder.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": {f"module.{k}": v for k, v in model.state_dict().items()}}, folder / "best.pt")
    (folder / "config.json").write_text(json.dumps(config.model_dump(), indent=4))
    return folder


def signals(names: list[str], samples: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Z-scored noise per channel, already rounded through float16 as a store keeps it."""
    rng = np.random.default_rng(seed)
    out = {}
    for name in names:
        x = np.cumsum(rng.standard_normal(samples)) * 0.05 + rng.standard_normal(samples)
        out[name] = ((x - x.mean()) / x.std()).astype(np.float16).astype(np.float32)
    return out


def write_study(path: Path, channels: dict[str, Modality | None], samples: int, *, published: bool = False,
                seed: int = 0) -> dict[str, np.ndarray]:
    """Write a signal store; ``published=True`` writes the published converter's bare layout."""
    data = signals(list(channels), samples, seed)
    if published:
        with h5py.File(path, "w") as handle:
            for name, values in data.items():
                handle.create_dataset(name, data=values.astype(np.float16), compression="gzip",
                                      chunks=(min(38400, samples),))
        return data
    with SignalStoreWriter(path, rate=RATE, source_file=f"{path.stem}.edf") as writer:
        for name, values in data.items():
            writer.add_channel(name, values, label=name, modality=channels[name], original_rate=256.0)
    return data


def channel_table(path: Path, channels: dict[str, Modality | None]) -> Path:
    """A channel_groups.json-shaped table for ``channels``."""
    table: dict[str, list[str]] = {m.value: [] for m in Modality}
    for name, modality in channels.items():
        if modality is not None:
            table[modality.value].append(name)
    path.write_text(json.dumps(table))
    return path
