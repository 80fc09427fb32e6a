"""The three networks of a checkpoints folder, applied to one study's embeddings.

``--checkpoints`` is laid out like the published ``checkpoints/`` folder: ``model_base/``
(embedding), ``model_sleep_staging/`` (staging head) and ``model_diagnosis/`` (risk head), each
a published or sleepfm checkpoint folder that :func:`sleepfm.load_model` reads.

Long nights
    A head whose positional encoding is shorter than the night (the published staging head:
    8,196 tokens = 11.4 h) stages it in consecutive windows of that length. The published
    diagnosis head saw at most 6,480 tokens (9 h) in training; longer nights are cut there,
    as its data loader did, and the risk output says so.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

import sleepfm
from sleepfm import registry
from sleepfm.errors import CheckpointError, InputError, SleepfmError
from sleepfm.factory import config_model

FOLDERS = {"base": "model_base", "staging": "model_sleep_staging", "diagnosis": "model_diagnosis"}


@dataclass(frozen=True)
class CheckpointSet:
    """The checkpoints folder, checked for the networks a command needs.

    ``replace`` maps a role (``"staging"``, ``"diagnosis"``) to another checkpoint folder, e.g. a
    head fine-tuned with ``sleepfm finetune`` (its ``best/`` folder), used instead of the one in
    ``root``.
    """

    root: Path
    replace: Mapping[str, Path | None] = field(default_factory=dict)

    def path(self, role: str) -> Path:
        other = self.replace.get(role)
        return Path(other) if other is not None else self.root / FOLDERS[role]

    def has(self, role: str) -> bool:
        return (self.path(role) / "config.json").is_file()

    def require(self, *roles: str) -> CheckpointSet:
        if not self.root.is_dir():
            raise CheckpointError("checkpoints folder not found", where=self.root,
                                  fix="--checkpoints takes the folder holding model_base/, model_sleep_staging/, ...")
        for role in roles:
            if self.replace.get(role) is not None and not self.has(role):
                raise CheckpointError("no config.json in the checkpoint folder", where=self.path(role),
                                      fix="give a checkpoint folder (e.g. the best/ folder of a finetune run)")
        missing = [FOLDERS[r] for r in roles if not self.has(r)]
        if missing:
            raise CheckpointError(f"no {', '.join(missing)} (with its config.json) in the checkpoints folder",
                                  where=self.root, fix="use the release's checkpoints/ folder or one laid out like it")
        if "base" in roles:
            for role in roles:
                if role != "base":
                    self.check_sizes(role)
        return self

    def check_sizes(self, role: str) -> None:
        """Refuse, before any work, a head whose input size is not the base model's output size."""
        base, head = stated_embed_dim(self.path("base")), stated_embed_dim(self.path(role))
        if base is not None and head is not None and base != head:
            raise CheckpointError(
                f"the {role} head takes {head}-dim embeddings but the base model gives {base}-dim ones",
                where=self.path(role), fix=f"use the {role} head trained on this base model's embeddings "
                f"(a finetune run on `sleepfm embed` outputs of {self.path('base')})")


def stated_embed_dim(path: Path) -> int | None:
    """The embedding size (``embed_dim``) a checkpoint's config states, defaults filled in, without
    building it; ``None`` when it states none or cannot be read (loading it then says why)."""
    from sleepfm.checkpoints.folder import stated_component  # imports torch

    try:
        kind, name, params = stated_component(path)
        model = config_model(registry.get(kind, name))
        value = getattr(model.model_validate(params), "embed_dim", None) if model is not None else None
    except (SleepfmError, ValidationError):
        return None
    return value if isinstance(value, int) else None


def pick_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda, but no CUDA device is available", fix="use --device cpu or auto")
    return device


def _max_length(module: Any) -> int | None:
    config = getattr(module, "config", None)
    value = getattr(config, "max_seq_length", None)
    return int(value) if value else None


class _Runner:
    def __init__(self, path: Path, device: str) -> None:
        self.path = path
        self.device = pick_device(device)
        self.module = sleepfm.load_model(path).to(self.device).eval()
        self.max_length = _max_length(self.module)

    def _inputs(self, embeddings: Path, length: int | None) -> tuple[Any, Any, int, int]:
        """``(x (1, M, S, E), mask (1, M, S), tokens in the file, real tokens)`` on the device."""
        import torch

        from sleepfm.store.embedding_store import EmbeddingStore

        with EmbeddingStore(embeddings) as store:
            if not store.modalities:
                raise InputError("the embedding file holds no modality", where=embeddings)
            x, mask = store.stacked(max_tokens=length)
            total, real = store.n_tokens, store.n_tokens - store.padded_tokens
        return (torch.from_numpy(x)[None].to(self.device), torch.from_numpy(mask)[None].to(self.device), total,
                real)


class StagingRunner(_Runner):
    """The staging head: per-token stage probabilities (W, N1, N2, N3, REM) of one study."""

    def probabilities(self, embeddings: Path) -> np.ndarray:
        """(S, 5) softmax probabilities, one row per 5-s token of the embedding file."""
        import torch

        x, mask, total, _ = self._inputs(embeddings, None)
        window = self.max_length or total
        parts = []
        with torch.inference_mode():
            for start in range(0, total, window):
                logits, _ = self.module(x[:, :, start : start + window], mask[:, :, start : start + window])
                parts.append(torch.softmax(logits.float(), dim=-1)[0].cpu().numpy())
        probabilities = np.concatenate(parts, axis=0)
        if probabilities.shape[1] != 5:
            raise CheckpointError(f"the staging head gives {probabilities.shape[1]} classes, "
                                  "not 5 (W, N1, N2, N3, REM)", where=self.path)
        return probabilities


class RiskRunner(_Runner):
    """The diagnosis head with demographics: one log-hazard per outcome for one study."""

    @property
    def n_outputs(self) -> int | None:
        config = getattr(self.module, "config", None)
        value = getattr(config, "num_classes", None)
        return int(value) if value else None

    def log_hazards(self, embeddings: Path, covariates: tuple[float, float]) -> tuple[np.ndarray, dict[str, Any]]:
        """``(log_hazards (K,), info)``; ``info`` says how much of the night the head saw."""
        import torch

        x, mask, _, real = self._inputs(embeddings, self.max_length)
        demo = torch.tensor([covariates], dtype=torch.float32, device=self.device)
        with torch.inference_mode():
            hazards = self.module(x, mask, demo)
        values = hazards.float()[0].cpu().numpy().astype(np.float64)
        if not np.all(np.isfinite(values)):
            raise InputError("the diagnosis head gave non-finite log-hazards", where=embeddings)
        used = min(real, x.shape[2])
        info = {"tokens": int(real), "tokens_used": int(used),
                "hours_used": round(used * 5 / 3600, 3), "truncated": bool(used < real),
                "max_tokens": self.max_length}
        return values, info


@functools.lru_cache(maxsize=4)
def staging_runner(path: Path, device: str) -> StagingRunner:
    """The staging head at ``path``, loaded once per process (a worker reuses it for every study)."""
    return StagingRunner(path, device)


@functools.lru_cache(maxsize=4)
def risk_runner(path: Path, device: str) -> RiskRunner:
    """The diagnosis head at ``path``, loaded once per process."""
    return RiskRunner(path, device)
