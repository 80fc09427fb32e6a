"""Pooler ``attention``: one post-norm transformer layer over a set, then a masked mean.

The published ``AttentionPooling`` (SPEC §4.2) skips its layer and returns the lone token
when the *batch* has a single slot (``L == 1``), so a single-channel study's embedding
depends on which other studies share its batch (SPEC §4.10, §10.7). ``single_slot`` chooses:

``"shortcut"`` (default)
    the shortcut, decided per row: a row with exactly one real slot returns that slot.
    Equal to the published output whenever the published batch held only such rows
    (one study at a time, the usual case), and independent of the batch.
``"attend"``
    always run the layer, also on a lone slot; independent of the batch. What the published
    heads do in practice (their modality axis is always padded to 4).
``"batch"``
    the published rule, exactly: shortcut only when the whole batch has ``L == 1``.

Rows with no real slot at all give zeros instead of the NaNs an all-masked attention gives.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from pydantic import Field, NonNegativeFloat, PositiveInt
from torch import nn

from sleepfm.config.base import ConfigModel
from sleepfm.interfaces.pooler import Pooler

SingleSlot = Literal["shortcut", "attend", "batch"]


class AttentionPoolerConfig(ConfigModel):
    """Hyper-parameters of the ``attention`` pooler."""

    embed_dim: PositiveInt = 128
    num_heads: PositiveInt = Field(8, description="Attention heads (published `pooling_head`).")
    dim_feedforward: PositiveInt = 2048
    dropout: NonNegativeFloat = 0.1
    single_slot: SingleSlot = Field("shortcut", description="How a row with one real slot is pooled (see module).")


def masked_mean(values: torch.Tensor, padding: torch.Tensor | None) -> torch.Tensor:
    """Mean over dim 1 of (N, L, E) ignoring slots where ``padding`` (N, L) is True; 0 for empty rows."""
    if padding is None:
        return values.mean(1)
    keep = (~padding).unsqueeze(-1).to(values.dtype)
    return (values * keep).sum(1) / keep.sum(1).clamp(min=1.0)


class AttentionPooler(Pooler):
    """Masked attention pooling (published ``AttentionPooling``)."""

    Config = AttentionPoolerConfig
    config: AttentionPoolerConfig

    def __init__(self, config: AttentionPoolerConfig) -> None:
        super().__init__()
        if config.embed_dim % config.num_heads:
            raise ValueError(f"embed_dim {config.embed_dim} is not divisible by num_heads {config.num_heads}")
        self.config = config
        self.embed_dim = config.embed_dim
        self.transformer_layer = nn.TransformerEncoderLayer(
            config.embed_dim, config.num_heads, dim_feedforward=config.dim_feedforward,
            dropout=config.dropout, batch_first=True,
        )

    @classmethod
    def test_config(cls) -> AttentionPoolerConfig:
        return AttentionPoolerConfig(embed_dim=16, num_heads=2, dim_feedforward=32)

    def attend(self, x: torch.Tensor, padding: torch.Tensor | None) -> torch.Tensor:
        """The layer then the masked mean, for rows that all have at least one real slot."""
        return masked_mean(self.transformer_layer(x, src_key_padding_mask=padding), padding)

    def forward(self, x: torch.Tensor, key_padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        if key_padding_mask is None:
            return self.attend(x, None)
        padding = key_padding_mask.bool()
        mode = self.config.single_slot
        if mode == "batch":
            if x.shape[1] == 1:
                return x.mean(1)
            return self.attend(x, padding)
        real = (~padding).sum(1)
        run = real >= (2 if mode == "shortcut" else 1)
        if bool(run.all()):
            return self.attend(x, padding)
        # Lone slots pass through (shortcut) and empty rows stay zero; the layer sees only
        # the rows it must, so no row's result depends on another's padding.
        out = masked_mean(x, padding)
        if bool(run.any()):
            out = out.clone()
            out[run] = self.attend(x[run], padding[run])
        return out

    def example_inputs(self, batch_size: int = 2) -> tuple[Any, ...]:
        generator = torch.Generator().manual_seed(0)
        x = torch.randn(batch_size, 5, self.embed_dim, generator=generator)
        mask = torch.zeros(batch_size, 5, dtype=torch.bool)
        mask[0, 3:] = True
        if batch_size > 1:
            mask[1, 1:] = True  # a lone real slot
        return x, mask
