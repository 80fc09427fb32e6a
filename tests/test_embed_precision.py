"""``--precision``: reading the CPU's flags, the choice it makes, and the bf16 fast path.

Nothing here depends on the machine's CPU: the flags are given, or /proc/cpuinfo is swapped
for a file written by the test.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from sleepfm.embedding import precision as precision_module
from sleepfm.embedding.fast import FastEmbedder
from sleepfm.embedding.precision import choose_precision, cpu_flags
from sleepfm.store.embedding_store import EmbeddingStore

from .helpers_models import SMALL_CHUNK, STUDY, small_checkpoint, small_model, write_study

CPU = torch.device("cpu")
#: Largest |bf16 - fp32| allowed for the small test model's embeddings (values of order 1, the
#: output of a LayerNorm; measured 0.004-0.02 over four seeds).
TOLERANCE = 0.05

X86_AMX = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: fpu sse2 avx avx2 fma avx512f avx512_bf16 amx_bf16 amx_tile amx_int8
power management:

processor\t: 1
flags\t\t: fpu sse2
"""
X86_AVX2 = "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse2 avx avx2 fma\n"
ARM_BF16 = "processor\t: 0\nBogoMIPS\t: 2100.00\nFeatures\t: fp asimd sve bf16 i8mm\n"


def _cpuinfo(tmp_path: Path, text: str, monkeypatch: pytest.MonkeyPatch | None = None) -> Path:
    path = tmp_path / "cpuinfo"
    path.write_text(text)
    if monkeypatch is not None:
        monkeypatch.setattr(precision_module, "CPUINFO", path)
    return path


def test_cpu_flags_come_from_the_first_processor(tmp_path: Path) -> None:
    flags = cpu_flags(_cpuinfo(tmp_path, X86_AMX))
    assert {"amx_bf16", "avx512_bf16", "avx2"} <= flags and "power" not in flags
    assert cpu_flags(_cpuinfo(tmp_path, ARM_BF16)) == {"fp", "asimd", "sve", "bf16", "i8mm"}
    assert cpu_flags(_cpuinfo(tmp_path, "processor\t: 0\n")) == frozenset()
    assert cpu_flags(tmp_path / "absent") == frozenset()


def test_auto_picks_bf16_only_with_amx() -> None:
    amx = choose_precision("auto", CPU, frozenset({"avx2", "avx512_bf16", "amx_bf16"}))
    assert amx.precision == "bf16" and "AMX" in amx.reason and not amx.warn
    for flags in ({"avx2", "fma"}, {"avx512f", "avx512_bf16"}, {"bf16"}, set()):
        chosen = choose_precision("auto", CPU, frozenset(flags))
        assert chosen.precision == "fp32" and "no AMX" in chosen.reason and not chosen.warn
    assert choose_precision("fp32", CPU, frozenset({"amx_bf16"})).precision == "fp32"
    # On a GPU auto stays fp32: bf16 there only when asked for.
    assert choose_precision("auto", torch.device("cuda")).precision == "fp32"
    with pytest.raises(ValueError, match="fp16"):
        choose_precision("fp16", CPU, frozenset())


def test_bf16_runs_where_the_cpu_multiplies_bf16_and_falls_back_with_a_warning_elsewhere() -> None:
    for flag in ("amx_bf16", "avx512_bf16", "bf16"):
        chosen = choose_precision("bf16", CPU, frozenset({"avx2", flag}))
        assert chosen.precision == "bf16" and flag in chosen.reason and not chosen.warn
    fallback = choose_precision("bf16", CPU, frozenset({"avx2", "avx512f"}))
    assert fallback.precision == "fp32" and fallback.warn
    assert "no bf16 matrix instructions" in fallback.reason and "running fp32" in fallback.reason
    assert "\n" not in fallback.reason


def test_bf16_on_a_gpu_needs_compute_capability_8(monkeypatch: pytest.MonkeyPatch) -> None:
    gpu = torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (8, 0))
    assert choose_precision("bf16", gpu) == precision_module.PrecisionChoice(
        "bf16", "precision bf16 on the GPU (compute capability 8.0)")
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (7, 0))
    volta = choose_precision("bf16", gpu)
    assert volta.precision == "fp32" and volta.warn and "compute capability 7.0" in volta.reason


def test_the_machines_flags_are_read_when_none_are_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _cpuinfo(tmp_path, X86_AMX, monkeypatch)
    assert choose_precision("auto", CPU).precision == "bf16"
    _cpuinfo(tmp_path, X86_AVX2, monkeypatch)
    assert choose_precision("auto", CPU).precision == "fp32"


