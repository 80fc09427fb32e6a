"""Pooler: a masked set or sequence of embeddings → one embedding.

``forward(x, key_padding_mask=None)``: ``x`` float32 (N, L, E); ``key_padding_mask`` bool
(N, L), ``True`` marks a padded slot to ignore (or ``None``: all real). Returns (N, E).
A pooler must give the same result for a row whatever padding other rows of the batch
have (sleepfm's fix of the published batch dependence).
"""

from __future__ import annotations

from typing import ClassVar

from sleepfm.interfaces.component import TorchComponent


class Pooler(TorchComponent):
    """Masked pooling over a set (channels) or sequence (time)."""

    #: The model that owns the pooler sets it.
    data_given: ClassVar[tuple[str, ...]] = ("embed_dim",)

    embed_dim: int
