"""Model: the foundation encoder applied to one modality's channels.

``forward(x, mask)``: ``x`` float32 (B, C, T) z-scored signal at 128 Hz; ``mask`` bool (B, C),
``True`` = padded channel slot. Returns ``(pooled, sequence)``: ``pooled`` float32 (B, E),
one embedding per item (5 minutes for the published model), and ``sequence`` float32
(B, S, E), one embedding per patch (5 s). This is the published SetTransformer signature.
"""

from __future__ import annotations

from sleepfm.interfaces.component import TorchComponent


class Model(TorchComponent):
    """Signal encoder: tokenizer → channel pooler → temporal encoder → temporal pooler."""

    embed_dim: int
    patch_size: int
