"""Registry-generated contract tests (timm style): every registered component of every kind —
sleepfm's and any installed plugin's — goes through its kind's contract, with no test of its own.

* torch kinds (tokenizers, poolers, models, heads, losses): built by ``registry.create`` from
  ``test_config()`` (data-given declarations checked), fed ``example_inputs()``, checked for the
  output contract of the interface, float32 finite outputs, determinism in eval, batch
  independence where items are independent, gradients for losses, and a save → load round trip
  through sleepfm's checkpoint format;
* signal readers and label readers: extensions as documented, a file that is not theirs refused
  with one :class:`~sleepfm.errors.InputError` line (and not sniffed as theirs);
* channel mappers: one decision per label, in order, deterministic, a reason for each unmapped one;
* cohorts: built from their defaults, refusing a missing folder in one line, tables ``None`` or
  of the documented shape, ``default_config()`` a valid layer of a run config;
* pairing rules: each pairs its own examples and nothing else of theirs.

A kind is covered by adding one :class:`Contract` to :data:`CONTRACTS`;
``test_every_kind_has_a_contract`` fails for a kind in ``registry_records.KINDS`` without one.
Kinds whose own contract is still to be written use :func:`loads_and_builds`, the check every
component passes (its import string resolves, it says what it is, and it builds from its
defaults or refuses in one line).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch

from sleepfm import factory, registry
from sleepfm.checkpoints import load_checkpoint, save_model
from sleepfm.config.base import merge, validate
from sleepfm.config.run import RunConfig
from sleepfm.errors import InputError, SleepfmError
from sleepfm.interfaces.channel_mapper import ChannelAssignment, ChannelMapper
from sleepfm.interfaces.cohort import Cohort
from sleepfm.interfaces.label_reader import LabelReader
from sleepfm.interfaces.pairing_rule import PairingRule
from sleepfm.interfaces.signal_reader import SignalReader
from sleepfm.registry_records import KINDS

from .helpers_hypnograms import night
from .test_hypnogram_writers import check_writer

Check = Callable[[str, str, Path], None]


# ---------------------------------------------------------------------------- torch components
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


def _loss_contract(component: Any, inputs: tuple, output: Any) -> None:
    assert isinstance(component.task, str) and component.task
    assert output.dim() == 0, "a loss is a scalar"
    leaves = [t.detach().clone().requires_grad_(True) for t in _float_inputs(inputs)]
    swapped = _swap_floats(inputs, iter(leaves))
    component.train()
    component(*swapped).backward()
    grads = [t.grad for t in leaves if t.grad is not None]
    assert grads and all(bool(torch.isfinite(g).all()) for g in grads), "gradients reach the inputs, finite"
    component.eval()


def _float_inputs(value: Any) -> list[torch.Tensor]:
    if isinstance(value, tuple | list):
        return [t for item in value for t in _float_inputs(item)]
    return [value] if isinstance(value, torch.Tensor) and value.is_floating_point() else []


def _swap_floats(value: Any, leaves: Any) -> Any:
    if isinstance(value, tuple | list):
        return type(value)(_swap_floats(item, leaves) for item in value)
    return next(leaves) if isinstance(value, torch.Tensor) and value.is_floating_point() else value


def _floats(output: Any) -> list[torch.Tensor]:
    items = output if isinstance(output, tuple | list) else (output,)
    return [t for t in items if isinstance(t, torch.Tensor) and t.is_floating_point()]


def _same(a: Any, b: Any, atol: float = 0.0) -> bool:
    return all(torch.allclose(x, y, atol=atol, rtol=0) for x, y in zip(_floats(a), _floats(b), strict=True))


def _first(output: Any) -> Any:
    return tuple(t[:1] for t in output) if isinstance(output, tuple | list) else output[:1]


def torch_contract(check: Callable[[Any, tuple, Any], None], *, batch_independent: bool = True) -> Check:
    """The contract of a torch kind whose outputs ``check`` verifies against the inputs."""

    def run(kind: str, name: str, tmp_path: Path) -> None:
        cls = registry.get(kind, name)
        assert not factory.declaration_problems(cls, name), "data_given names fields of its Config"
        torch.manual_seed(0)
        component = registry.create(kind, name, cls.test_config().model_dump()).eval()
        inputs = component.example_inputs(2)
        with torch.no_grad():
            output = component(*inputs)
            again = component(*inputs)
        check(component, inputs, output)
        floats = _floats(output)
        assert floats and all(t.dtype == torch.float32 for t in floats), "outputs must be float32"
        assert all(bool(torch.isfinite(t).all()) for t in floats), "outputs must be finite"
        assert _same(output, again), "eval outputs must be deterministic"
        if batch_independent:
            with torch.no_grad():
                alone = component(*(t[:1] if isinstance(t, torch.Tensor) else t for t in inputs))
            assert _same(_first(output), alone, atol=1e-5), "item 0 alone must give what it gives in the batch"
        if not component.state_dict():
            return  # nothing to save (a loss without parameters): its config is all of it
        folder = save_model(component, tmp_path / name)
        loaded = load_checkpoint(folder)
        assert (loaded.kind, loaded.name) == (kind, name) and not loaded.module.training
        with torch.no_grad():
            assert _same(output, loaded.module(*inputs)), "save → load must give the same outputs"

    return run


# ---------------------------------------------------------------------------- file readers
def _not_theirs(folder: Path, suffix: str) -> list[Path]:
    """Files with ``suffix`` that no format accepts: empty, binary noise, a CSV of something else."""
    files = []
    for i, content in enumerate((b"", b"\x00\xff" * 300 + b"noise\n" * 5, b"Study ID,x\n1,2\n")):
        path = folder / f"not-theirs-{i}{suffix}"
        path.write_bytes(content)
        files.append(path)
    return files


def _one_line(error: SleepfmError) -> None:
    assert "\n" not in str(error) and str(error)


def _extensions(component: Any) -> tuple[str, ...]:
    extensions = tuple(component.extensions)
    assert extensions and all(e.startswith(".") and e == e.lower() for e in extensions), \
        "extensions are lower case, with the dot"
    return extensions


def reader_contract(kind: str, name: str, tmp_path: Path) -> None:
    reader = registry.create(kind, name)
    assert isinstance(reader, SignalReader)
    for suffix in _extensions(reader):
        assert reader.can_read(Path(f"night{suffix.upper()}")), "extensions match in any case"
        for path in [tmp_path / f"absent{suffix}", *_not_theirs(tmp_path, suffix)]:
            with pytest.raises(InputError) as caught:
                reader.open(path)
            _one_line(caught.value)


def label_reader_contract(kind: str, name: str, tmp_path: Path) -> None:
    reader = registry.create(kind, name)
    assert isinstance(reader, LabelReader)
    for suffix in _extensions(reader):
        for path in _not_theirs(tmp_path, suffix):
            assert reader.sniff(path) is False, f"{path.name} is not sniffed as {name}"
            with pytest.raises(InputError) as caught:
                reader.read(path)
            _one_line(caught.value)


# ---------------------------------------------------------------------------- channel mappers
LABELS = ["C3-M2", "E1-M2", "EOG(L)", "Chin1-Chin2", "ECG II", "Thor", "SpO2", "Pos", "C3-M2", "???"]


def _mapper(kind: str, name: str, tmp_path: Path) -> ChannelMapper:
    try:
        return registry.create(kind, name)
    except SleepfmError:
        # A mapper that needs its table (``table``): built the documented way, with one.
        if "path" not in factory.keyword_parameters(registry.get(kind, name)):
            raise
        table = tmp_path / "channel_groups.json"
        table.write_text('{"BAS": ["C3-M2", "E1-M2"], "EMG": ["Chin1-Chin2"], "EKG": ["ECG II"]}')
        return registry.create(kind, name, {"path": table})


def channel_mapper_contract(kind: str, name: str, tmp_path: Path) -> None:
    mapper = _mapper(kind, name, tmp_path)
    assert isinstance(mapper, ChannelMapper)
    decided = mapper.assign(LABELS)
    assert [a.label for a in decided] == LABELS and all(isinstance(a, ChannelAssignment) for a in decided)
    assert decided == mapper.assign(LABELS) and decided[0] == decided[8], "deterministic, per label"
    assert all(a.rule for a in decided) and all(a.reason for a in decided if not a.mapped)
    assert mapper.assign([]) == []


# ---------------------------------------------------------------------------- cohorts
def cohort_contract(kind: str, name: str, tmp_path: Path) -> None:
    cohort = registry.create(kind, name)
    assert isinstance(cohort, Cohort) and isinstance(cohort.config, cohort.Config)
    with pytest.raises(InputError) as caught:
        cohort.discover(tmp_path / "absent")
    _one_line(caught.value)
    empty = tmp_path / "empty"
    empty.mkdir()
    for call in (cohort.discover, cohort.demographics, cohort.outcomes):
        try:
            result = call(empty)
        except InputError as exc:
            _one_line(exc)
            continue
        if call == cohort.discover:
            assert result == [], "an empty folder holds no studies"
        elif call == cohort.demographics:
            assert result is None or list(result.columns) == ["Study ID", "age", "sex"]
        else:
            assert result is None or (len(result) == 2 and list(result[0].columns) == list(result[1].columns))
    layer = cohort.default_config()
    assert isinstance(layer, dict)
    validate(RunConfig, merge(layer, {"workflow": "run", "cohort": {"name": name}}), where=name)


# ---------------------------------------------------------------------------- pairing rules
def pairing_rule_contract(kind: str, name: str, tmp_path: Path) -> None:
    """A hypnogram naming convention pairs its own examples, never a hypnogram with another recording
    or a recording with itself, and claims all of its hypnogram names or none."""
    rule = registry.create(kind, name)
    assert isinstance(rule, PairingRule) and rule.examples, "a rule gives (recording, hypnogram) examples"
    for recording, hypnogram in rule.examples:
        assert rule.pairs(Path(recording), Path(hypnogram)), (recording, hypnogram)
        assert not rule.pairs(Path("x" + recording), Path(hypnogram)), "another recording must not pair"
        assert not rule.pairs(Path(recording), Path(recording))
    claims = [rule.claims(Path(hypnogram)) for _, hypnogram in rule.examples]
    assert all(claims) or not any(claims), "a rule claims all its hypnogram names or none"


# ---------------------------------------------------------------------------- quality checks
def quality_check_contract(kind: str, name: str, tmp_path: Path) -> None:
    """A quality check builds from its documented defaults, says what its flag means, and on its own
    clean example channel returns one bool per 5-s patch — none set — the same twice over."""
    import numpy as np

    from sleepfm.plugin import ChannelSignal, QualityCheck

    check = registry.create(kind, name)
    assert isinstance(check, QualityCheck) and (check.meaning or registry.entry(kind, name).description)
    channel = check.example_channel()
    assert isinstance(channel, ChannelSignal) and channel.n_patches > 0
    if not check.applies(channel):
        return
    flags = np.asarray(check.patches(channel))
    assert flags.shape == (channel.n_patches,) and flags.dtype == bool
    assert not flags.any(), "a clean channel raises no flag"
    assert np.array_equal(flags, np.asarray(check.patches(channel))), "deterministic"


# ---------------------------------------------------------------------------- any kind
def _described(kind: str, name: str) -> Any:
    entry = registry.entry(kind, name)
    assert entry.description.strip(), "a one-line description for `sleepfm plugins`"
    return entry.load()


def loads_and_builds(kind: str, name: str, tmp_path: Path) -> None:
    """What every component passes: it loads, says what it is, and (a class) builds from its
    defaults or refuses in one line."""
    if isinstance(_described(kind, name), type):
        try:
            registry.create(kind, name)
        except SleepfmError as exc:
            _one_line(exc)


@dataclass(frozen=True)
class Contract:
    check: Check


#: Kind → its contract: the one place a new kind is covered.
CONTRACTS: dict[str, Contract] = {
    "readers": Contract(reader_contract),
    "label_readers": Contract(label_reader_contract),
    "channel_mappers": Contract(channel_mapper_contract),
    "tokenizers": Contract(torch_contract(_tokenizer_contract)),
    "poolers": Contract(torch_contract(_pooler_contract)),
    "models": Contract(torch_contract(_model_contract)),
    "heads": Contract(torch_contract(_head_contract)),
    "losses": Contract(torch_contract(_loss_contract, batch_independent=False)),
    "cohorts": Contract(cohort_contract),
    "hypnogram_writers": Contract(lambda kind, name, tmp_path: check_writer(name, tmp_path, night())),
    "quality_checks": Contract(quality_check_contract),
    "pairing_rules": Contract(pairing_rule_contract),
}


def check_component(kind: str, name: str, tmp_path: Path) -> None:
    """Run one registered component through its kind's contract."""
    _described(kind, name)
    CONTRACTS[kind].check(kind, name, tmp_path)


