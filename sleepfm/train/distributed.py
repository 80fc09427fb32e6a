"""Distributed data parallel helpers: process-group set-up from ``torchrun``'s environment,
rank queries that also work without a process group, and collectives that keep gradients.

Losses whose value depends on the whole batch (contrastive negatives, Cox risk sets) gather
their inputs with :func:`gather_with_grad` and compute the *global* loss on every rank. The
backward of the gather sums every rank's gradient for each slice, so each rank receives
``world_size × dL/d(its rows)``; DDP then averages parameter gradients over ranks, which
gives exactly the single-process gradient of the same global batch.
"""

from __future__ import annotations

import datetime
import os
from typing import Any

import torch
import torch.distributed as dist

from sleepfm.errors import UsageError


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def is_main() -> bool:
    """Whether this process writes files and prints progress (rank 0)."""
    return rank() == 0


def init_from_env(device: str = "auto") -> torch.device:
    """Join the process group ``torchrun`` describes (``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK``,
    ``MASTER_ADDR``/``MASTER_PORT``) and return this process's device.

    gloo on CPU, nccl on CUDA (one GPU per local rank). Without ``torchrun`` (no
    ``WORLD_SIZE`` or ``WORLD_SIZE=1``) nothing is initialised.
    """
    use_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    if device == "cuda" and not torch.cuda.is_available():
        raise UsageError("trainer.device is 'cuda' but no CUDA device is visible", fix="use trainer.device=auto or cpu")
    n_processes = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if n_processes > 1 and not is_distributed():
        if use_cuda:
            torch.cuda.set_device(local_rank)
        dist.init_process_group(backend="nccl" if use_cuda else "gloo", timeout=datetime.timedelta(minutes=30))
    if use_cuda:
        return torch.device("cuda", local_rank if n_processes > 1 else torch.cuda.current_device())
    return torch.device("cpu")


def shutdown() -> None:
    if is_distributed():
        dist.destroy_process_group()


def barrier() -> None:
    if is_distributed():
        dist.barrier()


def all_reduce_sum(value: torch.Tensor) -> torch.Tensor:
    """Sum over ranks (a copy; no gradient)."""
    value = value.detach().clone()
    if is_distributed():
        dist.all_reduce(value, op=dist.ReduceOp.SUM)
    return value


def all_reduce_mean(value: torch.Tensor) -> torch.Tensor:
    return all_reduce_sum(value) / world_size()


def any_rank(flag: bool, device: torch.device | None = None) -> bool:
    """Whether ``flag`` is true on at least one rank (every rank gets the same answer)."""
    if not is_distributed():
        return flag
    return bool(all_reduce_sum(torch.tensor(float(flag), device=device)).item() > 0)


def broadcast_object(obj: Any) -> Any:
    """Rank 0's ``obj`` on every rank."""
    if not is_distributed():
        return obj
    holder = [obj]
    dist.broadcast_object_list(holder, src=0)
    return holder[0]


def average_gradients(parameters: list[torch.nn.Parameter]) -> None:
    """Average the gradients of parameters that DDP does not manage (e.g. a loss's temperature)."""
    if not is_distributed():
        return
    for parameter in parameters:
        if parameter.grad is not None:
            dist.all_reduce(parameter.grad, op=dist.ReduceOp.SUM)
            parameter.grad /= world_size()


class _GatherWithGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, tensor: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        # Ranks may hold different numbers of rows (a short last batch): gather the sizes,
        # pad to the largest, gather, and cut the padding out again.
        sizes = torch.tensor([tensor.shape[0]], device=tensor.device, dtype=torch.long)
        all_sizes = [torch.zeros_like(sizes) for _ in range(world_size())]
        dist.all_gather(all_sizes, sizes)
        counts = [int(s.item()) for s in all_sizes]
        longest = max(counts)
        padded = tensor.new_zeros((longest, *tensor.shape[1:]))
        padded[: tensor.shape[0]] = tensor
        gathered = [torch.empty_like(padded) for _ in counts]
        dist.all_gather(gathered, padded.contiguous())
        ctx.counts = counts
        ctx.rank = rank()
        return torch.cat([g[:n] for g, n in zip(gathered, counts, strict=True)])

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        start = sum(ctx.counts[: ctx.rank])
        return grad[start : start + ctx.counts[ctx.rank]]


def gather_with_grad(tensor: torch.Tensor) -> torch.Tensor:
    """Concatenate ``tensor`` (rows along dim 0) from every rank, in rank order, keeping the
    autograd graph to this rank's rows. Without a process group it returns ``tensor``."""
    if not is_distributed() or world_size() == 1:
        return tensor
    return _GatherWithGrad.apply(tensor)
