"""The real registered components through the training commands: pretrain the set-transformer,
embed with the result, fine-tune the published staging and disease heads, swap heads by config."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import sleepfm
from sleepfm.cli.app import main

from .test_train_support import write_outcomes, write_signal_cohort, write_stage_csv

SMALL_MODEL = ("model.params={patch_size: 640, embed_dim: 16, num_heads: 2, num_layers: 1, dim_feedforward: 32, "
               "max_seq_length: 60, dropout: 0.1, tokenizer: {name: cnn-patch, params: {channels: [4, 8, 16]}}, "
               "channel_pooler: {name: attention, params: {num_heads: 2, dim_feedforward: 32}}, "
               "temporal_pooler: {name: attention, params: {num_heads: 2, dim_feedforward: 32}}}")
SMALL_HEAD = "head.params={num_heads: 2, pooling_head: 2, dim_feedforward: 32, max_seq_length: 256}"


def sets(*items: str) -> list[str]:
    return [arg for item in items for arg in ("--set", item)]


@pytest.mark.slow
def test_pretrain_embed_and_finetune_with_the_real_components(tmp_path: Path) -> None:
    ids = [f"study-{i:03d}" for i in range(6)]
    write_signal_cohort(tmp_path / "signals", n_studies=6, n_chunks=2)
    pretrain = tmp_path / "pretrain"
    assert main(["pretrain", "--out", str(pretrain), *sets(
        f"data.signals={tmp_path / 'signals'}", SMALL_MODEL, "trainer.batch_size=2", "trainer.epochs=1",
        "data.split.validation_fraction=0.2", "data.split.test_fraction=0", "trainer.num_workers=0")]) == 0
    saved = json.loads((pretrain / "final" / "config.json").read_text())
    assert saved["name"] == "set-transformer" and saved["signal"] == {"sampling_rate": 128.0, "chunk_seconds": 300.0}
    base = sleepfm.load_model(pretrain / "best")
    x = torch.randn(1, 2, 38400)
    pooled, sequence = base(x, torch.zeros(1, 2, dtype=torch.bool))
    assert pooled.shape == (1, 16) and sequence.shape == (1, 60, 16)

    assert main(["embed", str(tmp_path / "signals"), "--checkpoint", str(pretrain / "final"),
                 "--out", str(tmp_path / "emb")]) == 0
    rng = np.random.default_rng(0)
    (tmp_path / "labels").mkdir()
    for sid in ids:
        write_stage_csv(tmp_path / "labels" / f"{sid}.csv", np.repeat(rng.integers(-1, 5, 20), 6))
    staging = tmp_path / "staging"
    assert main(["finetune", "staging", "--out", str(staging), *sets(
        f"data.embeddings={tmp_path / 'emb'}", f"data.labels={tmp_path / 'labels'}", SMALL_HEAD,
        "trainer.batch_size=2", "trainer.epochs=1", "data.split.validation_fraction=0.2")]) == 0
    head = sleepfm.load_model(staging / "best")
    logits, temporal_mask = head(torch.randn(1, 4, 120, 16), torch.zeros(1, 4, 120, dtype=torch.bool))
    assert logits.shape == (1, 120, 5) and not temporal_mask.any()

    is_event, time_to_event, demographics = write_outcomes(tmp_path, ids, n_outcomes=4)
    for name, extra in (("coxph-demo", [f"data.demographics={demographics}"]), ("coxph", [])):
        run = tmp_path / name
        assert main(["finetune", "diagnosis", "--out", str(run), *sets(
            f"data.embeddings={tmp_path / 'emb'}", f"data.is_event={is_event}", f"data.time_to_event={time_to_event}",
            f"head.name={name}", SMALL_HEAD, "trainer.batch_size=2", "trainer.epochs=1",
            "data.split.validation_fraction=0.2", *extra)]) == 0
        saved = json.loads((run / "final" / "config.json").read_text())
        assert saved["name"] == name and saved["params"]["num_classes"] == 4 and saved["params"]["embed_dim"] == 16
