"""What every torch component in the registry has in common (tokenizers, poolers, models,
heads, losses): a pydantic config of its hyper-parameters, construction from that config,
and small example inputs so the test suite can exercise every registered component
(shape, dtype, determinism, save → load) without knowing it.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from sleepfm.config.base import ConfigModel


class TorchComponent(torch.nn.Module):
    """Mixin contract for registered torch modules.

    Subclasses set :attr:`Config` and accept an instance of it as their only constructor
    argument (``cls(config)``); the instance is kept as ``self.config``. :attr:`data_given`
    names the ``Config`` fields the data decide (each interface declares the usual ones);
    :func:`sleepfm.registry.create` fills them and refuses a user value that differs.
    """

    Config: ClassVar[type[ConfigModel]] = ConfigModel
    #: ``Config`` fields whose values come from the data, not the user (see :mod:`sleepfm.factory`).
    data_given: ClassVar[tuple[str, ...]] = ()
    config: ConfigModel

    @classmethod
    def from_config(cls, config: ConfigModel | dict[str, Any] | None = None) -> TorchComponent:
        """Build from a config instance or a plain dict (validated against :attr:`Config`)."""
        if config is None:
            config = cls.Config()
        elif isinstance(config, dict):
            config = cls.Config.model_validate(config)
        return cls(config)  # type: ignore[call-arg]

    @classmethod
    def test_config(cls) -> ConfigModel:
        """A small configuration for fast generated tests (default: :attr:`Config` defaults)."""
        return cls.Config()

    def example_inputs(self, batch_size: int = 2) -> tuple[Any, ...]:
        """Positional arguments for ``forward`` of a small, valid batch."""
        raise NotImplementedError(f"{type(self).__name__} does not provide example_inputs()")
