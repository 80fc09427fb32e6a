"""The focal plugin, tested as a lab tests its package: installed, through sleepfm's registry."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from sleepfm import registry


def test_registered_through_its_distribution() -> None:
    entry = registry.entry("losses", "focal")
    assert entry.plugin.distribution == "sleepfm-loss-focal"
    assert entry.plugin.version == "0.1.0"
    assert entry.load().task == "staging"


def test_gamma_zero_is_cross_entropy() -> None:
    loss = registry.get("losses", "focal").from_config({"gamma": 0.0})
    logits, targets, mask = loss.example_inputs()
    expected = F.cross_entropy(logits[~mask], targets[~mask])
    assert torch.allclose(loss(logits, targets, mask), expected, atol=1e-6)


def test_hand_computed_value() -> None:
    loss = registry.get("losses", "focal").from_config({"gamma": 2.0, "class_weights": [1, 2]})
    logits = torch.tensor([[[0.0, 0.0], [math.log(3.0), 0.0]]])  # p = (.5, .5), (.75, .25)
    targets = torch.tensor([[1, 0]])
    mask = torch.tensor([[False, False]])
    # token 0: w=2, p=.5 -> 2 * .25 * ln 2 ; token 1: w=1, p=.75 -> .0625 * -ln .75
    expected = (2 * 0.25 * math.log(2) + 0.0625 * -math.log(0.75)) / 2
    assert loss(logits, targets, mask).item() == pytest.approx(expected, rel=1e-6)


def test_easy_tokens_weigh_less_than_in_cross_entropy() -> None:
    focal = registry.get("losses", "focal").from_config({"gamma": 2.0})
    logits = torch.tensor([[[5.0, 0.0, 0.0, 0.0, 0.0]]])
    targets = torch.tensor([[0]])
    mask = torch.tensor([[False]])
    assert focal(logits, targets, mask) < F.cross_entropy(logits[0], targets[0]) / 100


def test_fully_masked_batch_gives_zero_with_gradient() -> None:
    loss = registry.get("losses", "focal").from_config({})
    logits = torch.randn(1, 4, 5, requires_grad=True)
    value = loss(logits, torch.zeros(1, 4, dtype=torch.long), torch.ones(1, 4, dtype=torch.bool))
    value.backward()
    assert value.item() == 0.0 and logits.grad is not None


def test_wrong_number_of_class_weights_is_explained() -> None:
    loss = registry.get("losses", "focal").from_config({"class_weights": [1.0, 2.0]})
    with pytest.raises(ValueError, match="class weights"):
        loss(*loss.example_inputs())
