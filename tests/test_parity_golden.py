"""Numeric parity with the published model code: ../shared/reference/sleepfm-compat/golden.npz.

Every output is reproduced to ≤ 1e-5 (float32, CPU, eval), from the published checkpoint
folders loaded unchanged; the state dicts have the published keys and shapes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import sleepfm
from sleepfm.checkpoints.reading import read_weights
from sleepfm.embedding.fast import FastEmbedder

pytestmark = pytest.mark.shared
TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def compat(shared: Path) -> Path:
    return shared / "reference" / "sleepfm-compat"


@pytest.fixture(scope="module")
def golden(compat: Path) -> dict[str, torch.Tensor]:
    with np.load(compat / "golden.npz") as data:
        return {key: torch.from_numpy(data[key]) for key in data.files}


def _close(ours: torch.Tensor, theirs: torch.Tensor) -> float:
    assert ours.shape == theirs.shape
    return float((ours.float() - theirs.float()).abs().max())


@pytest.mark.parametrize("prefix", ["base", "base_single_channel"])
def test_base_model_reproduces_every_output_with_published_semantics(compat: Path, golden: dict, prefix: str) -> None:
    model = sleepfm.load_model(compat / "model_base", semantics="published")
    with torch.inference_mode():
        pooled, sequence = model(golden[f"{prefix}/x"], golden[f"{prefix}/mask"])
    assert _close(pooled, golden[f"{prefix}/pooled"]) <= TOLERANCE
    assert _close(sequence, golden[f"{prefix}/sequence"]) <= TOLERANCE


def test_default_semantics_decide_the_lone_channel_per_item(compat: Path, golden: dict) -> None:
    model = sleepfm.load_model(compat / "model_base")
    x, mask = golden["base/x"], golden["base/mask"]
    with torch.inference_mode():
        pooled, sequence = model(x, mask)
        # Item 2 keeps one channel: it now gets what the published code gives it alone.
        alone_pooled, alone_sequence = model(x[2:, :1], mask[2:, :1])
        single = model(golden["base_single_channel/x"], golden["base_single_channel/mask"])
    assert _close(pooled[:2], golden["base/pooled"][:2]) <= TOLERANCE
    assert _close(sequence[:2], golden["base/sequence"][:2]) <= TOLERANCE
    assert _close(pooled[2:], alone_pooled) <= TOLERANCE and _close(sequence[2:], alone_sequence) <= TOLERANCE
    assert _close(single[0], golden["base_single_channel/pooled"]) <= TOLERANCE
    assert _close(single[1], golden["base_single_channel/sequence"]) <= TOLERANCE


def test_fast_embedder_agrees_with_the_module_on_golden_inputs(compat: Path, golden: dict) -> None:
    model = sleepfm.load_model(compat / "model_base")
    x, mask = golden["base/x"], golden["base/mask"]
    with torch.inference_mode():
        pooled, sequence = FastEmbedder(model).embed([x[i][~mask[i]] for i in range(3)], [None] * 3)
        reference = model(x, mask)
    assert _close(pooled, reference[0]) <= 1e-4 and _close(sequence, reference[1]) <= 1e-4


def test_staging_head(compat: Path, golden: dict) -> None:
    head = sleepfm.load_model(compat / "model_sleep_staging")
    with torch.inference_mode():
        logits, temporal_mask = head(golden["staging/x"], golden["staging/mask"])
    assert _close(logits, golden["staging/logits"]) <= TOLERANCE
    assert torch.equal(temporal_mask.float(), golden["staging/temporal_mask"])


def test_diagnosis_head(compat: Path, golden: dict) -> None:
    head = sleepfm.load_model(compat / "model_diagnosis")
    with torch.inference_mode():
        hazards = head(golden["diagnosis/x"], golden["diagnosis/mask"], golden["diagnosis/demo"])
    assert _close(hazards, golden["diagnosis/hazards"]) <= TOLERANCE


@pytest.mark.parametrize(("folder", "weights"), [("model_base", "best.pt"), ("model_sleep_staging", "best.pth"),
                                                 ("model_diagnosis", "best.pth")])
def test_state_dict_keys_and_shapes_are_the_published_ones(compat: Path, folder: str, weights: str) -> None:
    published = read_weights(compat / folder / weights)
    ours = sleepfm.load_model(compat / folder).state_dict()
    assert list(ours) == list(published)
    assert all(ours[k].shape == published[k].shape and ours[k].dtype == published[k].dtype for k in ours)
    if folder == "model_diagnosis":  # unused by the forward pass, kept for strict loading (SPEC §4.7)
        assert ours["positional_encoding.pe"].shape == (1, 6480, 128) and "layer_norm.weight" in ours
        assert len(ours) == 35
