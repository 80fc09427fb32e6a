"""Eval-only fast path of ``set-transformer`` for ``sleepfm embed`` (same numbers to ~1e-5).

:class:`FastEmbedder` takes many items at once, each the real channels (C_i, T) of one
modality of one 5-minute segment, from any number of studies:

* every channel of every item goes through the tokenizer together, in cache-sized blocks
  (:class:`~sleepfm.embedding.fast_tokenizer.FusedCnnPatch` for ``cnn-patch``);
* channels are pooled in groups of items with equal channel counts, so no slot is padded
  and nothing is computed for padding; a lone channel takes the shortcut per item;
* the encoder and the temporal pooler run over blocks of a few sequences with
  :class:`~sleepfm.embedding.fast_layers.FastLayer`.

Tokenizers, poolers or encoder layers it does not know (a plugin's) run through their own
modules, with the same grouping. Build it after moving the model to its device.

``dtype=torch.bfloat16`` runs the fused parts' matrix products in bf16 with weights cast once
here (the model keeps its fp32 parameters, which an fp32 FastEmbedder uses as they are), and
the modules it does not know under bf16 autocast. Inputs and outputs are fp32 either way.
Autocast around the fused parts is switched off: they choose each op's dtype themselves.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

import torch
from torch import nn

from .fast_layers import FastLayer
from .fast_tokenizer import FusedCnnPatch, fusable
from .pooling import AttentionPooler, masked_mean
from .set_transformer import SetTransformer

#: Patches (each a set of C channel tokens) per channel-pooling block.
POOL_BLOCK = 48
#: 5-minute sequences per encoder block (16 × 60 tokens).
ENCODE_BLOCK = 16


#: The precisions the fast path runs in.
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def _fast_pooler(pooler: nn.Module, dtype: torch.dtype) -> FastLayer | None:
    if isinstance(pooler, AttentionPooler) and FastLayer.supports(pooler.transformer_layer):
        return FastLayer(pooler.transformer_layer, dtype)
    return None


class FastEmbedder:
    """Runs a ``set-transformer`` on many (item, real channels) groups at once, eval only."""

    def __init__(self, model: SetTransformer, dtype: torch.dtype = torch.float32) -> None:
        if dtype not in DTYPES.values():
            raise ValueError(f"the fast path runs in fp32 or bf16, not {dtype}")
        self.model = model.eval()
        self.dtype = dtype
        self.patch_size = model.patch_size
        self.embed_dim = model.embed_dim
        device = next(model.parameters()).device
        self.device_type = device.type
        self.tokenizer = FusedCnnPatch(model.patch_embedding, dtype) if fusable(model.patch_embedding) else None
        pooler = model.spatial_pooling
        self.lone_slot_passes = isinstance(pooler, AttentionPooler) and pooler.config.single_slot != "attend"
        self.channel_layer = _fast_pooler(pooler, dtype)
        self.temporal_layer = _fast_pooler(model.temporal_pooling, dtype)
        layers = list(model.transformer_encoder.layers)
        fast = all(FastLayer.supports(layer) for layer in layers) and model.transformer_encoder.norm is None
        self.encoder = [FastLayer(layer, dtype) for layer in layers] if fast and self.temporal_layer else None

    def _module(self) -> AbstractContextManager[None]:
        """Around the model's own modules: bf16 autocast when running bf16 (their weights are fp32)."""
        return torch.autocast(self.device_type, dtype=self.dtype, enabled=self.dtype != torch.float32)

    def tokenize(self, signals: torch.Tensor) -> torch.Tensor:
        """(N, T) channel signals → (N, S, E) patch embeddings, fp32."""
        n, samples = signals.shape
        steps = samples // self.patch_size
        if self.tokenizer is not None:
            return self.tokenizer(signals.reshape(n * steps, self.patch_size)).reshape(n, steps, self.embed_dim)
        with self._module():
            return self.model.patch_embedding(signals.unsqueeze(0))[0].float()

    def pool_channels(self, tokens: torch.Tensor) -> torch.Tensor:
        """(G, C, S, E) tokens of G items with C real channels each → (G, S, E)."""
        groups, channels, steps, dim = tokens.shape
        if channels == 1 and self.lone_slot_passes:
            return tokens[:, 0]
        per_patch = tokens.permute(0, 2, 1, 3).reshape(groups * steps, channels, dim)
        pooled = []
        for start in range(0, groups * steps, POOL_BLOCK):
            block = per_patch[start: start + POOL_BLOCK]
            if self.channel_layer is not None:
                out = self.channel_layer(block.reshape(-1, dim), block.shape[0], channels)
                pooled.append(out.view(block.shape).mean(1))
            else:
                real = torch.zeros(block.shape[:2], dtype=torch.bool, device=block.device)
                with self._module():
                    pooled.append(self.model.spatial_pooling(block, real).float())
        return torch.cat(pooled).reshape(groups, steps, dim)

    def encode(self, patches: torch.Tensor, padding: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, S, E) pooled patches, ``padding`` (B, S) or None → ``(pooled (B, E), sequence (B, S, E))``."""
        if self.encoder is None or self.temporal_layer is None:
            with self._module():
                pooled, sequence = self.model.encode(patches, padding)
            return pooled.float(), sequence.float()
        batch, steps, dim = patches.shape
        hidden = self.model.layer_norm(self.model.positional_encoding(patches)).reshape(batch * steps, dim)
        for layer in self.encoder:
            hidden = layer(hidden, batch, steps, padding)
        out = self.temporal_layer(hidden, batch, steps, padding).view(batch, steps, dim)
        sequence = hidden.view(batch, steps, dim)
        if padding is not None:
            sequence = sequence.masked_fill(padding.unsqueeze(-1), 0.0)
        return masked_mean(out, padding), sequence

    def embed(self, signals: list[torch.Tensor], patch_masks: list[torch.Tensor | None]
              ) -> tuple[torch.Tensor, torch.Tensor]:
        """Items' real channels (C_i, T) and optional (S,) patch masks → pooled (n, E), sequence (n, S, E)."""
        return self.embed_stacked(torch.cat(signals), [s.shape[0] for s in signals], patch_masks)

    def embed_stacked(self, channels: torch.Tensor, counts: list[int], patch_masks: list[torch.Tensor | None]
                      ) -> tuple[torch.Tensor, torch.Tensor]:
        """As :meth:`embed`, with the items' channels already stacked: (Σ C_i, T) and the C_i."""
        with torch.autocast(self.device_type, enabled=False):
            return self._embed_stacked(channels.float(), counts, patch_masks)

    def _embed_stacked(self, channels: torch.Tensor, counts: list[int], patch_masks: list[torch.Tensor | None]
                       ) -> tuple[torch.Tensor, torch.Tensor]:
        tokens = self.tokenize(channels)
        starts = torch.tensor([0, *counts]).cumsum(0).tolist()
        steps = tokens.shape[1]
        patches = tokens.new_empty(len(counts), steps, self.embed_dim)
        for width in sorted(set(counts)):
            members = [i for i, c in enumerate(counts) if c == width]
            stacked = torch.stack([tokens[starts[i]: starts[i] + width] for i in members])
            patches[members] = self.pool_channels(stacked)
        pooled = tokens.new_empty(len(counts), self.embed_dim)
        sequence = tokens.new_empty(len(counts), steps, self.embed_dim)
        for start in range(0, len(counts), ENCODE_BLOCK):
            stop = min(start + ENCODE_BLOCK, len(counts))
            masks = patch_masks[start:stop]
            padding = None
            if any(m is not None for m in masks):
                padding = torch.stack([m if m is not None else torch.zeros(steps, dtype=torch.bool,
                                       device=tokens.device) for m in masks])
            pooled[start:stop], sequence[start:stop] = self.encode(patches[start:stop], padding)
        return pooled, sequence