class _ProductDtypes(TorchDispatchMode):
    """Records the dtypes each matrix product receives."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: dict[str, set[torch.dtype]] = {}

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        name = func.overloadpacket.__name__
        if name in ("addmm", "addmm_", "mm", "bmm"):
            self.seen.setdefault(name, set()).update(a.dtype for a in args if isinstance(a, torch.Tensor))
        return func(*args, **(kwargs or {}))


def test_bf16_fast_path_multiplies_in_bf16_and_stays_close_to_fp32() -> None:
    model = small_model()
    x = torch.randn(6, 16 * 64, generator=torch.Generator().manual_seed(1))
    items, masks = [x[:3], x[3:4], x[4:]], [None, None, torch.arange(16) >= 12]
    with torch.inference_mode():
        reference = FastEmbedder(model).embed(items, masks)
        low = FastEmbedder(model, torch.bfloat16)
        with _ProductDtypes() as products:
            first = low.embed(items, masks)
        second = low.embed(items, masks)
    # The projections, the feed-forward and the tokenizer's convolutions run in bf16; the
    # attention products (scores, mixing of values) stay fp32.
    assert products.seen["addmm"] == {torch.bfloat16} and products.seen["addmm_"] == {torch.bfloat16}
    assert products.seen["bmm"] == {torch.float32}
    for exact, rounded, again in zip(reference, first, second, strict=True):
        assert rounded.dtype == torch.float32 and bool(torch.isfinite(rounded).all())
        assert float((exact - rounded).abs().max()) <= TOLERANCE
        assert torch.equal(rounded, again)  # deterministic
    # The model keeps its fp32 weights: an fp32 fast path built afterwards gives the same numbers.
    assert all(p.dtype == torch.float32 for p in model.parameters())
    with torch.inference_mode():
        assert all(torch.equal(a, b) for a, b in zip(FastEmbedder(model).embed(items, masks), reference, strict=True))


def test_bf16_fast_path_is_not_changed_by_outer_autocast() -> None:
    model = small_model()
    x = torch.randn(3, 16 * 64, generator=torch.Generator().manual_seed(2))
    embedder = FastEmbedder(model, torch.bfloat16)
    with torch.inference_mode():
        plain = embedder.embed([x], [None])
        with torch.autocast("cpu", dtype=torch.bfloat16):
            wrapped = embedder.embed([x], [None])
    assert all(torch.equal(a, b) for a, b in zip(plain, wrapped, strict=True))


def _embed(tmp_path: Path, name: str, **options: object) -> dict:
    import sleepfm

    checkpoint = tmp_path / "model"
    if not checkpoint.exists():
        small_checkpoint(checkpoint)
        write_study(tmp_path / "night.h5", STUDY, 3 * SMALL_CHUNK)
    sleepfm.embed(tmp_path / "night.h5", checkpoint, tmp_path / name, device="cpu", **options)
    with EmbeddingStore(tmp_path / name / "night.h5") as store:
        return {"precision": store.attrs["precision"],
                **{m.value: (store.pooled(m), store.tokens(m)) for m in store.modalities}}


def test_embed_without_bf16_instructions_warns_and_runs_fp32(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    _cpuinfo(tmp_path, X86_AVX2, monkeypatch)
    exact = _embed(tmp_path, "fp32")
    with caplog.at_level(logging.INFO, logger="sleepfm"):
        asked = _embed(tmp_path, "bf16", precision="bf16")
        auto = _embed(tmp_path, "auto", precision="auto")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    infos = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO and "precision" in r.getMessage()]
    assert len(warnings) == 1 and "running fp32 instead" in warnings[0]
    assert infos == ["--precision auto: fp32, the CPU has no AMX (no amx_bf16 flag in /proc/cpuinfo), where bf16 "
                     "would not be faster"]
    assert exact["precision"] == asked["precision"] == auto["precision"] == "fp32"
    for key in ("BAS", "RESP", "EKG", "EMG"):
        assert all((a == b).all() and (a == c).all() for a, b, c in zip(exact[key], asked[key], auto[key],
                                                                       strict=True))


def test_embed_with_amx_runs_bf16_close_to_fp32(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _cpuinfo(tmp_path, X86_AMX, monkeypatch)
    exact = _embed(tmp_path, "fp32")
    auto = _embed(tmp_path, "auto", precision="auto")
    again = _embed(tmp_path, "again", precision="bf16")
    assert exact["precision"] == "fp32" and auto["precision"] == again["precision"] == "bf16"
    for key in ("BAS", "RESP", "EKG", "EMG"):
        for a, b, c in zip(exact[key], auto[key], again[key], strict=True):
            assert 0 < abs(a - b).max() <= TOLERANCE and (b == c).all()


def test_embed_command_says_which_precision_it_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from sleepfm.cli.app import main

    _cpuinfo(tmp_path, X86_AVX2, monkeypatch)
    write_study(tmp_path / "night.h5", STUDY, SMALL_CHUNK)
    checkpoint = small_checkpoint(tmp_path / "model")
    said = {}
    for precision in ("auto", "bf16", "fp32"):
        code = main(["embed", str(tmp_path / "night.h5"), "--checkpoint", str(checkpoint), "--out",
                     str(tmp_path / precision), "--device", "cpu", "--precision", precision])
        assert code == 0
        said[precision] = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert said["auto"] == ["--precision auto: fp32, the CPU has no AMX (no amx_bf16 flag in /proc/cpuinfo), where "
                            "bf16 would not be faster"]
    assert len(said["bf16"]) == 1 and said["bf16"][0].startswith("warning: --precision bf16: this CPU has no bf16")
    assert said["fp32"] == []


def test_run_takes_the_precision_through_its_config() -> None:
    from sleepfm.clinical.run import _settings
    from sleepfm.config.run import resolve_run_config
    from sleepfm.errors import ConfigError

    config = resolve_run_config(None, cli={}, overrides=["embed.precision=auto"])
    assert config.embed.precision == "auto" and _settings(config).precision == "auto"
    assert resolve_run_config(None, cli={}, overrides=[]).embed.precision == "fp32"
    with pytest.raises(ConfigError, match="precision"):
        resolve_run_config(None, cli={}, overrides=["embed.precision=fp16"])
