"""``nn.TransformerEncoderLayer`` for inference, in cache-sized blocks (same numbers).

Called on a whole batch, torch's layer materialises the (tokens × 2048) feed-forward
intermediate for every token at once, tens of megabytes fresh from the allocator, and
streams it through memory twice. :class:`FastLayer` computes the same function on the
blocks of sequences the caller passes (a few hundred tokens, see :mod:`.fast`), where every
intermediate stays in L2 cache; its attention is the math torch's own inference path uses
(scaled queries, batched products, softmax), so results agree to float rounding.

Built with ``dtype=torch.bfloat16`` it holds bf16 copies of the projection and feed-forward
weights, made once, and runs those four products in bf16 (fp32 accumulation inside the
kernel, bf16 result). What the rounding would hurt stays fp32: the residual stream and every
residual sum, the LayerNorms, and the attention itself (scores, softmax and the mix of values,
a few per cent of the layer's arithmetic) — its inputs are converted in the copy that
rearranges them into heads anyway, so no pass over memory is added.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

_ACTIVATIONS: dict[object, Callable[[torch.Tensor], torch.Tensor]] = {
    F.relu: torch.relu_, F.gelu: F.gelu,
}


def _activation(layer: nn.TransformerEncoderLayer) -> Callable[[torch.Tensor], torch.Tensor] | None:
    activation = layer.activation
    if isinstance(activation, nn.ReLU):
        return torch.relu_
    if isinstance(activation, nn.GELU) and activation.approximate == "none":
        return F.gelu
    return _ACTIVATIONS.get(activation)


class FastLayer:
    """An eval-mode ``nn.TransformerEncoderLayer`` (batch-first self-attention) as plain tensor ops."""

    def __init__(self, layer: nn.TransformerEncoderLayer, dtype: torch.dtype = torch.float32) -> None:
        if not self.supports(layer):
            raise ValueError("only batch-first self-attention layers with ReLU or GELU are supported")
        attention = layer.self_attn
        self.heads = attention.num_heads
        self.dtype = dtype  # of the four products; everything else is fp32

        def weight(linear: torch.Tensor) -> torch.Tensor:
            return linear.detach().t().to(dtype).contiguous()

        self.in_weight = weight(attention.in_proj_weight)
        self.in_bias = attention.in_proj_bias.detach().to(dtype)
        self.out_weight = weight(attention.out_proj.weight)
        self.out_bias = attention.out_proj.bias.detach().to(dtype)
        self.ff1_weight = weight(layer.linear1.weight)
        self.ff1_bias = layer.linear1.bias.detach().to(dtype)
        self.ff2_weight = weight(layer.linear2.weight)
        self.ff2_bias = layer.linear2.bias.detach().to(dtype)
        self.norm1 = (layer.norm1.weight.detach(), layer.norm1.bias.detach(), layer.norm1.eps)
        self.norm2 = (layer.norm2.weight.detach(), layer.norm2.bias.detach(), layer.norm2.eps)
        self.norm_first = layer.norm_first
        self.activation = _activation(layer)

    @staticmethod
    def supports(layer: nn.Module) -> bool:
        if not isinstance(layer, nn.TransformerEncoderLayer):
            return False
        attention = layer.self_attn
        return (attention.batch_first and attention.in_proj_weight is not None and attention.in_proj_bias is not None
                and attention.bias_k is None and _activation(layer) is not None)

    def _attention(self, x: torch.Tensor, batch: int, steps: int, padding: torch.Tensor | None) -> torch.Tensor:
        dim = x.shape[1]
        head_dim = dim // self.heads
        qkv = torch.addmm(self.in_bias, x.to(self.dtype), self.in_weight).view(batch, steps, 3, self.heads, head_dim)
        # One copy puts the heads side by side, in fp32 (a plain reshape copies here too).
        heads = x.new_empty(3, batch, self.heads, steps, head_dim)
        q, k, v = heads.copy_(qkv.permute(2, 0, 3, 1, 4)).view(3, batch * self.heads, steps, head_dim)
        scores = torch.bmm(q * head_dim**-0.5, k.transpose(1, 2))
        if padding is not None:
            scores.view(batch, self.heads, steps, steps).masked_fill_(padding[:, None, None, :], float("-inf"))
        mixed = torch.bmm(scores.softmax(-1), v).view(batch, self.heads, steps, head_dim)
        # Heads back into rows, in the products' dtype, again in one copy.
        rows = x.new_empty(batch, steps, self.heads, head_dim, dtype=self.dtype).copy_(mixed.transpose(1, 2))
        return torch.addmm(self.out_bias, rows.view(batch * steps, dim), self.out_weight)

    def _feed_forward(self, x: torch.Tensor) -> torch.Tensor:
        assert self.activation is not None
        hidden = self.activation(torch.addmm(self.ff1_bias, x.to(self.dtype), self.ff1_weight))
        return torch.addmm(self.ff2_bias, hidden, self.ff2_weight)

    def __call__(self, x: torch.Tensor, batch: int, steps: int, padding: torch.Tensor | None = None) -> torch.Tensor:
        """``x`` (batch·steps, E) fp32 → (batch·steps, E) fp32; ``padding`` (batch, steps) True = masked key.

        A bf16 product added to the fp32 stream promotes to fp32: the residual sums stay fp32."""
        dim = x.shape[1]
        if self.norm_first:
            x = x + self._attention(F.layer_norm(x, (dim,), *self.norm1), batch, steps, padding)
            return x + self._feed_forward(F.layer_norm(x, (dim,), *self.norm2))
        x = F.layer_norm(x + self._attention(x, batch, steps, padding), (dim,), *self.norm1)
        return F.layer_norm(x + self._feed_forward(x), (dim,), *self.norm2)
