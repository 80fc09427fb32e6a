"""Optimisers and learning-rate schedules built from the ``optimizer``/``scheduler`` config sections."""

from __future__ import annotations

from torch import nn, optim
from torch.optim.lr_scheduler import CosineAnnealingLR, LRScheduler, ReduceLROnPlateau, StepLR

from sleepfm.config.training import OptimizerConfig, SchedulerConfig


def build_optimizer(config: OptimizerConfig, network: nn.Module, loss: nn.Module) -> optim.Optimizer:
    """The optimiser over the network's parameters and the loss's (e.g. a temperature, never decayed)."""
    groups = [{"params": [p for p in network.parameters() if p.requires_grad]}]
    loss_params = [p for p in loss.parameters() if p.requires_grad]
    if loss_params:
        groups.append({"params": loss_params, "weight_decay": 0.0})
    if config.name == "sgd":
        return optim.SGD(groups, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    if config.name == "adam":
        return optim.Adam(groups, lr=config.lr, betas=config.betas, weight_decay=config.weight_decay)
    return optim.AdamW(groups, lr=config.lr, betas=config.betas, weight_decay=config.weight_decay)


def build_scheduler(config: SchedulerConfig, optimizer: optim.Optimizer, *, total_epochs: int, total_steps: int
                    ) -> LRScheduler | ReduceLROnPlateau | None:
    """The schedule; ``cosine`` anneals over the whole run unless ``T_max`` is given."""
    params = dict(config.params)
    if config.name == "none":
        return None
    if config.name == "step":
        return StepLR(optimizer, **{"step_size": 1, **params})
    if config.name == "plateau":
        return ReduceLROnPlateau(optimizer, mode="min", **params)
    horizon = total_steps if config.interval == "step" else total_epochs
    return CosineAnnealingLR(optimizer, **{"T_max": max(1, horizon), **params})


def current_lr(optimizer: optim.Optimizer) -> float:
    return float(optimizer.param_groups[0]["lr"])
