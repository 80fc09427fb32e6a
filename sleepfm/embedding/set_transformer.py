"""Model ``set-transformer``: the SleepFM foundation encoder, assembled from registry parts.

SPEC §4.4. Per modality, per 5-minute item: tokenizer (one embedding per channel per 5-s
patch) → channel pooler (one embedding per patch) → positional encoding → LayerNorm →
pre-norm transformer encoder (the 5-s embeddings) → temporal pooler (the 5-min embedding).
The tokenizer and both poolers are chosen by registry name, so a plugin's tokenizer or
pooler drops in; state-dict names are the published ones (``patch_embedding``,
``spatial_pooling``, ``positional_encoding``, ``layer_norm``, ``transformer_encoder``,
``temporal_pooling``).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from pydantic import Field, NonNegativeFloat, PositiveInt
from torch import nn

from sleepfm.config.base import ComponentSpec, ConfigModel
from sleepfm.interfaces.model import Model

from .positional import PositionalEncoding


class TokenizerSpec(ComponentSpec):
    """The model's tokenizer, by registry name, with its hyper-parameters."""

    kind: ClassVar[str] = "tokenizers"


class PoolerSpec(ComponentSpec):
    """One of the model's poolers, by registry name, with its hyper-parameters."""

    kind: ClassVar[str] = "poolers"


class SetTransformerConfig(ConfigModel):
    """Hyper-parameters of ``set-transformer`` (defaults: the released base model).

    ``embed_dim`` (and ``patch_size`` for the tokenizer) are given to the parts: a part's
    ``params`` may not set them otherwise. ``dropout`` is handed to the parts whose configs
    have such a field, unless their ``params`` set it.
    """

    patch_size: PositiveInt = 640
    embed_dim: PositiveInt = 128
    num_heads: PositiveInt = Field(8, description="Heads of the temporal encoder layers.")
    num_layers: PositiveInt = 6
    dim_feedforward: PositiveInt = 2048
    dropout: NonNegativeFloat = 0.3
    max_seq_length: PositiveInt = Field(128, description="Length of the positional encoding (patches per item).")
    tokenizer: TokenizerSpec = TokenizerSpec(name="cnn-patch")
    channel_pooler: PoolerSpec = PoolerSpec(name="attention", params={"num_heads": 8})
    temporal_pooler: PoolerSpec = PoolerSpec(name="attention", params={"num_heads": 8})


class SetTransformer(Model):
    """The SleepFM foundation model (published ``SetTransformer``)."""

    Config = SetTransformerConfig
    config: SetTransformerConfig

    def __init__(self, config: SetTransformerConfig) -> None:
        super().__init__()
        self.config = config
        self.embed_dim = config.embed_dim
        self.patch_size = config.patch_size
        given, inherited = {"embed_dim": config.embed_dim}, {"dropout": config.dropout}
        self.patch_embedding = config.tokenizer.create(
            "tokenizer", given={**given, "patch_size": config.patch_size}, defaults=inherited, given_by="model")
        self.spatial_pooling = config.channel_pooler.create(
            "channel_pooler", given=given, defaults=inherited, given_by="model")
        self.positional_encoding = PositionalEncoding(config.max_seq_length, config.embed_dim)
        self.layer_norm = nn.LayerNorm(config.embed_dim)
        layer = nn.TransformerEncoderLayer(
            config.embed_dim, config.num_heads, dim_feedforward=config.dim_feedforward,
            dropout=config.dropout, batch_first=True, norm_first=True,
        )
        self.transformer_encoder = nn.TransformerEncoder(layer, config.num_layers, enable_nested_tensor=False)
        self.temporal_pooling = config.temporal_pooler.create(
            "temporal_pooler", given=given, defaults=inherited, given_by="model")
        for part, what in ((self.patch_embedding, "tokenizer"), (self.spatial_pooling, "channel_pooler"),
                           (self.temporal_pooling, "temporal_pooler")):
            if getattr(part, "embed_dim", config.embed_dim) != config.embed_dim:
                raise ValueError(f"{what} gives embeddings of size {part.embed_dim}, the model {config.embed_dim}")
        if getattr(self.patch_embedding, "patch_size", config.patch_size) != config.patch_size:
            raise ValueError(f"tokenizer patch_size {self.patch_embedding.patch_size} != model {config.patch_size}")

    @classmethod
    def test_config(cls) -> SetTransformerConfig:
        return SetTransformerConfig(
            patch_size=64, embed_dim=16, num_heads=2, num_layers=2, dim_feedforward=32, max_seq_length=16,
            tokenizer=TokenizerSpec(name="cnn-patch", params={"channels": [4, 8, 16]}),
            channel_pooler=PoolerSpec(name="attention", params={"num_heads": 2, "dim_feedforward": 32}),
            temporal_pooler=PoolerSpec(name="attention", params={"num_heads": 2, "dim_feedforward": 32}),
        )

    def tokens(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Tokenizer output (B, C, S, E), computed for real slots only (padded slots stay zero)."""
        real = ~mask
        if bool(real.all()):
            return self.patch_embedding(x)
        batch, channels, samples = x.shape
        out = x.new_zeros(batch, channels, samples // self.patch_size, self.embed_dim)
        if bool(real.any()):
            out[real] = self.patch_embedding(x[real].unsqueeze(0))[0]
        return out

    def pool_channels(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Tokens (B, C, S, E) and the slot mask (B, C) → one embedding per patch (B, S, E)."""
        batch, channels, steps, _ = tokens.shape
        per_patch = tokens.permute(0, 2, 1, 3).reshape(batch * steps, channels, self.embed_dim)
        slot_mask = mask.unsqueeze(1).expand(batch, steps, channels).reshape(batch * steps, channels)
        return self.spatial_pooling(per_patch, slot_mask).reshape(batch, steps, self.embed_dim)

    @property
    def max_patches(self) -> int:
        return self.config.max_seq_length

    def encode(self, patches: torch.Tensor, patch_mask: torch.Tensor | None = None
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """Channel-pooled patch embeddings (B, S, E) → ``(pooled (B, E), sequence (B, S, E))``."""
        hidden = self.layer_norm(self.positional_encoding(patches))
        sequence = self.transformer_encoder(hidden, src_key_padding_mask=patch_mask)
        pooled = self.temporal_pooling(sequence, patch_mask)
        if patch_mask is not None:
            sequence = sequence.masked_fill(patch_mask.unsqueeze(-1), 0.0)
        return pooled, sequence

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None, patch_mask: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """``x`` (B, C, T) and ``mask`` (B, C) True = padded slot → ``(pooled, sequence)``.

        ``patch_mask`` (B, S), True = padded 5-s patch (a padded last chunk), is sleepfm's
        addition: such patches are left out of attention and of the pooled mean, and their
        rows of ``sequence`` are zero.
        """
        batch, channels, _ = x.shape
        mask = torch.zeros(batch, channels, dtype=torch.bool, device=x.device) if mask is None else mask.bool()
        return self.encode(self.pool_channels(self.tokens(x, mask), mask), patch_mask)

    def example_inputs(self, batch_size: int = 2) -> tuple[Any, ...]:
        generator = torch.Generator().manual_seed(0)
        x = torch.randn(batch_size, 3, 4 * self.patch_size, generator=generator)
        mask = torch.zeros(batch_size, 3, dtype=torch.bool)
        mask[0, 2] = True
        if batch_size > 1:
            mask[1, 1:] = True
        return x, mask
