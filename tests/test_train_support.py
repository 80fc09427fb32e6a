"""Synthetic cohorts and tiny registered components shared by the training tests.

The tiny components are installed as a real plugin distribution (``make_plugin``), the way a
lab's package would register them, so training runs through the registry exactly as with the
built-ins. Each has dropout, so resume tests see the RNG state matter.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sleepfm.interfaces.modality import MODALITIES
from sleepfm.store.embedding_store import write_embeddings
from sleepfm.store.signal_writer import SignalStoreWriter

CHUNK = 38400
CHANNELS = {"BAS": ["C3-M2", "C4-M1", "E1-M2"], "RESP": ["Thor", "Abdo"], "EKG": ["ECG"], "EMG": ["Chin"]}
FEW_CHANNELS = {"BAS": ["C3-M2", "E1-M2"], "RESP": ["Thor"], "EKG": ["ECG"], "EMG": ["Chin"]}

TINY_PLUGIN = '''
import torch
from torch import nn
from pydantic import Field
from sleepfm import hookimpl
from sleepfm.config.base import ConfigModel
from sleepfm.interfaces.model import Model
from sleepfm.interfaces.head import Head
from sleepfm.interfaces.loss import Loss


class EncoderConfig(ConfigModel):
    embed_dim: int = 8
    patch_size: int = 640
    dropout: float = 0.2


class TinyEncoder(Model):
    """Tiny base model for tests: linear patch embedding, masked channel mean, time mean."""

    Config = EncoderConfig

    def __init__(self, config):
        super().__init__()
        self.config, self.embed_dim, self.patch_size = config, config.embed_dim, config.patch_size
        self.patch = nn.Linear(config.patch_size, config.embed_dim)
        self.drop = nn.Dropout(config.dropout)

    def forward(self, x, mask):
        b, c, t = x.shape
        tokens = self.drop(self.patch(x.reshape(b, c, t // self.patch_size, self.patch_size)))
        weight = (~mask).float()[:, :, None, None]
        sequence = (tokens * weight).sum(1) / weight.sum(1).clamp(min=1)
        return sequence.mean(1), sequence

    def example_inputs(self, batch_size=2):
        return torch.randn(batch_size, 2, 2 * self.patch_size), torch.zeros(batch_size, 2, dtype=torch.bool)


class HeadConfig(ConfigModel):
    embed_dim: int = 16
    num_classes: int = 5
    num_covariates: int = 2
    dropout: float = 0.2


def _pool(x, mask):
    weight = (~mask).float().unsqueeze(-1)
    return (x * weight).sum(1) / weight.sum(1).clamp(min=1), mask.all(1)


class TinyStaging(Head):
    """Tiny staging head for tests: modality mean then a linear layer per token."""

    Config = HeadConfig
    task = "staging"

    def __init__(self, config):
        super().__init__()
        self.config = config
        self.fc = nn.Linear(config.embed_dim, config.num_classes)
        self.drop = nn.Dropout(config.dropout)

    def forward(self, x, mask, covariates=None):
        steps, step_mask = _pool(x, mask)
        return self.fc(self.drop(steps)), step_mask


class OtherStaging(TinyStaging):
    """A second staging head (two layers), to swap in by config."""

    def __init__(self, config):
        super().__init__(config)
        self.hidden = nn.Linear(config.embed_dim, config.embed_dim)

    def forward(self, x, mask, covariates=None):
        steps, step_mask = _pool(x, mask)
        return self.fc(torch.relu(self.hidden(steps))), step_mask


class TinyCox(Head):
    """Tiny diagnosis head for tests: night mean plus covariates, linear log-hazards."""

    Config = HeadConfig
    task = "diagnosis"
    uses_covariates = True

    def __init__(self, config):
        super().__init__()
        self.config = config
        self.fc = nn.Linear(config.embed_dim + config.num_covariates, config.num_classes)

    def forward(self, x, mask, covariates=None):
        steps, step_mask = _pool(x, mask)
        real = (~step_mask).float().unsqueeze(-1)
        night = (steps * real).sum(1) / real.sum(1).clamp(min=1)
        return self.fc(torch.cat([night, covariates], 1))


class NanConfig(ConfigModel):
    at_call: int = 3


class NanAtCall(Loss):
    """Staging cross-entropy that returns NaN on one call (to test the non-finite stop)."""

    Config = NanConfig
    task = "staging"

    def __init__(self, config):
        super().__init__()
        self.config, self.calls = config, 0

    def forward(self, logits, targets, mask):
        self.calls += 1
        keep = ~mask & (targets >= 0)
        value = nn.functional.cross_entropy(logits[keep], targets[keep])
        return value * float("nan") if self.calls == self.config.at_call else value


@hookimpl
def sleepfm_register_losses(register):
    register("nan-at-call", NanAtCall)


@hookimpl
def sleepfm_register_models(register):
    register("tiny-encoder", TinyEncoder)


@hookimpl
def sleepfm_register_heads(register):
    register("tiny-staging", TinyStaging)
    register("other-staging", OtherStaging)
    register("tiny-cox", TinyCox)
'''


def install_tiny(make_plugin) -> Path:
    """Register the tiny components; returns the site folder (for a subprocess's PYTHONPATH)."""
    return make_plugin("sleepfm-tiny-train", TINY_PLUGIN)


def write_signal_cohort(folder: Path, n_studies: int = 4, n_chunks: int = 2, seed: int = 0,
                        prefix: str = "study", channels: dict[str, list[str]] = CHANNELS) -> list[Path]:
    """Signal stores with every modality; each study mixes a shared per-chunk source into all channels."""
    rng = np.random.default_rng(seed)
    paths = []
    n = n_chunks * CHUNK + 1000  # a trailing partial chunk, which is left out
    for s in range(n_studies):
        source = rng.standard_normal(n).astype(np.float32)
        path = folder / f"{prefix}-{s:03d}.h5"
        with SignalStoreWriter(path, rate=128.0) as writer:
            for modality, names in channels.items():
                for name in names:
                    data = 0.7 * source + 0.3 * rng.standard_normal(n)
                    writer.add_channel(name, data, label=name, modality=MODALITIES[list(CHANNELS).index(modality)])
        paths.append(path)
    return paths


def write_embedding_cohort(folder: Path, ids: list[str], n_chunks: int = 1, dim: int = 16, seed: int = 0,
                           stages: dict[str, np.ndarray] | None = None) -> dict[str, Path]:
    """Embedding stores; when ``stages`` is given, BAS embeddings carry the stage (learnable)."""
    rng = np.random.default_rng(seed)
    out = {}
    for sid in ids:
        n_tokens = n_chunks * 60
        tokens = {m: rng.standard_normal((n_tokens, dim)).astype(np.float32) for m in MODALITIES}
        if stages is not None:
            known = np.clip(stages[sid][:n_tokens], 0, 4)
            tokens[MODALITIES[0]][: known.size, :5] += 8 * np.eye(5)[known]
        pooled = {m: t.reshape(n_chunks, 60, dim).mean(1) for m, t in tokens.items()}
        out[sid] = write_embeddings(folder / f"{sid}.h5", tokens, pooled)
    return out


def write_stage_csv(path: Path, stages: np.ndarray, seconds: float = 5.0) -> Path:
    """A published staging CSV (Start,Stop,StageName,StageNumber) with rows of ``seconds``."""
    names = {-1: "Unknown", 0: "Wake", 1: "Stage 1", 2: "Stage 2", 3: "Stage 3", 4: "REM"}
    starts = np.arange(len(stages)) * seconds
    pd.DataFrame({"Start": starts, "Stop": starts + seconds, "StageName": [names[int(s)] for s in stages],
                  "StageNumber": stages}).to_csv(path, index=False)
    return path


def write_outcomes(folder: Path, ids: list[str], n_outcomes: int = 3, seed: int = 0) -> tuple[Path, Path, Path]:
    """is_event.csv, time_to_event.csv and demographics.csv for ``ids``."""
    rng = np.random.default_rng(seed)
    columns = [f"{c}.0" for c in range(8, 8 + n_outcomes)]
    events = (rng.random((len(ids), n_outcomes)) < 0.5).astype(int)
    times = rng.integers(100, 4000, (len(ids), n_outcomes)).astype(float)
    frame = lambda values: pd.DataFrame(values, columns=columns).assign(**{"Study ID": ids})[["Study ID", *columns]]  # noqa: E731
    frame(events).to_csv(folder / "is_event.csv", index=False)
    frame(times).to_csv(folder / "time_to_event.csv", index=False)
    pd.DataFrame({"Study ID": ids, "age": rng.random(len(ids)), "gender": rng.integers(0, 2, len(ids))}).to_csv(
        folder / "demographics.csv", index=False)
    return folder / "is_event.csv", folder / "time_to_event.csv", folder / "demographics.csv"
