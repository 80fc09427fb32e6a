"""The focal loss, as a sleepfm ``Loss`` component (task ``staging``)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import Field

from sleepfm.plugin import ConfigModel, Loss


class FocalConfig(ConfigModel):
    gamma: float = Field(2.0, ge=0, description="Focusing exponent; 0 gives cross-entropy.")
    class_weights: list[float] | None = Field(None, description="One weight per class (alpha).")


class FocalLoss(Loss):
    """Focal loss over 5-s tokens: mean of -w[y] (1 - p_y)^gamma log p_y over unmasked tokens."""

    task = "staging"
    Config = FocalConfig

    def __init__(self, config: FocalConfig) -> None:
        super().__init__()
        self.config = config
        weights = torch.tensor(config.class_weights, dtype=torch.float32) if config.class_weights else None
        self.register_buffer("class_weights", weights, persistent=False)

    def forward(self, logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        valid = ~mask.bool()
        if not bool(valid.any()):
            # Nothing scored in this batch: a zero that still connects to the graph.
            return logits.sum() * 0.0
        logits = logits[valid].float()
        targets = targets[valid].long()
        log_p = F.log_softmax(logits, dim=-1).gather(1, targets[:, None]).squeeze(1)
        loss = -((1.0 - log_p.exp()) ** self.config.gamma) * log_p
        if self.class_weights is not None:
            if self.class_weights.numel() != logits.shape[-1]:
                raise ValueError(
                    f"focal loss has {self.class_weights.numel()} class weights but the head gives "
                    f"{logits.shape[-1]} classes; set loss.params.class_weights to {logits.shape[-1]} values"
                )
            loss = loss * self.class_weights[targets]
        return loss.mean()

    def example_inputs(self, batch_size: int = 2) -> tuple[torch.Tensor, ...]:
        generator = torch.Generator().manual_seed(0)
        logits = torch.randn(batch_size, 12, 5, generator=generator)
        targets = torch.randint(0, 5, (batch_size, 12), generator=generator)
        mask = torch.zeros(batch_size, 12, dtype=torch.bool)
        mask[:, -3:] = True
        return logits, targets, mask
