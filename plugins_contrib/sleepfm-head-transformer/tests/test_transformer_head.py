"""transformer-staging, tested installed: its call contract, and the acceptance test — naming it in
a fine-tuning config trains it and `sleepfm evaluate staging` scores it, with no code change."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from sleepfm import registry
from sleepfm.cli.app import main
from sleepfm.interfaces.modality import MODALITIES
from sleepfm.labels.csv_tables import write_epoch_csv
from sleepfm.labels.hypnogram import Hypnogram
from sleepfm.store.embedding_store import write_embeddings


def _head(**params):  # type: ignore[no-untyped-def]
    cls = registry.get("heads", "transformer-staging")
    return cls.from_config({**cls.test_config().model_dump(), **params}).eval()


def test_registered_through_its_distribution() -> None:
    entry = registry.entry("heads", "transformer-staging")
    assert entry.plugin.distribution == "sleepfm-head-transformer"
    assert entry.load().task == "staging" and not entry.load().uses_covariates


def test_staging_call_contract_on_ragged_nights() -> None:
    head = _head()
    x, mask = head.example_inputs(2)
    x, mask = x[:, :, :23], mask[:, :, :23]  # not a whole number of 30-s epochs
    with torch.no_grad():
        logits, step_mask = head(x, mask)
    assert logits.shape == (2, 23, 5) and logits.dtype == torch.float32
    assert step_mask.dtype == torch.bool and step_mask[1, 16:].all() and not step_mask[0].any()
    assert torch.isfinite(logits).all()


def test_padding_and_a_missing_modality_do_not_leak() -> None:
    head = _head()
    x, mask = head.example_inputs(1)
    with torch.no_grad():
        alone, _ = head(x, mask)
        # The same night padded to 36 steps with garbage behind a mask.
        padded_x = torch.cat([x, 50 * torch.randn(1, 4, 12, x.shape[-1])], dim=2)
        padded_mask = torch.cat([mask, torch.ones(1, 4, 12, dtype=torch.bool)], dim=2)
        longer, _ = head(padded_x, padded_mask)
        # An absent modality's values do not matter.
        masked = mask.clone()
        masked[:, 3] = True
        a, _ = head(x, masked)
        b, _ = head(x.clone().index_fill_(1, torch.tensor([3]), 99.0), masked)
    assert torch.allclose(alone, longer[:, :24], atol=1e-5)
    assert torch.allclose(a, b, atol=1e-5)


def test_a_night_with_nothing_real_gives_finite_masked_outputs() -> None:
    head = _head()
    x, mask = head.example_inputs(1)
    with torch.no_grad():
        logits, step_mask = head(x, torch.ones_like(mask))
    assert torch.isfinite(logits).all() and step_mask.all()


def test_bad_hyper_parameters_are_explained() -> None:
    with pytest.raises(ValueError, match="multiple of num_heads"):
        _head(d_model=30, num_heads=4)


def _cohort(root: Path, n: int = 12, epochs: int = 20, dim: int = 16) -> None:
    """Embedding stores whose BAS tokens carry the stage (learnable), and each night's hypnogram."""
    rng = np.random.default_rng(0)
    (root / "labels").mkdir(parents=True)
    for i in range(n):
        stages = rng.integers(0, 5, epochs)
        tokens = {m: rng.standard_normal((epochs * 6, dim)).astype(np.float32) for m in MODALITIES}
        tokens[MODALITIES[0]][:, :5] += 4 * np.eye(5)[np.repeat(stages, 6)]
        pooled = {m: t.reshape(-1, 60, dim).mean(1) for m, t in tokens.items()}
        write_embeddings(root / "emb" / f"night-{i:02d}.h5", tokens, pooled)
        write_epoch_csv(Hypnogram(stages), root / "labels" / f"night-{i:02d}.csv")


@pytest.mark.slow
def test_naming_it_in_a_config_trains_and_evaluates_with_no_code_change(tmp_path: Path, capsys) -> None:
    _cohort(tmp_path)
    config = tmp_path / "finetune-staging.yaml"
    config.write_text(yaml.safe_dump({
        "workflow": "finetune-staging",
        "data": {"embeddings": str(tmp_path / "emb"), "labels": str(tmp_path / "labels"),
                 "split": {"validation_fraction": 0.2, "test_fraction": 0.2}},
        "head": {"name": "transformer-staging",
                 "params": {"d_model": 32, "num_heads": 2, "num_layers": 1, "dim_feedforward": 64}},
        "optimizer": {"lr": 0.003},
        "trainer": {"epochs": 6, "batch_size": 4, "device": "cpu"},
    }))
    run = tmp_path / "run"
    assert main(["finetune", "staging", "--config", str(config), "--out", str(run)]) == 0, capsys.readouterr().err
    saved = json.loads((run / "best" / "config.json").read_text())
    assert saved["name"] == "transformer-staging" and saved["params"]["embed_dim"] == 16
    validation = [r for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())
                  if r["split"] == "validation"]
    assert validation[-1]["loss"] < validation[0]["loss"]

    scored = tmp_path / "eval"
    assert main(["evaluate", "staging", "--checkpoint", str(run / "best"), "--embeddings", str(tmp_path / "emb"),
                 "--labels", str(tmp_path / "labels"), "--out", str(scored), "--device", "cpu"]) == 0
    metrics = json.loads((scored / "staging_metrics.json").read_text())
    assert metrics["30s"]["accuracy"] > 0.6 and metrics["30s"]["macro_f1"] > 0.5
