"""Embedding with any registered base model (``sleepfm embed``, ``stage``, ``run``), eval only.

:class:`ModelEmbedder` takes the same input as :class:`~sleepfm.embedding.fast.FastEmbedder`
(the built-in model's fused path): many items, each the real channels (C_i, T) of one modality
of one 5-minute segment, stacked, with an optional (S,) mask of padded patches. No channel slot
is ever padded, so an item's embedding does not depend on its batch:

* a model with the decomposition of :mod:`sleepfm.interfaces.model` tokenises every channel of
  every item at once, pools channels in groups of items with equal channel counts, and encodes
  with the padded patches masked;
* any other model runs ``forward(x, mask)`` on groups of items with equal channel counts and
  equal real lengths, a padded last chunk cut to its real patches; the rows of the padded
  patches are zero, as the decomposed path gives them.
"""

from __future__ import annotations

import torch

from sleepfm.interfaces.model import Model


class ModelEmbedder:
    """Runs a base model on many (item, real channels) groups at once."""

    def __init__(self, model: Model) -> None:
        self.model = model.eval()
        self.patch_size = model.patch_size
        self.embed_dim = model.embed_dim
        self.decomposed = model.decomposed()

    def embed_stacked(self, channels: torch.Tensor, counts: list[int], patch_masks: list[torch.Tensor | None]
                      ) -> tuple[torch.Tensor, torch.Tensor]:
        """Items' channels stacked (Σ C_i, T), the C_i, and optional (S,) patch masks →
        ``(pooled (n, E), sequence (n, S, E))``."""
        steps = channels.shape[1] // self.patch_size
        starts = [0, *torch.tensor(counts).cumsum(0).tolist()]
        if self.decomposed:
            return self._decomposed(channels, starts, counts, patch_masks, steps)
        items = [channels[starts[i]: starts[i + 1]] for i in range(len(counts))]
        pooled = channels.new_zeros(len(counts), self.embed_dim)
        sequence = channels.new_zeros(len(counts), steps, self.embed_dim)
        real = [steps - int(m.sum()) if m is not None else steps for m in patch_masks]
        for width, length in sorted(set(zip(counts, real, strict=True))):
            members = [i for i in range(len(counts)) if (counts[i], real[i]) == (width, length)]
            x = torch.stack([items[i][:, : length * self.patch_size] for i in members])
            out_pooled, out_sequence = self.model(x, torch.zeros(x.shape[:2], dtype=torch.bool, device=x.device))
            pooled[members] = out_pooled.to(pooled.dtype)
            sequence[members, :length] = out_sequence.to(sequence.dtype)
        return pooled, sequence

    def _decomposed(self, channels: torch.Tensor, starts: list[int], counts: list[int],
                    patch_masks: list[torch.Tensor | None], steps: int) -> tuple[torch.Tensor, torch.Tensor]:
        model = self.model
        tokens = model.tokens(channels.unsqueeze(0), torch.zeros(1, channels.shape[0], dtype=torch.bool,
                                                                 device=channels.device))[0]
        patches = tokens.new_empty(len(counts), steps, self.embed_dim)
        for width in sorted(set(counts)):
            members = [i for i, c in enumerate(counts) if c == width]
            stacked = torch.stack([tokens[starts[i]: starts[i] + width] for i in members])
            patches[members] = model.pool_channels(stacked, torch.zeros(stacked.shape[:2], dtype=torch.bool,
                                                                        device=stacked.device))
        padding = None
        if any(m is not None for m in patch_masks):
            padding = torch.stack([m if m is not None else torch.zeros(steps, dtype=torch.bool, device=tokens.device)
                                   for m in patch_masks])
        return model.encode(patches, padding)
