"""Model: the foundation encoder applied to one modality's channels.

What training and inference need of a base model, and nothing more:

``forward(x, mask) -> (pooled, sequence)`` (required)
    ``x`` float32 (B, C, T) z-scored signal at 128 Hz, T a multiple of :attr:`Model.patch_size`;
    ``mask`` bool (B, C), ``True`` = padded channel slot. ``pooled`` float32 (B, E) is one
    embedding per item (5 minutes for the published model), ``sequence`` float32 (B, S, E) one per
    patch (5 s), S = T / patch_size. The published SetTransformer signature; pretraining calls it.
``embed_dim``, ``patch_size`` (required)
    E and the samples per patch.
``max_patches`` (optional)
    The most patches an item may have (a positional table's length), ``None`` for any.
The decomposition (optional: all three or none)
    ``tokens(x, mask) -> (B, C, S, E)`` one embedding per channel per patch, channels
    independent; ``pool_channels(tokens, mask) -> (B, S, E)``; ``encode(patches, patch_mask) ->
    (pooled, sequence)`` with ``patch_mask`` (B, S) ``True`` = padded patch, left out of
    ``pooled`` and zero in ``sequence``. With it, ``sleepfm embed`` tokenises every channel of a
    batch at once and embeds a padded last chunk exactly; without it, items go through
    ``forward`` grouped by channel count and real length (a padded chunk is cut to its real
    patches). Either way an item's embedding never depends on the rest of its batch.

The built-in ``set-transformer`` has the decomposition and a fused fast path of its own
(:class:`~sleepfm.embedding.fast.FastEmbedder`); any other registered model goes through
:class:`~sleepfm.embedding.generic.ModelEmbedder`.
"""

from __future__ import annotations

from sleepfm.interfaces.component import TorchComponent

#: The methods of the optional decomposition.
DECOMPOSITION = ("tokens", "pool_channels", "encode")


class Model(TorchComponent):
    """Signal encoder: ``forward(x, mask) -> (pooled, sequence)`` (see the module docstring)."""

    embed_dim: int
    patch_size: int

    @property
    def max_patches(self) -> int | None:
        """The most patches one item may have; ``None`` when any number is fine."""
        return None

    @classmethod
    def decomposed(cls) -> bool:
        """Whether the model implements the tokens / pool_channels / encode decomposition."""
        return all(callable(getattr(cls, name, None)) for name in DECOMPOSITION)
