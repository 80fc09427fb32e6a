"""Heads ``coxph-demo`` and ``coxph``: the published disease-risk models (SPEC §4.6, §4.7).

Per 5-s step: attention pooling across modalities → packed BiLSTM → mean over the real
steps → (with ``coxph-demo``: concatenated with a small embedding of age and sex) → one
linear log-hazard per outcome (the rows of ``label_mapping.csv``). The published models
build a positional encoding and a LayerNorm they never use; both are kept (unused) so that
their checkpoints load strictly.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from pydantic import PositiveInt
from torch import nn

from sleepfm.embedding.positional import PositionalEncoding

from .common import EmbeddingHead, HeadParams, bidirectional_lstm, modality_pooler


class CoxPHParams(HeadParams):
    """``model_params`` of the released ``model_diagnosis/config.json`` (the defaults)."""

    num_covariates: PositiveInt = 2


class CoxPHHead(EmbeddingHead):
    """Disease risk from embeddings alone (published ``DiagnosisFinetuneFullLSTMCOXPH``)."""

    task: ClassVar[str] = "diagnosis"
    Config = CoxPHParams
    config: CoxPHParams

    def __init__(self, config: CoxPHParams) -> None:
        super().__init__()
        self.config = config
        self.spatial_pooling = modality_pooler(config)
        self.positional_encoding = PositionalEncoding(config.pe_length, config.embed_dim)  # unused, as published
        self.layer_norm = nn.LayerNorm(config.embed_dim)  # unused, as published
        self.lstm = bidirectional_lstm(config, dropout=0.0)
        covariate_dim = 0
        if self.uses_covariates:
            covariate_dim = config.embed_dim // 4
            self.demo_embedding = nn.Sequential(
                nn.Linear(config.num_covariates, covariate_dim), nn.ReLU(), nn.Dropout(config.dropout),
            )
        self.disease_heads = nn.Linear(config.embed_dim + covariate_dim, config.num_classes)

    @classmethod
    def test_config(cls) -> CoxPHParams:
        return CoxPHParams(embed_dim=16, pooling_head=2, num_classes=7, dim_feedforward=32, max_seq_length=32)

    def night_embedding(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Mean BiLSTM output over each item's real steps, (B, E)."""
        steps, step_mask = self.pool_modalities(x, mask)
        out, lengths = self.run_lstm(steps, step_mask)
        return out.sum(1) / lengths.unsqueeze(1).to(out.dtype)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, covariates: torch.Tensor | None = None) -> torch.Tensor:
        """``x`` (B, 4, S, E), ``mask`` (B, 4, S) True = pad → log-hazards (B, K)."""
        return self.disease_heads(self.night_embedding(x, mask))


class CoxPHDemoHead(CoxPHHead):
    """Disease risk from embeddings plus age and sex (published ``DiagnosisFinetuneFullLSTMCOXPHWithDemo``)."""

    uses_covariates: ClassVar[bool] = True

    def forward(self, x: torch.Tensor, mask: torch.Tensor, covariates: torch.Tensor | None = None) -> torch.Tensor:
        """``covariates`` (B, 2): normalised age, sex (0/1), as in the released model."""
        if covariates is None:
            raise ValueError("coxph-demo needs covariates (B, 2): normalised age and sex")
        night = self.night_embedding(x, mask)
        return self.disease_heads(torch.cat([night, self.demo_embedding(covariates)], dim=1))
