"""Registry-generated tests (timm style): every registered tokenizer, pooler, model and head —
sleepfm's and any installed plugin's — is built from its ``test_config()``, fed its
``example_inputs()``, and checked for the output contract of its interface, float32 outputs,
determinism in eval, batch independence (item 0 alone gives what it gives in the batch) and a
save → load round trip through sleepfm's checkpoint format.

To cover another kind (e.g. ``losses``), add an entry to :data:`CONTRACTS`: a function that
checks one output against the inputs, and whether items are independent of each other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch

from sleepfm import registry
from sleepfm.checkpoints import load_checkpoint, save_model


def _tokenizer_contract(component: Any, inputs: tuple, output: Any) -> None:
    (x,) = inputs
    batch, channels, samples = x.shape
    assert output.shape == (batch, channels, samples // component.patch_size, component.embed_dim)


def _pooler_contract(component: Any, inputs: tuple, output: Any) -> None:
    assert output.shape == (inputs[0].shape[0], component.embed_dim)


def _model_contract(component: Any, inputs: tuple, output: Any) -> None:
    pooled, sequence = output
    x = inputs[0]
    assert pooled.shape == (x.shape[0], component.embed_dim)
    assert sequence.shape == (x.shape[0], x.shape[2] // component.patch_size, component.embed_dim)


def _head_contract(component: Any, inputs: tuple, output: Any) -> None:
    x = inputs[0]
    if component.task == "staging":
        logits, step_mask = output
        assert logits.shape[:2] == (x.shape[0], x.shape[2]) and step_mask.shape == (x.shape[0], x.shape[2])
        assert step_mask.dtype == torch.bool
    else:
        assert output.dim() == 2 and output.shape[0] == x.shape[0]


@dataclass(frozen=True)
class Contract:
    check: Callable[[Any, tuple, Any], None]
    batch_independent: bool = True


CONTRACTS: dict[str, Contract] = {
    "tokenizers": Contract(_tokenizer_contract),
    "poolers": Contract(_pooler_contract),
    "models": Contract(_model_contract),
    "heads": Contract(_head_contract),
}


def _floats(output: Any) -> list[torch.Tensor]:
    items = output if isinstance(output, tuple | list) else (output,)
    return [t for t in items if isinstance(t, torch.Tensor) and t.is_floating_point()]


def _same(a: Any, b: Any, atol: float = 0.0) -> bool:
    return all(torch.allclose(x, y, atol=atol, rtol=0) for x, y in zip(_floats(a), _floats(b), strict=True))


def _first(output: Any) -> Any:
    return tuple(t[:1] for t in output) if isinstance(output, tuple | list) else output[:1]


def check_component(kind: str, name: str, tmp_path: Path) -> None:
    """Run one registered component through its kind's contract."""
    contract = CONTRACTS[kind]
    cls = registry.get(kind, name)
    torch.manual_seed(0)
    component = cls.from_config(cls.test_config()).eval()
    inputs = component.example_inputs(2)
    with torch.no_grad():
        output = component(*inputs)
        again = component(*inputs)
    contract.check(component, inputs, output)
    floats = _floats(output)
    assert floats and all(t.dtype == torch.float32 for t in floats), "outputs must be float32"
    assert all(bool(torch.isfinite(t).all()) for t in floats), "outputs must be finite"
    assert _same(output, again), "eval outputs must be deterministic"
    if contract.batch_independent:
        with torch.no_grad():
            alone = component(*(t[:1] if isinstance(t, torch.Tensor) else t for t in inputs))
        assert _same(_first(output), alone, atol=1e-5), "item 0 alone must give what it gives in the batch"
    folder = save_model(component, tmp_path / name)
    loaded = load_checkpoint(folder)
    assert (loaded.kind, loaded.name) == (kind, name) and not loaded.module.training
    with torch.no_grad():
        assert _same(output, loaded.module(*inputs)), "save → load must give the same outputs"


CASES = [(kind, name) for kind in CONTRACTS for name in registry.names(kind)]


@pytest.mark.parametrize(("kind", "name"), CASES, ids=[f"{k}/{n}" for k, n in CASES])
def test_registered_component(kind: str, name: str, tmp_path: Path) -> None:
    check_component(kind, name, tmp_path)


def test_every_builtin_kind_is_covered() -> None:
    kinds = {kind for kind, _ in CASES}
    assert kinds == set(CONTRACTS), "each kind has at least its built-in component"


def test_a_third_party_pooler_goes_through_the_same_checks(make_plugin, tmp_path: Path) -> None:
    make_plugin("sleepfm-pool-max", '''
        from typing import Any
        import torch
        from sleepfm import hookimpl
        from sleepfm.config.base import ConfigModel
        from sleepfm.interfaces.pooler import Pooler

        class MaxConfig(ConfigModel):
            embed_dim: int = 8

        class MaxPooler(Pooler):
            """Masked max over the set."""
            Config = MaxConfig

            def __init__(self, config: MaxConfig) -> None:
                super().__init__()
                self.config = config
                self.embed_dim = config.embed_dim
                self.scale = torch.nn.Parameter(torch.ones(config.embed_dim))

            def forward(self, x: torch.Tensor, key_padding_mask: Any = None) -> torch.Tensor:
                if key_padding_mask is not None:
                    x = x.masked_fill(key_padding_mask.bool().unsqueeze(-1), float("-inf"))
                return x.amax(1) * self.scale

            def example_inputs(self, batch_size: int = 2) -> tuple:
                mask = torch.zeros(batch_size, 4, dtype=torch.bool)
                mask[0, 2:] = True
                return torch.randn(batch_size, 4, self.embed_dim), mask

        @hookimpl
        def sleepfm_register_poolers(register):
            register("max", MaxPooler)
    ''')
    registry.reset_registry()
    assert registry.entry("poolers", "max").plugin.distribution == "sleepfm-pool-max"
    check_component("poolers", "max", tmp_path)
