"""A budget on what building a network from a checkpoint's config may create, set by its weights.

A checkpoint's ``config.json`` says how big the network is; its weights say how big it was
when it was trained. Building what the config asks for before looking at the weights let a
``config.json`` asking for 100,000 layers take 7.7 GB. While a :class:`ParameterBudget` is
active, a build that creates several times more modules, parameter tensors or values than
the weights hold is stopped with one line — modules made by ``copy.deepcopy`` included (that
is how ``nn.TransformerEncoder`` makes its layers, without registering anything).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from sleepfm.checkpoints.reading import StateDict
from sleepfm.errors import CheckpointError


class ParameterBudget:
    """While active (``with budget:``), stops a build that grows far beyond ``state``.

    The slack (4x and a little more) lets an ordinary mismatch, the weights of another
    network, reach the key-by-key table, which says more than a count. Not thread-safe:
    a checkpoint is built before any worker thread starts.
    """

    def __init__(self, state: StateDict, *, where: Path, weights: Path) -> None:
        self.tensors, self.values = len(state), sum(t.numel() for t in state.values())
        self.max_items, self.max_values = 4 * self.tensors + 256, 4 * self.values + (1 << 24)
        self.where, self.weights = where, weights

    def __enter__(self) -> ParameterBudget:
        from torch.nn.modules import module as torch_module

        self.parameters = self.modules = self.total = 0
        self._handles = [torch_module.register_module_parameter_registration_hook(self._parameter),
                         torch_module.register_module_module_registration_hook(self._module)]
        self._setstate = nn.Module.__setstate__
        budget, restore = self, self._setstate

        def copied(module: nn.Module, state: dict[str, Any]) -> None:
            restore(module, state)
            budget._module()

        nn.Module.__setstate__ = copied  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        nn.Module.__setstate__ = self._setstate  # type: ignore[method-assign]
        for handle in self._handles:
            handle.remove()

    def _parameter(self, module: nn.Module, name: str, param: torch.Tensor | None) -> None:
        if param is not None:
            self.parameters, self.total = self.parameters + 1, self.total + param.numel()
            self._check()

    def _module(self, *_: object) -> None:
        self.modules += 1
        self._check()

    def _check(self) -> None:
        if max(self.parameters, self.modules) > self.max_items or self.total > self.max_values:
            raise CheckpointError(
                f"asks for a network far larger than its weights ({self.tensors} tensors, {self.values} values "
                f"in {self.weights.name})", where=self.where,
                fix="config.json does not describe these weights; use the config.json saved with them")