CASES = [(kind, name) for kind in KINDS for name in registry.names(kind)]


@pytest.mark.parametrize(("kind", "name"), CASES, ids=[f"{k}/{n}" for k, n in CASES])
def test_registered_component(kind: str, name: str, tmp_path: Path) -> None:
    check_component(kind, name, tmp_path)


def test_every_kind_has_a_contract() -> None:
    missing = set(KINDS) - set(CONTRACTS)
    assert not missing, f"add a Contract for {', '.join(sorted(missing))} to CONTRACTS"


def test_every_kind_is_exercised() -> None:
    assert {kind for kind, _ in CASES} == set(KINDS), "each kind has at least its built-in component"
    assert ("losses", "focal") in CASES, "an installed plugin's component gets its generated test too"


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


def test_a_third_party_mapper_breaking_its_contract_is_caught(make_plugin, tmp_path: Path) -> None:
    make_plugin("sleepfm-map-sorted", '''
        from sleepfm.plugin import ChannelAssignment, ChannelMapper, Modality, hookimpl

        class Sorted(ChannelMapper):
            """Maps every label to BAS, in sorted order (wrong: the order must be kept)."""
            def assign(self, labels):
                return [ChannelAssignment(label, Modality.BAS, "all") for label in sorted(labels)]

        @hookimpl
        def sleepfm_register_channel_mappers(register):
            register("sorted", Sorted)
    ''')
    with pytest.raises(AssertionError):
        check_component("channel_mappers", "sorted", tmp_path)
