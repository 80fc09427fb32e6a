"""What the published heads share: hyper-parameters named as in their ``model_params``,
pooling across modalities per 5-s step, and packed BiLSTM runs over the real steps."""

from __future__ import annotations

from typing import Any

import torch
from pydantic import Field, NonNegativeFloat, PositiveInt
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from sleepfm.config.base import ConfigModel
from sleepfm.embedding.pooling import AttentionPooler, AttentionPoolerConfig
from sleepfm.interfaces.head import Head


class HeadParams(ConfigModel):
    """The keys of a published ``config.json`` ``model_params`` section, plus ``dim_feedforward``."""

    embed_dim: PositiveInt = 128
    num_heads: PositiveInt = 8
    num_layers: PositiveInt = 2
    num_classes: PositiveInt = 1065
    pooling_head: PositiveInt = 8
    dropout: NonNegativeFloat = 0.3
    max_seq_length: PositiveInt | None = Field(6480, description="Positional-encoding length (None: 20000).")
    dim_feedforward: PositiveInt = 2048

    @property
    def pe_length(self) -> int:
        return 20000 if self.max_seq_length is None else self.max_seq_length


def modality_pooler(params: HeadParams) -> AttentionPooler:
    # The published heads always pad the modality axis to 4 slots, so their pooling layer
    # runs even for a lone modality: "attend" is that behaviour, per row.
    return AttentionPooler(AttentionPoolerConfig(
        embed_dim=params.embed_dim, num_heads=params.pooling_head, dim_feedforward=params.dim_feedforward,
        dropout=params.dropout, single_slot="attend",
    ))


def bidirectional_lstm(params: HeadParams, *, dropout: float) -> nn.LSTM:
    if params.embed_dim % 2:
        raise ValueError(f"embed_dim {params.embed_dim} must be even (two LSTM directions of embed_dim/2)")
    return nn.LSTM(params.embed_dim, params.embed_dim // 2, num_layers=params.num_layers, batch_first=True,
                   bidirectional=True, dropout=dropout)


class EmbeddingHead(Head):
    """Base of heads over per-modality 5-s embeddings ``x`` (B, M, S, E), ``mask`` (B, M, S)."""

    Config = HeadParams
    config: HeadParams
    spatial_pooling: AttentionPooler
    lstm: nn.LSTM

    def pool_modalities(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Pool the modalities of each step: ``(steps (B, S, E), step_mask (B, S))``.

        A step is padding when every modality is masked there. The published heads read the
        mask of modality 0 (BAS) instead, which agrees whenever BAS is present.
        """
        batch, modalities, steps, dim = x.shape
        mask = mask.bool()
        per_step = x.permute(0, 2, 1, 3).reshape(batch * steps, modalities, dim)
        slot_mask = mask.permute(0, 2, 1).reshape(batch * steps, modalities)
        pooled = self.spatial_pooling(per_step, slot_mask).reshape(batch, steps, dim)
        return pooled, mask.all(1)

    def run_lstm(self, steps: torch.Tensor, step_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Packed BiLSTM over each item's steps up to its last real one: ``(out (B, S, E), lengths (B,))``.

        Packing makes an item's outputs independent of how far other items are padded (the
        published staging head ran the LSTM over the padding).
        """
        real = ~step_mask
        positions = torch.arange(1, steps.shape[1] + 1, device=steps.device)
        lengths = (real * positions).amax(1).clamp(min=1)
        packed = pack_padded_sequence(steps, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, _ = self.lstm(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=steps.shape[1])
        return out, lengths

    def example_inputs(self, batch_size: int = 2) -> tuple[Any, ...]:
        generator = torch.Generator().manual_seed(0)
        steps = 12
        x = torch.randn(batch_size, 4, steps, self.config.embed_dim, generator=generator)
        mask = torch.zeros(batch_size, 4, steps, dtype=torch.bool)
        mask[0, :, 9:] = True  # a shorter night
        if batch_size > 1:
            mask[1, 3] = True  # no EMG
        covariates = torch.randn(batch_size, 2, generator=generator)
        return (x, mask, covariates) if self.uses_covariates else (x, mask)
