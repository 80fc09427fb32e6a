"""``transformer-staging``: a staging head that attends over the whole night at the 30-s scale.

Per night, with ``x`` (B, M, S, E) per-modality 5-s embeddings and ``mask`` (B, M, S) (True =
padding):

1. **Modality fusion** — each modality's embedding plus a learned modality vector, averaged
   over the modalities present at that step, then projected to ``d_model``. A step where
   every modality is padding is padding.
2. **Epochs** — every ``tokens_per_epoch`` steps (6 = 30 s, the scoring epoch) are averaged
   into one epoch vector; an epoch with no real step is padding.
3. **Night context** — sinusoidal positions (any length) and a pre-norm transformer encoder
   over the epochs; attention never looks at padded epochs.
4. **Step logits** — each step's own vector concatenated with its epoch's context, through a
   small MLP to ``num_classes`` logits, so the output keeps the 5-s resolution the published
   head has (``(logits (B, S, K), step_mask (B, S))``).

Attending over epochs instead of 5-s steps makes self-attention 36 times cheaper: an 11-h
night is 1,320 epochs, not 7,920 steps.
"""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F
from pydantic import Field, NonNegativeFloat, PositiveInt
from torch import nn

from sleepfm.plugin import ConfigModel, Head, sinusoid_table


class TransformerStagingConfig(ConfigModel):
    """Hyper-parameters (``head.params`` in a fine-tuning config)."""

    embed_dim: PositiveInt = Field(128, description="Size of the input embeddings (set from the data).")
    num_classes: PositiveInt = Field(5, description="Stages (set from the task).")
    num_modalities: PositiveInt = Field(4, description="Modality slots M of the input (BAS, RESP, EKG, EMG).")
    d_model: PositiveInt = 128
    num_heads: PositiveInt = 4
    num_layers: PositiveInt = 2
    dim_feedforward: PositiveInt = 256
    dropout: NonNegativeFloat = Field(0.1, le=0.9)
    tokens_per_epoch: PositiveInt = Field(6, description="5-s steps per attention unit (6 = one 30-s epoch).")


class TransformerStagingHead(Head):
    """Sleep staging: modality fusion, transformer over 30-s epochs of the night, logits per 5-s step."""

    task: ClassVar[str] = "staging"
    uses_covariates: ClassVar[bool] = False
    Config = TransformerStagingConfig
    config: TransformerStagingConfig

    def __init__(self, config: TransformerStagingConfig) -> None:
        super().__init__()
        if config.d_model % config.num_heads:
            raise ValueError(f"d_model ({config.d_model}) must be a multiple of num_heads ({config.num_heads})")
        self.config = config
        self.modality = nn.Parameter(torch.randn(config.num_modalities, config.embed_dim) * 0.02)
        self.fuse = nn.Sequential(nn.LayerNorm(config.embed_dim), nn.Linear(config.embed_dim, config.d_model))
        layer = nn.TransformerEncoderLayer(config.d_model, config.num_heads, dim_feedforward=config.dim_feedforward,
                                           dropout=config.dropout, batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, config.num_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(config.d_model)
        self.classify = nn.Sequential(nn.Linear(2 * config.d_model, config.d_model), nn.GELU(),
                                      nn.Dropout(config.dropout), nn.Linear(config.d_model, config.num_classes))

    @classmethod
    def test_config(cls) -> TransformerStagingConfig:
        return TransformerStagingConfig(embed_dim=16, d_model=16, num_heads=2, num_layers=1, dim_feedforward=32)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, covariates: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """``x`` (B, M, S, E), ``mask`` (B, M, S) True = pad → ``(logits (B, S, K), step_mask (B, S))``."""
        _, modalities, steps, _ = x.shape
        if modalities > self.config.num_modalities:
            raise ValueError(f"x has {modalities} modality slots, the head was built for {self.config.num_modalities}")
        present = (~mask.bool()).unsqueeze(-1).to(x.dtype)  # (B, M, S, 1)
        tagged = x + self.modality[:modalities, None, :]
        count = present.sum(1)
        fused = (tagged * present).sum(1) / count.clamp(min=1)  # (B, S, E)
        step_mask = count.squeeze(-1) == 0
        steps_out = self.fuse(fused) * (~step_mask).unsqueeze(-1)

        context = self._epoch_context(steps_out, step_mask)
        per_step = context.repeat_interleave(self.config.tokens_per_epoch, dim=1)[:, :steps]
        logits = self.classify(torch.cat([steps_out, per_step], dim=-1))
        return logits, step_mask

    def _epoch_context(self, steps: torch.Tensor, step_mask: torch.Tensor) -> torch.Tensor:
        """(B, n_epochs, d_model): each epoch's vector after attending over the night's real epochs."""
        k = self.config.tokens_per_epoch
        batch, length, dim = steps.shape
        pad = (-length) % k
        real = F.pad((~step_mask).to(steps.dtype), (0, pad))  # (B, S')
        padded = F.pad(steps, (0, 0, 0, pad))
        n_epochs = (length + pad) // k
        weight = real.view(batch, n_epochs, k, 1)
        total = weight.sum(2)
        epochs = (padded.view(batch, n_epochs, k, dim) * weight).sum(2) / total.clamp(min=1)
        epoch_mask = total.squeeze(-1) == 0
        # A night with no real epoch would leave attention nothing to attend to (NaN): let it
        # see its first slot; its outputs are all masked anyway.
        empty = epoch_mask.all(1)
        if bool(empty.any()):
            epoch_mask = epoch_mask.clone()
            epoch_mask[empty, 0] = False
        positions = sinusoid_table(n_epochs, dim).to(device=steps.device, dtype=steps.dtype)
        hidden = self.encoder(epochs + positions, src_key_padding_mask=epoch_mask)
        return self.norm(hidden)

    def example_inputs(self, batch_size: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
        """A batch of ``batch_size`` 2-minute nights (24 steps); item 1 is 16 steps long and lacks EMG."""
        generator = torch.Generator().manual_seed(0)
        steps = 24
        x = torch.randn(batch_size, self.config.num_modalities, steps, self.config.embed_dim, generator=generator)
        mask = torch.zeros(batch_size, self.config.num_modalities, steps, dtype=torch.bool)
        if batch_size > 1:
            mask[1, :, 16:] = True
            mask[1, -1] = True
            x = x.masked_fill(mask.unsqueeze(-1), 0.0)
        return x, mask
