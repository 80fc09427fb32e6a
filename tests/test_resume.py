"""``--resume``: a run stopped part-way and resumed ends where an uninterrupted run does."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from sleepfm.config import load_config
from sleepfm.train.checkpoint import list_checkpoints
from sleepfm.train.run import run_training

from .test_train_support import (
    FEW_CHANNELS,
    write_embedding_cohort,
    write_signal_cohort,
    write_stage_csv,
)

TINY_SET_TRANSFORMER = (
    "model.params={patch_size: 640, embed_dim: 8, num_heads: 2, num_layers: 1, dim_feedforward: 16, "
    "max_seq_length: 60, dropout: 0.2, tokenizer: {name: cnn-patch, params: {channels: [4, 8]}}, "
    "channel_pooler: {name: attention, params: {num_heads: 2, dim_feedforward: 16}}, "
    "temporal_pooler: {name: attention, params: {num_heads: 2, dim_feedforward: 16}}}")


class Killed(Exception):
    """Stands in for the process dying: nothing is saved on the way out."""


def stop_at(step: int, error: type[BaseException] = Killed):
    def on_step(current: int) -> None:
        if current == step:
            raise error()
    return on_step


def weights(run: Path, folder: str = "final") -> dict[str, torch.Tensor]:
    return load_file(str(run / folder / "weights.safetensors"))


def train_losses(run: Path) -> dict[int, float]:
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return {r["step"]: r["loss"] for r in map(json.loads, lines) if r["split"] == "train"}


def assert_same_run(straight: Path, resumed: Path) -> None:
    for folder in ("final", "best"):
        a, b = weights(straight, folder), weights(resumed, folder)
        assert a.keys() == b.keys()
        for key in a:
            torch.testing.assert_close(a[key], b[key], rtol=0, atol=1e-6, msg=f"{folder}: {key}")
    assert train_losses(straight) == pytest.approx(train_losses(resumed), rel=1e-6)
    summary = [json.loads((run / "summary.json").read_text()) for run in (straight, resumed)]
    assert summary[0]["steps"] == summary[1]["steps"] and summary[0]["best_step"] == summary[1]["best_step"]
    assert summary[0]["best_validation_loss"] == pytest.approx(summary[1]["best_validation_loss"], rel=1e-6)


def pretrain_config(tmp_path: Path, run: str):
    return load_config(None, workflow="pretrain", overrides=[
        f"data.signals={tmp_path / 'signals'}", f"out={tmp_path / run}", TINY_SET_TRANSFORMER,
        "trainer.batch_size=2", "trainer.epochs=2", "trainer.accumulation_steps=2",
        "trainer.eval_every=1", "trainer.checkpoint_every=1", "trainer.log_every=1",
        "scheduler.name=cosine", "scheduler.interval=step", "optimizer.lr=0.05",
        "data.split.validation_fraction=0.25", "data.split.test_fraction=0"])


@pytest.mark.slow
def test_pretraining_killed_and_resumed_equals_uninterrupted(tmp_path: Path) -> None:
    # The real set-transformer (small): dropout, BatchNorm statistics and attention all resume.
    write_signal_cohort(tmp_path / "signals", n_studies=4, channels=FEW_CHANNELS)
    straight = run_training(pretrain_config(tmp_path, "straight"))
    assert straight["steps"] == 4, "3 micro-batches per epoch, groups of 2: 2 steps per epoch"
    # Killed after the epoch's short last group: the last checkpoint is mid-epoch (step 1).
    with pytest.raises(Killed):
        run_training(pretrain_config(tmp_path, "resumed"), on_step=stop_at(2))
    assert [p.name for p in list_checkpoints(tmp_path / "resumed")] == ["step-000001"]
    resumed = run_training(pretrain_config(tmp_path, "resumed"), resume=True)
    assert resumed["steps"] == 4
    assert_same_run(tmp_path / "straight", tmp_path / "resumed")


def staging_config(tmp_path: Path, run: str):
    return load_config(None, workflow="finetune-staging", overrides=[
        f"data.embeddings={tmp_path / 'emb'}", f"data.labels={tmp_path / 'labels'}", f"out={tmp_path / run}",
        "head.name=lstm-staging", "head.params={num_heads: 2, pooling_head: 2, dim_feedforward: 32, dropout: 0.5}",
        "trainer.batch_size=2", "trainer.epochs=4",
        "trainer.checkpoint_every=3", "trainer.eval_every=2",
        "scheduler.params={patience: 0, factor: 0.5, threshold: 0.5}",
        "optimizer.lr=0.05", "data.split.validation_fraction=0.25", "data.split.test_fraction=0"])


@pytest.mark.slow
@pytest.mark.parametrize("interruption", [Killed, KeyboardInterrupt])
def test_staging_stopped_and_resumed_equals_uninterrupted(tmp_path: Path, interruption) -> None:
    rng = np.random.default_rng(1)
    ids = [f"n{i}" for i in range(8)]
    stages = {sid: rng.integers(-1, 5, 60) for sid in ids}
    write_embedding_cohort(tmp_path / "emb", ids, stages=stages)
    (tmp_path / "labels").mkdir()
    for sid in ids:
        write_stage_csv(tmp_path / "labels" / f"{sid}.csv", stages[sid])
    run_training(staging_config(tmp_path, "straight"))
    with pytest.raises(interruption):
        run_training(staging_config(tmp_path, "resumed"), on_step=stop_at(8, interruption))
    saved = [p.name for p in list_checkpoints(tmp_path / "resumed")]
    # Killed: the periodic checkpoint of step 6 is the last; Ctrl-C saves step 8 on the way out.
    assert saved[-1] == ("step-000006" if interruption is Killed else "step-000008")
    run_training(staging_config(tmp_path, "resumed"), resume=True)
    assert_same_run(tmp_path / "straight", tmp_path / "resumed")
    lrs = [json.loads(line)["lr"] for line in (tmp_path / "straight" / "metrics.jsonl").read_text().splitlines()
           if json.loads(line)["split"] == "train_epoch"]
    assert min(lrs) < 0.05, "the plateau schedule acted, and was restored on resume"
