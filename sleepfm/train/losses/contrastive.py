"""The multimodal contrastive loss of SleepFM pretraining (SPEC §5).

Each modality's pooled embedding of a 5-minute item is L2-normalised; similarities are
scaled by ``exp(t)`` with a learnable log-scale ``t`` (``temperature``, published 0.0,
clamped to ``≥ clamp_min`` after every optimiser step) and scored with a symmetric
cross-entropy in which row i's positive is column i and every other item of the (global)
batch is a negative.

``leave_one_out``: modality i against the mean of the other normalised modalities (not
re-normalised): ``Σ_i [CE_sum(L_i) + CE_sum(L_iᵀ)] / (2M) / B``.
``pairwise``: every pair i < j in both directions: ``Σ_{i<j} [...] / (M(M-1)) / B``.
Both are the per-item mean over directions, exactly as the published code normalises.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field

from sleepfm.config.base import ConfigModel
from sleepfm.interfaces.loss import Loss
from sleepfm.train.distributed import gather_with_grad


class ContrastiveConfig(ConfigModel):
    mode: Literal["leave_one_out", "pairwise"] = "leave_one_out"
    temperature: float = Field(
        0.0, description="Initial log logit scale t: logits = cosine · exp(t) (published 0.0, i.e. scale 1)."
    )
    learn_temperature: bool = True
    clamp_min: float | None = Field(0.0, description="Lower bound of t after each optimiser step (published 0).")
    gather: bool = Field(True, description="Under DDP, contrast against the global batch of all ranks.")


class ContrastiveLoss(Loss):
    """Symmetric multimodal contrastive loss over L2-normalised pooled embeddings (SPEC §5)."""

    task = "contrastive"
    Config = ContrastiveConfig

    def __init__(self, config: ContrastiveConfig) -> None:
        super().__init__()
        self.config = config
        self.temperature = torch.nn.Parameter(
            torch.tensor(float(config.temperature)), requires_grad=config.learn_temperature
        )
        self.last_metrics: dict[str, float] = {}

    def forward(self, embeddings: list[torch.Tensor]) -> torch.Tensor:
        if len(embeddings) < 2:
            raise ValueError(f"the contrastive loss needs at least 2 modalities, got {len(embeddings)}")
        normed = [F.normalize(e.float(), dim=1) for e in embeddings]
        if self.config.gather:
            normed = [gather_with_grad(e) for e in normed]
        scale = self.temperature.exp()
        n_modalities, batch = len(normed), normed[0].shape[0]
        labels = torch.arange(batch, device=normed[0].device)
        total = normed[0].new_zeros(())
        correct = normed[0].new_zeros(())
        for anchor, other in self._pairs(normed):
            logits = anchor @ other.T * scale
            total = total + F.cross_entropy(logits, labels, reduction="sum")
            total = total + F.cross_entropy(logits.T, labels, reduction="sum")
            with torch.no_grad():
                correct += (logits.argmax(1) == labels).sum() + (logits.argmax(0) == labels).sum()
        directions = 2 * n_modalities if self.config.mode == "leave_one_out" else n_modalities * (n_modalities - 1)
        self.last_metrics = {
            "retrieval_accuracy": float(correct) / (directions * batch),
            "logit_scale": float(scale.detach()),
        }
        return total / directions / batch

    def _pairs(self, normed: list[torch.Tensor]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        if self.config.mode == "pairwise":
            return [(normed[i], normed[j]) for i in range(len(normed)) for j in range(i + 1, len(normed))]
        total = torch.stack(normed).sum(0)
        return [(e, (total - e) / (len(normed) - 1)) for e in normed]

    @torch.no_grad()
    def after_optimizer_step(self) -> None:
        if self.config.clamp_min is not None:
            self.temperature.clamp_(min=self.config.clamp_min)

    def example_inputs(self, batch_size: int = 2) -> tuple[list[torch.Tensor]]:
        generator = torch.Generator().manual_seed(0)
        return ([torch.randn(batch_size, 16, generator=generator) for _ in range(4)],)
