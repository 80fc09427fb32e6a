"""The networks themselves: published sizes, the lone-slot rule, padding, the fused tokenizer."""

from __future__ import annotations

import math

import pytest
import torch
from pydantic import ValidationError

from sleepfm import registry
from sleepfm.embedding.fast import FastEmbedder
from sleepfm.embedding.fast_layers import FastLayer
from sleepfm.embedding.fast_tokenizer import FusedCnnPatch, fusable
from sleepfm.embedding.pooling import AttentionPooler, AttentionPoolerConfig
from sleepfm.embedding.positional import PositionalEncoding
from sleepfm.embedding.set_transformer import SetTransformer
from sleepfm.embedding.tokenizer import CnnPatchConfig, CnnPatchTokenizer
from sleepfm.head.coxph import CoxPHDemoHead, CoxPHHead
from sleepfm.head.staging import LstmStagingHead

from .helpers_models import randomize_norm_stats, small_model


def _count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_default_configs_have_the_published_sizes() -> None:
    # SPEC §4.9: counted by instantiating the published classes.
    assert _count(CnnPatchTokenizer(CnnPatchConfig())) == 87_208
    assert _count(SetTransformer(SetTransformer.Config())) == 4_831_656
    assert _count(LstmStagingHead(LstmStagingHead.Config())) == 1_286_277
    assert _count(CoxPHDemoHead(CoxPHDemoHead.Config())) == 963_497
    assert _count(CoxPHHead(CoxPHHead.Config())) == 929_321


def test_registry_names_resolve_to_the_classes() -> None:
    assert registry.get("tokenizers", "cnn-patch") is CnnPatchTokenizer
    assert registry.get("poolers", "attention") is AttentionPooler
    assert registry.get("models", "set-transformer") is SetTransformer
    assert registry.get("heads", "coxph-demo") is CoxPHDemoHead


def test_configs_refuse_bad_values() -> None:
    with pytest.raises(ValidationError, match="odd"):
        CnnPatchConfig(kernel_size=4)
    with pytest.raises(ValidationError, match="extra"):
        SetTransformer.Config.model_validate({"embed_dim": 128, "hidden": 3})
    with pytest.raises(ValueError, match="divisible"):
        AttentionPooler(AttentionPoolerConfig(embed_dim=10, num_heads=3))


def test_positional_encoding_is_the_sinusoid() -> None:
    pe = PositionalEncoding(50, 8).pe[0]
    assert pe.shape == (50, 8)
    assert pe[7, 2].item() == pytest.approx(math.sin(7 * 10000 ** (-2 / 8)), abs=1e-6)
    assert pe[7, 3].item() == pytest.approx(math.cos(7 * 10000 ** (-2 / 8)), abs=1e-6)
    with pytest.raises(ValueError, match="longer"):
        PositionalEncoding(4, 8)(torch.zeros(1, 5, 8))


def _pooler(mode: str) -> AttentionPooler:
    torch.manual_seed(0)
    return AttentionPooler(AttentionPoolerConfig(embed_dim=16, num_heads=2, dim_feedforward=32,
                                                 single_slot=mode)).eval()  # type: ignore[arg-type]


def test_lone_slot_rule_per_row_versus_the_published_batch_rule() -> None:
    x = torch.randn(2, 3, 16)
    lone = torch.tensor([[False, True, True], [False, False, True]])
    with torch.no_grad():
        shortcut, published, attend = (_pooler(m)(x, lone) for m in ("shortcut", "batch", "attend"))
        alone_shortcut = _pooler("shortcut")(x[:1, :1], torch.zeros(1, 1, dtype=torch.bool))
        alone_published = _pooler("batch")(x[:1, :1], torch.zeros(1, 1, dtype=torch.bool))
        alone_attend = _pooler("attend")(x[:1, :1], torch.zeros(1, 1, dtype=torch.bool))
    # Row 0 has one real slot: the shortcut returns it whatever the batch…
    assert torch.equal(shortcut[0], x[0, 0]) and torch.equal(alone_shortcut[0], x[0, 0])
    # …the published rule gives another answer in a batch than alone (SPEC §4.10)…
    assert torch.equal(alone_published[0], x[0, 0]) and not torch.allclose(published[0], x[0, 0], atol=1e-3)
    # …and "attend" runs the layer in both cases.
    assert torch.allclose(attend[0], alone_attend[0], atol=1e-6)
    assert torch.allclose(shortcut[1], published[1], atol=1e-6)


def test_rows_without_a_real_slot_pool_to_zero() -> None:
    with torch.no_grad():
        out = _pooler("attend")(torch.randn(2, 3, 16), torch.tensor([[True] * 3, [False, True, True]]))
    assert torch.equal(out[0], torch.zeros(16)) and bool(torch.isfinite(out).all())


def test_padded_patches_are_left_out_exactly() -> None:
    model = small_model()
    x = torch.randn(1, 2, 16 * 64)
    mask = torch.zeros(1, 2, dtype=torch.bool)
    patch_mask = torch.zeros(1, 16, dtype=torch.bool)
    patch_mask[0, 5:] = True
    with torch.no_grad():
        pooled, sequence = model(x, mask, patch_mask)
        short_pooled, short_sequence = model(x[:, :, : 5 * 64], mask)
    assert torch.allclose(pooled, short_pooled, atol=1e-5)
    assert torch.allclose(sequence[:, :5], short_sequence, atol=1e-5)
    assert torch.equal(sequence[:, 5:], torch.zeros_like(sequence[:, 5:]))


def test_padded_channel_slots_are_never_tokenized() -> None:
    model = small_model()
    x = torch.randn(2, 3, 4 * 64)
    mask = torch.tensor([[False, False, True], [False, True, True]])
    noisy = x.clone()
    noisy[mask] = 1e6  # whatever sits in a padded slot must not matter
    with torch.no_grad():
        assert all(torch.equal(a, b) for a, b in zip(model(x, mask), model(noisy, mask), strict=True))


