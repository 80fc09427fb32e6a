"""Sinusoidal positional encoding with the published persistent ``pe`` buffer (SPEC §4.3)."""

from __future__ import annotations

import math

import torch
from torch import nn


def sinusoid_table(length: int, dim: int) -> torch.Tensor:
    """(length, dim): even columns sin(p·10000^(-2i/d)), odd columns cos of the same."""
    position = torch.arange(length, dtype=torch.float32).unsqueeze(1)
    frequency = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(length, dim)
    table[:, 0::2] = torch.sin(position * frequency)
    table[:, 1::2] = torch.cos(position * frequency)[:, : dim // 2]
    return table


class PositionalEncoding(nn.Module):
    """Adds ``pe[:, :S]`` to (B, S, E) inputs. ``pe`` is saved with the weights, as published,
    so its length (``max_seq_len``) must match a checkpoint's to load it strictly."""

    def __init__(self, max_seq_len: int, d_model: int) -> None:
        super().__init__()
        self.register_buffer("pe", sinusoid_table(max_seq_len, d_model).unsqueeze(0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        length = x.shape[1]
        if length > self.pe.shape[1]:
            raise ValueError(f"sequence of {length} steps is longer than the positional encoding ({self.pe.shape[1]})")
        return x + self.pe[:, :length]
