"""A ``cnn-patch`` tokenizer rebuilt for inference: the costliest part of the published loop.

The published tokenizer runs six tiny convolutions (1→4, 4→8, … channels) over thousands
of 640-sample patches per batch, each followed by separate BatchNorm, ELU and LayerNorm
passes over tensors far larger than the caches. :class:`FusedCnnPatch` computes the same
function (to ~1e-6) as follows:

* BatchNorm (running statistics, eval) is folded into the convolution weights;
* each stride-2 convolution becomes one matrix product in channel-last layout, with no
  im2col copy: a row of ``2b`` input positions times a banded weight gives ``b`` outputs,
  and two small products add the halo from the neighbouring rows (:class:`_ConvBlock`);
  the output is already the next layer's input, with no transpose;
* LayerNorm over ``[C, L]`` is one ``layer_norm`` call over the flattened map; ELU is
  computed as ELU + 1 from a vectorised ``exp`` (the LayerNorm after it ignores the shift);
* patches go through in blocks of :data:`PATCH_BLOCK`, so intermediates stay in L2 cache.

Build it on the device it will run on; it holds plain tensors derived from the module. Built
with ``dtype=torch.bfloat16`` its weights are folded in fp32 and then cast once, and each
layer's products run in bf16; ELU and LayerNorm stay fp32 (measured on an AVX2 CPU, the same
passes over bf16 maps took 12-40 % longer than over fp32 ones plus the two conversions).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import nn

from .tokenizer import CnnPatchTokenizer

#: Patches per tokenizer block: big enough for efficient GEMMs, small enough to stay in cache.
PATCH_BLOCK = 128
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


def fusable(tokenizer: object) -> bool:
    """Whether :class:`FusedCnnPatch` can take this tokenizer (a ``cnn-patch`` whose feature maps halve exactly)."""
    if not isinstance(tokenizer, CnnPatchTokenizer):
        return False
    config = tokenizer.config
    lengths = [config.patch_size, *config.lengths()]
    pad = config.kernel_size // 2
    return all(a == 2 * b for a, b in pairwise(lengths)) and config.kernel_size - pad - 2 >= 0


def _elu_plus_one(x: torch.Tensor) -> torch.Tensor:
    """ELU(x) + 1 = max(x, 0) + exp(min(x, 0)), in place.

    The LayerNorm that follows every ELU is blind to a constant shift of its whole input, so
    the +1 changes nothing; in return this needs only the vectorised ``exp`` where
    ``F.elu`` calls a scalar ``expm1`` per element, which made it the tokenizer's costliest op.
    """
    negative = torch.clamp(x, max=0.0).exp_()
    return x.clamp_(min=0.0).add_(negative)


class FusedCnnPatch:
    """A ``cnn-patch`` tokenizer with BatchNorm folded and its convolutions as blocked GEMMs."""

    def __init__(self, tokenizer: CnnPatchTokenizer, dtype: torch.dtype = torch.float32) -> None:
        if not fusable(tokenizer):
            raise ValueError("this tokenizer's feature maps do not halve exactly; use it unfused")
        layers = list(tokenizer.tokenizer)
        self.patch_size = tokenizer.config.patch_size
        self.dtype = dtype  # of the products; ELU and LayerNorm run in fp32
        self.blocks = [self._fold(*layers[4 * i: 4 * i + 4], dtype) for i in range(len(tokenizer.config.channels))]
        linear = layers[-1]
        self.out_weight = linear.weight.detach().t().to(dtype).contiguous()
        self.out_bias = linear.bias.detach().to(dtype, copy=True)

    @staticmethod
    def _fold(conv: nn.Module, norm: nn.Module, elu: nn.Module, layer_norm: nn.Module,
              dtype: torch.dtype = torch.float32) -> _ConvBlock:
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
            own=own.reshape(2 * per_row * c_in, per_row * c_out).to(dtype).contiguous(),
            left_w=left_w[:, :, :n_left].reshape(pad * c_in, n_left * c_out).to(dtype).contiguous(),
            right_w=right_w[:, :, per_row - n_right:].reshape(right * c_in, n_right * c_out).to(dtype).contiguous(),
            bias=bias.repeat(per_row).to(dtype), per_row=per_row, left=pad, right=right, n_left=n_left, n_right=n_right,
            c_in=c_in, c_out=c_out,
            length=length, ln_weight=layer_norm.weight.detach().t().reshape(-1).contiguous(),
            ln_bias=layer_norm.bias.detach().t().reshape(-1).contiguous(), eps=layer_norm.eps,
        )

    @staticmethod
    def _conv(block: _ConvBlock, rows: torch.Tensor) -> torch.Tensor:
        """``rows`` in the weights' dtype → the conv block's output, in that dtype."""
        out = torch.addmm(block.bias, rows, block.own)
        groups = block.length // block.per_row  # rows per patch
        if groups == 1:  # with one row per patch every halo is padding
            return out
        if block.left:
            # Every row takes the tail of the row above; the first row of each patch must not
            # (the row above belongs to another patch: there the convolution sees zero padding).
            width, tail = block.n_left * block.c_out, block.left * block.c_in
            out[1:, :width].addmm_(rows[:-1, -tail:], block.left_w)
            out[groups::groups, :width].sub_(rows[groups - 1: -1: groups, -tail:] @ block.left_w)
        if block.right:
            width, head = block.n_right * block.c_out, block.right * block.c_in
            out[:-1, out.shape[1] - width:].addmm_(rows[1:, :head], block.right_w)
            out[groups - 1: -1: groups, out.shape[1] - width:].sub_(rows[groups::groups, :head] @ block.right_w)
        return out

    def _block(self, patches: torch.Tensor) -> torch.Tensor:
        n = patches.shape[0]
        hidden = patches
        for block in self.blocks:
            rows = hidden.reshape(-1, 2 * block.per_row * block.c_in).to(self.dtype)
            out = self._conv(block, rows).view(n, -1).float()
            hidden = F.layer_norm(_elu_plus_one(out), out.shape[1:], block.ln_weight, block.ln_bias, block.eps)
        last = self.blocks[-1]
        pooled = hidden.view(n, last.length, last.c_out).mean(1).to(self.dtype)
        return torch.addmm(self.out_bias, pooled, self.out_weight).float()

    def __call__(self, patches: torch.Tensor) -> torch.Tensor:
        """(N, patch_size) fp32 → (N, E) fp32, in blocks of :data:`PATCH_BLOCK` patches."""
        patches = patches.contiguous()
        if patches.shape[0] <= PATCH_BLOCK:
            return self._block(patches)
        return torch.cat([self._block(patches[i: i + PATCH_BLOCK]) for i in range(0, patches.shape[0], PATCH_BLOCK)])
