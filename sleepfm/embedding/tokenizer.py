"""Tokenizer ``cnn-patch``: a small 1-D CNN applied to every 5-s patch of every channel.

The published SleepFM tokenizer (SPEC §4.1): per patch of ``patch_size`` samples, a stack
of blocks ``Conv1d(k, stride 2, pad k//2) → BatchNorm1d → ELU → LayerNorm([C, L])`` whose
widths double from 4 to 128, then global average pooling, flatten and a linear layer to
``embed_dim``. Module indices inside ``tokenizer`` (0, 1, 2, 3, 4, …, 24, 25, 26) are those
of the published state dict, so its checkpoints load strictly.
"""

from __future__ import annotations

from typing import Any

import torch
from pydantic import Field, PositiveInt, field_validator
from torch import nn

from sleepfm.config.base import ConfigModel
from sleepfm.interfaces.tokenizer import Tokenizer


class CnnPatchConfig(ConfigModel):
    """Hyper-parameters of the ``cnn-patch`` tokenizer (defaults: the published one)."""

    patch_size: PositiveInt = Field(640, description="Samples per patch (5 s at 128 Hz).")
    embed_dim: PositiveInt = Field(128, description="Size of each patch embedding.")
    channels: list[PositiveInt] = Field([4, 8, 16, 32, 64, 128], description="Output width of each conv block.")
    kernel_size: PositiveInt = Field(5, description="Odd conv kernel; stride 2, padding kernel_size // 2.")

    @field_validator("kernel_size")
    @classmethod
    def _odd(cls, value: int) -> int:
        if value % 2 == 0:
            raise ValueError("kernel_size must be odd (padding is kernel_size // 2 on each side)")
        return value

    @field_validator("channels")
    @classmethod
    def _some(cls, value: list[int]) -> list[int]:
        if not value:
            raise ValueError("at least one conv block is needed")
        return value

    def lengths(self) -> list[int]:
        """Feature-map length after each conv block."""
        out, length = [], self.patch_size
        for _ in self.channels:
            length = (length + 2 * (self.kernel_size // 2) - self.kernel_size) // 2 + 1
            out.append(length)
        return out


class CnnPatchTokenizer(Tokenizer):
    """Per-patch 1-D CNN tokenizer of the published SleepFM model."""

    Config = CnnPatchConfig
    config: CnnPatchConfig

    def __init__(self, config: CnnPatchConfig) -> None:
        super().__init__()
        self.config = config
        self.patch_size = config.patch_size
        self.embed_dim = config.embed_dim
        layers: list[nn.Module] = []
        width = 1
        for out_width, length in zip(config.channels, config.lengths(), strict=True):
            k = config.kernel_size
            layers += [
                nn.Conv1d(width, out_width, kernel_size=k, stride=2, padding=k // 2),
                nn.BatchNorm1d(out_width),
                nn.ELU(),
                nn.LayerNorm([out_width, length]),
            ]
            width = out_width
        layers += [nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(width, config.embed_dim)]
        self.tokenizer = nn.Sequential(*layers)

    @classmethod
    def test_config(cls) -> CnnPatchConfig:
        return CnnPatchConfig(patch_size=64, embed_dim=16, channels=[4, 8, 16])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, channels, samples = x.shape
        if samples % self.patch_size:
            raise ValueError(f"signal length {samples} is not a multiple of the patch size {self.patch_size}")
        patches = samples // self.patch_size
        flat = x.reshape(batch * channels * patches, 1, self.patch_size)
        return self.tokenizer(flat).reshape(batch, channels, patches, self.embed_dim)

    def example_inputs(self, batch_size: int = 2) -> tuple[Any, ...]:
        generator = torch.Generator().manual_seed(0)
        return (torch.randn(batch_size, 3, 4 * self.patch_size, generator=generator),)
