"""Tokenizer: raw multichannel signal → one embedding per channel per patch.

``forward(x)``: ``x`` float32 (B, C, T), z-scored signal at 128 Hz, T a multiple of
:attr:`patch_size`. Returns float32 (B, C, S, E) with S = T / patch_size and
E = :attr:`embed_dim`. Channels are tokenised independently (no mixing across C).
"""

from __future__ import annotations

from typing import ClassVar

from sleepfm.interfaces.component import TorchComponent


class Tokenizer(TorchComponent):
    """Per-channel, per-patch signal encoder."""

    #: The model that owns the tokenizer sets both.
    data_given: ClassVar[tuple[str, ...]] = ("embed_dim", "patch_size")

    patch_size: int
    embed_dim: int
