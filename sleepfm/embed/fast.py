"""Eval-only fast path of ``set-transformer`` for ``sleepfm embed`` (same numbers to ~1e-6).

What makes the published loop slow on a CPU is the tokenizer: six tiny convolutions (1→4,
4→8, … channels) over 4800 short patches per batch, each followed by separate BatchNorm,
ELU and LayerNorm passes over tensors far larger than the caches. Here, for a
``cnn-patch`` tokenizer:

* BatchNorm (running statistics, eval) is folded into the convolution weights;
* each stride-2 convolution becomes one matrix product in channel-last layout: ``b``
  neighbouring outputs are computed from one window of ``2b + k - 2`` inputs, so every
  layer is a single GEMM with a few dozen columns instead of a 4- or 8-wide convolution,
  and its output is already the next layer's input, with no transpose;
* LayerNorm over ``[C, L]`` is one ``layer_norm`` call over the flattened map, ELU runs in place;
* patches go through in blocks of a few hundred, so intermediates stay in cache.

Around the tokenizer, :class:`FastEmbedder` batches every channel of every modality (and of
several studies) through the tokenizer at once, and pools channels in groups of equal
channel count, so no padded slot is ever computed and no item depends on its neighbours.
Other tokenizers and poolers registered by plugins run through their own modules.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import nn

from .pooling import AttentionPooler
from .set_transformer import SetTransformer
from .tokenizer import CnnPatchTokenizer

#: Patches per tokenizer block: big enough for efficient GEMMs, small enough to stay in cache.
PATCH_BLOCK = 512
# Width (b · C_out) the blocked convolution aims for.
TARGET_COLUMNS = 64


@dataclass
class _ConvBlock:
    """One conv block as GEMMs over rows of ``2b`` input positions (channel-last).

    Row r of the input holds positions [2b·r, 2b·r + 2b) of a patch; its ``b`` outputs need
    ``left`` positions of row r - 1 and ``right`` positions of row r + 1 too (the halo):
    ``out = X @ own + shift_down(X[:, -left·C_in:] @ left_w) + shift_up(X[:, :right·C_in] @ right_w)``,
    with the halo zeroed at patch edges (the convolution's zero padding). No im2col copy.
    """

    own: torch.Tensor  # (2b · C_in, b · C_out)
    left_w: torch.Tensor  # (left · C_in, n_left · C_out): into the first n_left outputs of the row
    right_w: torch.Tensor  # (right · C_in, n_right · C_out): into the last n_right outputs
    bias: torch.Tensor  # (b · C_out,)
    per_row: int  # b
    left: int
    right: int
    n_left: int
    n_right: int
    c_in: int
    c_out: int
    length: int  # L_out
    ln_weight: torch.Tensor  # (L_out · C_out,), channel-last order
    ln_bias: torch.Tensor
    eps: float

    def tensors(self) -> tuple[str, ...]:
        return ("own", "left_w", "right_w", "bias", "ln_weight", "ln_bias")


def fusable(tokenizer: object) -> bool:
    """Whether :class:`FusedCnnPatch` can take this tokenizer (a ``cnn-patch`` whose feature maps halve exactly)."""
    if not isinstance(tokenizer, CnnPatchTokenizer):
        return False
    config = tokenizer.config
    lengths = [config.patch_size, *config.lengths()]
    pad = config.kernel_size // 2
    return all(a == 2 * b for a, b in pairwise(lengths)) and config.kernel_size - pad - 2 >= 0


class FusedCnnPatch(nn.Module):
    """A ``cnn-patch`` tokenizer with BatchNorm folded and its convolutions as blocked GEMMs."""

    def __init__(self, tokenizer: CnnPatchTokenizer) -> None:
        super().__init__()
        if not fusable(tokenizer):
            raise ValueError("this tokenizer's feature maps do not halve exactly; use it unfused")
        layers = list(tokenizer.tokenizer)
        self.patch_size = tokenizer.config.patch_size
        self.blocks = [self._fold(*layers[4 * i: 4 * i + 4]) for i in range(len(tokenizer.config.channels))]
        linear = layers[-1]
        self.out_weight = linear.weight.detach().t().contiguous()
        self.out_bias = linear.bias.detach().clone()

    @staticmethod
    def _fold(conv: nn.Module, norm: nn.Module, elu: nn.Module, layer_norm: nn.Module) -> _ConvBlock:
        assert isinstance(conv, nn.Conv1d) and isinstance(norm, nn.BatchNorm1d) and conv.stride[0] == 2
        assert isinstance(elu, nn.ELU) and elu.alpha == 1.0 and isinstance(layer_norm, nn.LayerNorm)
        assert norm.running_var is not None and norm.running_mean is not None
        scale = norm.weight.detach() / torch.sqrt(norm.running_var + norm.eps)
        weight = conv.weight.detach() * scale[:, None, None]  # (C_out, C_in, k)
        bias = (conv.bias.detach() - norm.running_mean) * scale + norm.bias.detach()
        c_out, c_in, kernel = weight.shape
        pad = conv.padding[0]
        length = layer_norm.weight.shape[1]
        right = kernel - pad - 2
        # The halo must come from the neighbouring rows only: 2b ≥ pad and 2b ≥ right.
        per_row = max(1, min(length, TARGET_COLUMNS // c_out), (max(pad, right) + 1) // 2)
        while length % per_row:
            per_row += 1
        own = weight.new_zeros(2 * per_row, c_in, per_row, c_out)
        left_w = weight.new_zeros(pad, c_in, per_row, c_out)
        right_w = weight.new_zeros(right, c_in, per_row, c_out)
        for j in range(per_row):
            for t in range(kernel):
                position = 2 * j - pad + t  # input position within the row
                tap = weight[:, :, t].t()
                if 0 <= position < 2 * per_row:
                    own[position, :, j] = tap
                elif position < 0:
                    left_w[position + pad, :, j] = tap
                else:
                    right_w[position - 2 * per_row, :, j] = tap
        n_left = -(-pad // 2)  # outputs 0 .. n_left-1 reach into the previous row
        n_right = per_row - -(-(2 * per_row - kernel + 1 + pad) // 2)  # the last n_right reach into the next
        return _ConvBlock(
            own=own.reshape(2 * per_row * c_in, per_row * c_out).contiguous(),
            left_w=left_w[:, :, :n_left].reshape(pad * c_in, n_left * c_out).contiguous(),
            right_w=right_w[:, :, per_row - n_right:].reshape(right * c_in, n_right * c_out).contiguous(),
            bias=bias.repeat(per_row), per_row=per_row, left=pad, right=right, n_left=n_left, n_right=n_right,
            c_in=c_in, c_out=c_out,
            length=length, ln_weight=layer_norm.weight.detach().t().reshape(-1).contiguous(),
            ln_bias=layer_norm.bias.detach().t().reshape(-1).contiguous(), eps=layer_norm.eps,
        )

    def _apply(self, fn, recurse: bool = True):  # type: ignore[no-untyped-def, override]
        # The folded tensors live in plain dataclasses; make .to(device) move them like buffers.
        for block in self.blocks:
            for name in block.tensors():
                setattr(block, name, fn(getattr(block, name)))
        self.out_weight, self.out_bias = fn(self.out_weight), fn(self.out_bias)
        return super()._apply(fn, recurse)

    @staticmethod
    def _conv(block: _ConvBlock, rows: torch.Tensor) -> torch.Tensor:
        out = torch.addmm(block.bias, rows, block.own)
        groups = block.length // block.per_row
        if groups > 1:  # with one row per patch every halo is padding
            if block.left:
                halo = rows[:-1, -block.left * block.c_in:] @ block.left_w
                halo[groups - 1:: groups] = 0.0  # the row before a patch's first row belongs to another patch
                out[1:, : block.n_left * block.c_out] += halo
            if block.right:
                halo = rows[1:, : block.right * block.c_in] @ block.right_w
                halo[groups - 1:: groups] = 0.0
                out[:-1, out.shape[1] - block.n_right * block.c_out:] += halo
        return out

    def _block(self, patches: torch.Tensor) -> torch.Tensor:
        n = patches.shape[0]
        hidden = patches
        for block in self.blocks:
            out = self._conv(block, hidden.reshape(-1, 2 * block.per_row * block.c_in)).view(n, -1)
            F.elu(out, inplace=True)
            hidden = F.layer_norm(out, out.shape[1:], block.ln_weight, block.ln_bias, block.eps)
        last = self.blocks[-1]
        return torch.addmm(self.out_bias, hidden.view(n, last.length, last.c_out).mean(1), self.out_weight)

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        """(N, patch_size) → (N, E), in blocks of :data:`PATCH_BLOCK` patches."""
        patches = patches.contiguous()
        if patches.shape[0] <= PATCH_BLOCK:
            return self._block(patches)
        return torch.cat([self._block(patches[i: i + PATCH_BLOCK]) for i in range(0, patches.shape[0], PATCH_BLOCK)])


class FastEmbedder:
    """Runs a ``set-transformer`` on many (item, channels) groups at once, eval only.

    :meth:`embed` takes a list of signals, one (C_i, T) array per item (all channels real,
    C_i ≥ 1), and returns pooled (n, E) and sequence (n, S, E) embeddings; an optional
    per-item patch mask marks padded 5-s patches of a padded last chunk.
    """

    def __init__(self, model: SetTransformer) -> None:
        self.model = model.eval()
        self.patch_size = model.patch_size
        self.embed_dim = model.embed_dim
        tokenizer = model.patch_embedding
        self.fused: FusedCnnPatch | None = FusedCnnPatch(tokenizer) if fusable(tokenizer) else None
        pooler = model.spatial_pooling
        self.lone_slot_passes = isinstance(pooler, AttentionPooler) and pooler.config.single_slot != "attend"

    def to(self, device: torch.device) -> FastEmbedder:
        self.model.to(device)
        if self.fused is not None:
            self.fused.to(device)
        return self

    def tokenize(self, signals: torch.Tensor) -> torch.Tensor:
        """(N, T) channel signals → (N, S, E) patch embeddings."""
        n, samples = signals.shape
        steps = samples // self.patch_size
        if self.fused is not None:
            return self.fused(signals.reshape(n * steps, self.patch_size)).reshape(n, steps, self.embed_dim)
        return self.model.patch_embedding(signals.unsqueeze(0))[0]

    def pool_channels(self, tokens: torch.Tensor) -> torch.Tensor:
        """(G, C, S, E) tokens of G items with C real channels each → (G, S, E)."""
        groups, channels, steps, dim = tokens.shape
        if channels == 1 and self.lone_slot_passes:
            return tokens[:, 0]
        per_patch = tokens.permute(0, 2, 1, 3).reshape(groups * steps, channels, dim)
        real = torch.zeros(groups * steps, channels, dtype=torch.bool, device=tokens.device)
        return self.model.spatial_pooling(per_patch, real).reshape(groups, steps, dim)

    def embed(self, signals: list[torch.Tensor], patch_masks: list[torch.Tensor | None]
              ) -> tuple[torch.Tensor, torch.Tensor]:
        counts = [s.shape[0] for s in signals]
        tokens = self.tokenize(torch.cat(signals))
        starts = torch.tensor([0, *counts]).cumsum(0).tolist()
        steps = tokens.shape[1]
        patches = tokens.new_empty(len(signals), steps, self.embed_dim)
        for channels in sorted(set(counts)):
            members = [i for i, c in enumerate(counts) if c == channels]
            stacked = torch.stack([tokens[starts[i]: starts[i] + channels] for i in members])
            patches[members] = self.pool_channels(stacked)
        pooled = tokens.new_empty(len(signals), self.embed_dim)
        sequence = tokens.new_empty(len(signals), steps, self.embed_dim)
        whole = [i for i, m in enumerate(patch_masks) if m is None]
        padded = [i for i, m in enumerate(patch_masks) if m is not None]
        if whole:
            pooled[whole], sequence[whole] = self.model.encode(patches[whole])
        if padded:
            mask = torch.stack([patch_masks[i] for i in padded])  # type: ignore[misc]
            pooled[padded], sequence[padded] = self.model.encode(patches[padded], mask)
        return pooled, sequence