@pytest.mark.parametrize(("patch", "channels", "kernel"), [(640, [4, 8, 16, 32, 64, 128], 5), (256, [2, 4, 8], 3),
                                                           (128, [4, 8, 16], 7), (128, [3, 6], 9)])
def test_fused_tokenizer_matches_the_module(patch: int, channels: list[int], kernel: int) -> None:
    torch.manual_seed(1)
    tokenizer = CnnPatchTokenizer(CnnPatchConfig(patch_size=patch, channels=channels, kernel_size=kernel)).eval()
    randomize_norm_stats(tokenizer)
    x = torch.randn(700, patch)  # more than one internal block
    with torch.no_grad():
        assert torch.allclose(FusedCnnPatch(tokenizer)(x), tokenizer(x[None])[0, :, 0], atol=1e-5)


def test_tokenizers_whose_maps_do_not_halve_are_not_fused() -> None:
    tokenizer = CnnPatchTokenizer(CnnPatchConfig(patch_size=100, channels=[4, 8, 16]))
    assert not fusable(tokenizer)
    with pytest.raises(ValueError, match="halve"):
        FusedCnnPatch(tokenizer)


def _nights(batch: int = 2, steps: int = 20) -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(2)
    x = torch.randn(batch, 4, steps, 16)
    mask = torch.zeros(batch, 4, steps, dtype=torch.bool)
    mask[0, :, 12:] = True  # night 0 is shorter and padded
    mask[1, 0] = True  # night 1 has no BAS
    return x, mask


def test_staging_head_does_not_depend_on_other_nights_padding() -> None:
    torch.manual_seed(0)
    head = LstmStagingHead(LstmStagingHead.test_config()).eval()
    x, mask = _nights()
    with torch.no_grad():
        logits, step_mask = head(x, mask)
        alone, _ = head(x[:1, :, :12], mask[:1, :, :12])
    assert torch.allclose(logits[0, :12], alone[0], atol=1e-5)
    # A night without BAS is still staged (the published head reads BAS's mask as the time mask).
    assert not bool(step_mask[1].any()) and bool(torch.isfinite(logits[1]).all())
    assert step_mask[0, 12:].all() and not step_mask[0, :12].any()


def test_diagnosis_heads_use_real_steps_and_demographics() -> None:
    torch.manual_seed(0)
    demo_head = CoxPHDemoHead(CoxPHDemoHead.test_config()).eval()
    plain = CoxPHHead(CoxPHHead.test_config()).eval()
    x, mask = _nights()
    covariates = torch.tensor([[0.3, 1.0], [0.5, 0.0]])
    with torch.no_grad():
        hazards = demo_head(x, mask, covariates)
        alone = demo_head(x[:1, :, :12], mask[:1, :, :12], covariates[:1])
        other_sex = demo_head(x, mask, torch.tensor([[0.3, 0.0], [0.5, 0.0]]))
        assert plain(x, mask).shape == (2, 7)
    assert torch.allclose(hazards[0], alone[0], atol=1e-5)
    assert not torch.allclose(hazards[0], other_sex[0]) and torch.allclose(hazards[1], other_sex[1])
    with pytest.raises(ValueError, match="covariates"):
        demo_head(x, mask)


@pytest.mark.parametrize(("norm_first", "activation"), [(True, "relu"), (False, "relu"), (False, "gelu")])
def test_fast_layer_matches_torch(norm_first: bool, activation: str) -> None:
    torch.manual_seed(3)
    layer = torch.nn.TransformerEncoderLayer(16, 4, 32, batch_first=True, norm_first=norm_first,
                                             activation=activation).eval()
    x = torch.randn(3, 7, 16)
    padding = torch.zeros(3, 7, dtype=torch.bool)
    padding[1, 4:] = True
    with torch.no_grad():
        expected = layer(x, src_key_padding_mask=padding)
        got = FastLayer(layer)(x.reshape(21, 16), 3, 7, padding).view(3, 7, 16)
    assert torch.allclose(got[~padding], expected[~padding], atol=1e-5)
    assert not FastLayer.supports(torch.nn.TransformerEncoderLayer(16, 4, 32, activation=torch.tanh))


def test_fast_embedder_runs_parts_it_cannot_fuse_through_their_modules() -> None:
    torch.manual_seed(4)
    config = SetTransformer.test_config().model_copy(deep=True)
    config.tokenizer.params["kernel_size"] = 1  # no halo: not fusable
    model = SetTransformer(config).eval()
    embedder = FastEmbedder(model)
    assert embedder.tokenizer is None and embedder.encoder is not None
    x = torch.randn(2, 3, 16 * 64)
    with torch.no_grad():
        pooled, sequence = embedder.embed([x[0], x[1, :1]], [None, None])
        expected = [model(x[i: i + 1, : 3 - 2 * i], torch.zeros(1, 3 - 2 * i, dtype=torch.bool)) for i in range(2)]
    for i in range(2):
        assert torch.allclose(pooled[i], expected[i][0][0], atol=1e-5)
        assert torch.allclose(sequence[i], expected[i][1][0], atol=1e-5)


def test_embedding_leaves_torch_thread_count_as_it_was(tmp_path) -> None:
    import sleepfm

    from .helpers_models import SMALL_CHUNK, STUDY, small_checkpoint, write_study

    write_study(tmp_path / "a.h5", STUDY, SMALL_CHUNK)
    before = torch.get_num_threads()
    sleepfm.embed(tmp_path / "a.h5", small_checkpoint(tmp_path / "model"), threads=2)
    assert torch.get_num_threads() == before
