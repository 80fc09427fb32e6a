"""Masked, class-weighted token cross-entropy for sleep staging (SPEC §7.1).

``loss = Σ_valid w[y]·CE(logits, y) / N_valid``: the published normalisation divides by the
number of scored tokens, not by the sum of their weights (``normalize: weights`` gives
torch's weighted mean instead). A token is ignored where ``mask`` is true or its target is
negative (unscored). Under DDP the denominator is the global token count, so the averaged
gradient equals the single-process gradient of the whole batch.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field

from sleepfm.config.base import ConfigModel
from sleepfm.interfaces.loss import Loss
from sleepfm.train.distributed import all_reduce_sum, world_size


class CrossEntropyConfig(ConfigModel):
    class_weights: list[float] | None = Field(
        None, description="One weight per class, Wake N1 N2 N3 REM order (published 1, 4, 2, 4, 3)."
    )
    normalize: Literal["tokens", "weights"] = Field(
        "tokens", description="Divide by the number of scored tokens (published) or by the sum of their weights."
    )
    label_smoothing: float = Field(0.0, ge=0.0, lt=1.0)


class CrossEntropyLoss(Loss):
    """Class-weighted cross-entropy over scored 5-s tokens, divided by their number (SPEC §7.1)."""

    task = "staging"
    Config = CrossEntropyConfig

    def __init__(self, config: CrossEntropyConfig) -> None:
        super().__init__()
        self.config = config
        weights = torch.tensor(config.class_weights, dtype=torch.float32) if config.class_weights else None
        self.register_buffer("class_weights", weights, persistent=False)
        self.last_metrics: dict[str, float] = {}

    def forward(self, logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        n_classes = logits.shape[-1]
        if self.class_weights is not None and self.class_weights.numel() != n_classes:
            raise ValueError(
                f"cross-entropy has {self.class_weights.numel()} class weights but the head gives {n_classes} "
                f"classes; set loss.params.class_weights to {n_classes} values"
            )
        valid = ~mask.bool() & (targets >= 0)
        flat_logits = logits[valid].float()
        flat_targets = targets[valid].long()
        per_token = F.cross_entropy(flat_logits, flat_targets, reduction="none",
                                    label_smoothing=self.config.label_smoothing)
        if self.class_weights is not None:
            token_weights = self.class_weights.to(per_token.device)[flat_targets]
            per_token = per_token * token_weights
        else:
            token_weights = torch.ones_like(per_token)
        local_norm = token_weights.sum() if self.config.normalize == "weights" else per_token.new_tensor(
            float(per_token.numel()))
        global_norm = all_reduce_sum(local_norm)
        self.last_metrics = {"scored_tokens": float(valid.sum())}
        if float(global_norm) == 0.0:
            # Nothing scored anywhere: a zero that keeps the graph connected.
            return logits.sum() * 0.0
        return per_token.sum() / global_norm * world_size()

    def example_inputs(self, batch_size: int = 2) -> tuple[torch.Tensor, ...]:
        generator = torch.Generator().manual_seed(0)
        logits = torch.randn(batch_size, 12, 5, generator=generator)
        targets = torch.randint(0, 5, (batch_size, 12), generator=generator)
        targets[:, 0] = -1
        mask = torch.zeros(batch_size, 12, dtype=torch.bool)
        mask[:, -3:] = True
        return logits, targets, mask
