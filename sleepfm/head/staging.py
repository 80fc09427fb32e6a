"""Head ``lstm-staging``: the published ``SleepEventLSTMClassifier`` (SPEC §4.5).

Per 5-s step: attention pooling across modalities → positional encoding → LayerNorm →
pre-norm transformer encoder over time → BiLSTM → linear layer to the stage logits
(Wake, N1, N2, N3, REM). Differences from the published code, none of which changes its
eval outputs on unpadded nights: the time mask is boolean in training too (the published
float mask *added* +1 to padded keys there, SPEC §4.10), and the BiLSTM is packed so that
padding from other nights in a batch cannot change a night's logits (SPEC §10.6).
"""

from __future__ import annotations

from typing import ClassVar

import torch
from pydantic import PositiveInt
from torch import nn

from sleepfm.embedding.positional import PositionalEncoding

from .common import EmbeddingHead, HeadParams, bidirectional_lstm, modality_pooler


class StagingParams(HeadParams):
    """``model_params`` of the released ``model_sleep_staging/config.json`` (the defaults)."""

    num_heads: PositiveInt = 4
    num_layers: PositiveInt = 1
    num_classes: PositiveInt = 5
    pooling_head: PositiveInt = 4
    max_seq_length: PositiveInt | None = 8196


class LstmStagingHead(EmbeddingHead):
    """Sleep staging over 5-s embeddings (published ``SleepEventLSTMClassifier``)."""

    task: ClassVar[str] = "staging"
    Config = StagingParams
    config: StagingParams

    def __init__(self, config: StagingParams) -> None:
        super().__init__()
        self.config = config
        self.spatial_pooling = modality_pooler(config)
        self.positional_encoding = PositionalEncoding(config.pe_length, config.embed_dim)
        self.layer_norm = nn.LayerNorm(config.embed_dim)
        layer = nn.TransformerEncoderLayer(
            config.embed_dim, config.num_heads, dim_feedforward=config.dim_feedforward, dropout=config.dropout,
            batch_first=True, norm_first=True,
        )
        self.transformer_encoder = nn.TransformerEncoder(layer, config.num_layers, enable_nested_tensor=False)
        self.lstm = bidirectional_lstm(config, dropout=config.dropout if config.num_layers > 1 else 0.0)
        self.fc = nn.Linear(config.embed_dim, config.num_classes)

    @classmethod
    def test_config(cls) -> StagingParams:
        return StagingParams(embed_dim=16, num_heads=2, pooling_head=2, dim_feedforward=32, max_seq_length=32)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, covariates: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """``x`` (B, 4, S, E), ``mask`` (B, 4, S) True = pad → ``(logits (B, S, K), step_mask (B, S))``."""
        steps, step_mask = self.pool_modalities(x, mask)
        hidden = self.layer_norm(self.positional_encoding(steps))
        hidden = self.transformer_encoder(hidden, src_key_padding_mask=step_mask)
        out, _ = self.run_lstm(hidden, step_mask)
        return self.fc(out), step_mask
