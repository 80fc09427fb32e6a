"""``sleepfm pretrain`` and ``sleepfm finetune staging|diagnosis`` end to end on synthetic cohorts,
with components swapped by config, one-line failures, and the run folder's contents."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from sleepfm.cli.app import main
from sleepfm.config import load_config
from sleepfm.config.base import RESOLVED_CONFIG_NAME
from sleepfm.errors import ConfigError

from .test_train_support import (
    install_tiny,
    write_embedding_cohort,
    write_outcomes,
    write_signal_cohort,
    write_stage_csv,
)


def staging_cohort(root: Path, n: int = 10) -> list[str]:
    rng = np.random.default_rng(5)
    ids = [f"night-{i:02d}" for i in range(n)]
    stages = {sid: np.repeat(rng.integers(0, 5, 20), 6) for sid in ids}
    for sid in ids:
        stages[sid][:6] = -1  # an unscored first epoch
    write_embedding_cohort(root / "emb", ids, n_chunks=2, stages=stages)
    (root / "labels").mkdir()
    for sid in ids:
        write_stage_csv(root / "labels" / f"{sid}.csv", stages[sid])
    return ids


def records(run: Path, split: str) -> list[dict]:
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["split"] == split]


def test_finetune_staging_learns_and_fills_the_run_folder(tmp_path: Path, make_plugin, capsys) -> None:
    install_tiny(make_plugin)
    staging_cohort(tmp_path)
    run = tmp_path / "run"
    code = main(["finetune", "staging", "--out", str(run), "--set", f"data.embeddings={tmp_path / 'emb'}",
                 "--set", f"data.labels={tmp_path / 'labels'}", "--set", "head.name=tiny-staging",
                 "--set", "trainer.epochs=6", "--set", "trainer.batch_size=2", "--set", "optimizer.lr=0.1",
                 "--set", "data.split.validation_fraction=0.2"])
    assert code == 0, capsys.readouterr().err
    assert "finetune-staging" in capsys.readouterr().out
    val = records(run, "validation")
    assert len(val) == 6 and val[-1]["accuracy"] > 0.8 and val[-1]["loss"] < val[0]["loss"]
    assert 0 < val[-1]["macro_f1"] <= 1
    best = json.loads((run / "best" / "best.json").read_text())
    assert best["loss"] == min(r["loss"] for r in val), "best is chosen by validation loss"
    head_config = json.loads((run / "best" / "config.json").read_text())
    assert head_config["name"] == "tiny-staging" and head_config["params"]["embed_dim"] == 16
    resolved = yaml.safe_load((run / RESOLVED_CONFIG_NAME).read_text())
    assert resolved["head"]["params"] == {"embed_dim": 16, "num_classes": 5}, "data-derived params recorded"
    split = json.loads((run / "split.json").read_text())
    assert len(split["train"]) == 7 and len(split["validation"]) == 2 and len(split["test"]) == 1
    assert split["train"][0].endswith(".h5") and not Path(split["train"][0]).is_absolute()
    summary = json.loads((run / "summary.json").read_text())
    assert summary["steps"] == 24 and summary["epochs"] == 6


def test_swapping_head_and_loss_is_a_config_change(tmp_path: Path, make_plugin) -> None:
    install_tiny(make_plugin)
    staging_cohort(tmp_path, n=6)
    run = tmp_path / "run"
    config = tmp_path / "swap.yaml"
    config.write_text(yaml.safe_dump({
        "workflow": "finetune-staging",
        "data": {"embeddings": str(tmp_path / "emb"), "labels": str(tmp_path / "labels")},
        "head": {"name": "other-staging"}, "loss": {"name": "focal", "params": {"gamma": 1.0}},
        "trainer": {"epochs": 1, "batch_size": 2}, "scheduler": {"name": "cosine", "interval": "step"},
    }))
    assert main(["finetune", "staging", "-c", str(config), "-o", str(run)]) == 0
    assert json.loads((run / "final" / "config.json").read_text())["name"] == "other-staging"
    assert yaml.safe_load((run / RESOLVED_CONFIG_NAME).read_text())["loss"]["name"] == "focal"


def test_a_loss_for_another_task_is_refused_before_training(tmp_path: Path, make_plugin, capsys) -> None:
    install_tiny(make_plugin)
    staging_cohort(tmp_path, n=4)
    code = main(["finetune", "staging", "-o", str(tmp_path / "run"), "--set", f"data.embeddings={tmp_path / 'emb'}",
                 "--set", f"data.labels={tmp_path / 'labels'}", "--set", "head.name=tiny-staging",
                 "--set", "loss.name=coxph", "--set", "loss.params={}"])
    err = capsys.readouterr().err
    assert code == 2 and "loss 'coxph' is a diagnosis component" in err
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_non_finite_loss_stops_with_one_line_naming_the_step(tmp_path: Path, make_plugin, capsys) -> None:
    install_tiny(make_plugin)
    staging_cohort(tmp_path, n=6)
    code = main(["finetune", "staging", "-o", str(tmp_path / "run"), "--set", f"data.embeddings={tmp_path / 'emb'}",
                 "--set", f"data.labels={tmp_path / 'labels'}", "--set", "head.name=tiny-staging",
                 "--set", "loss.name=nan-at-call", "--set", "loss.params={at_call: 3}",
                 "--set", "trainer.batch_size=1", "--set", "trainer.checkpoint_every=2",
                 "--set", "data.split.validation_fraction=0", "--set", "data.split.test_fraction=0"])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 1 and len(lines) == 1
    assert "loss is nan or inf at step 3 (epoch 1, batch 3 of 6)" in lines[0]
    assert "step-000002" in lines[0] and "--resume" in lines[0] and "Traceback" not in err
    assert records(tmp_path / "run", "train")[-1]["event"] == "non-finite loss"


def test_finetune_diagnosis_with_demographics(tmp_path: Path, make_plugin) -> None:
    install_tiny(make_plugin)
    ids = [f"p{i:02d}" for i in range(12)]
    write_embedding_cohort(tmp_path / "emb", ids)
    is_event, time_to_event, demographics = write_outcomes(tmp_path, ids[1:], n_outcomes=3)
    run = tmp_path / "run"
    assert main(["finetune", "diagnosis", "-o", str(run), "--set", f"data.embeddings={tmp_path / 'emb'}",
                 "--set", f"data.is_event={is_event}", "--set", f"data.time_to_event={time_to_event}",
                 "--set", f"data.demographics={demographics}", "--set", "head.name=tiny-cox",
                 "--set", "trainer.epochs=2", "--set", "trainer.batch_size=4",
                 "--set", "data.split.validation_fraction=0.25"]) == 0
    params = json.loads((run / "final" / "config.json").read_text())["params"]
    assert params["num_classes"] == 3 and params["num_covariates"] == 2
    split = json.loads((run / "split.json").read_text())
    assert sum(len(v) for v in split.values()) == 11, "the study without outcomes is left out"
    assert len(records(run, "validation")) == 2


def test_data_derived_parameter_conflict_is_explained(tmp_path: Path, make_plugin, capsys) -> None:
    install_tiny(make_plugin)
    ids = [f"p{i:02d}" for i in range(4)]
    write_embedding_cohort(tmp_path / "emb", ids)
    is_event, time_to_event, demographics = write_outcomes(tmp_path, ids, n_outcomes=3)
    code = main(["finetune", "diagnosis", "-o", str(tmp_path / "run"), "--set", f"data.embeddings={tmp_path / 'emb'}",
                 "--set", f"data.is_event={is_event}", "--set", f"data.time_to_event={time_to_event}",
                 "--set", f"data.demographics={demographics}", "--set", "head.name=tiny-cox",
                 "--set", "head.params={num_classes: 1065}"])
    assert code == 2 and "head.params.num_classes is 1065 but the data give 3" in capsys.readouterr().err


def test_pretrain_cli_then_resume_refusals(tmp_path: Path, make_plugin, capsys) -> None:
    install_tiny(make_plugin)
    write_signal_cohort(tmp_path / "signals", n_studies=5)
    run = tmp_path / "run"
    args = ["pretrain", "-o", str(run), "--set", f"data.signals={tmp_path / 'signals'}",
            "--set", "model.name=tiny-encoder", "--set", "trainer.batch_size=2", "--set", "trainer.epochs=1",
            "--set", "data.split.test_fraction=0", "--set", "data.split.validation_fraction=0.2"]
    assert main([*args, "--resume"]) == 2
    assert "--resume: no checkpoint" in capsys.readouterr().err
    assert main(args) == 0
    assert (run / "final" / "weights.safetensors").is_file() and (run / "best" / "best.json").is_file()
    assert main(args) == 2
    assert "already holds a training run" in capsys.readouterr().err
    assert main(["pretrain", "--resume", "-o", str(run), "--set", "trainer.epochs=2"]) == 0, "config from the run"
    assert json.loads((run / "summary.json").read_text())["epochs"] == 2


def test_missing_data_settings_are_one_line_errors(tmp_path: Path, make_plugin, capsys) -> None:
    install_tiny(make_plugin)
    assert main(["pretrain", "-o", str(tmp_path / "run"), "--set", "model.name=tiny-encoder"]) == 2
    assert "data.signals is not set" in capsys.readouterr().err
    assert main(["finetune", "staging", "--set", "data.embeddings=/nowhere", "--set", "head.name=tiny-staging"]) == 2
    assert "no output folder" in capsys.readouterr().err
    assert main(["finetune", "diagnosis", "-o", str(tmp_path / "r"), "--set", f"data.embeddings={tmp_path}",
                 "--set", "head.name=tiny-cox"]) == 1
    assert "no embedding files" in capsys.readouterr().err


@pytest.mark.parametrize(("bad", "message"), [
    ("scheduler.params={gama: 0.1}", "scheduler 'step' takes no parameter gama (it takes: gamma, step_size)"),
    ("trainer.accumulation_steps=0", "trainer.accumulation_steps: Input should be greater than 0"),
    ("trainer.tensorboard=maybe", "trainer.tensorboard.literal['auto']: Input should be 'auto'"),
])
def test_bad_trainer_settings_are_config_errors(bad: str, message: str, make_plugin) -> None:
    install_tiny(make_plugin)
    with pytest.raises(ConfigError) as info:
        load_config(None, workflow="pretrain", overrides=["model.name=tiny-encoder", bad])
    assert message in str(info.value)


def test_optional_loggers_and_amp_without_their_requirements(tmp_path: Path, make_plugin, caplog, capsys) -> None:
    install_tiny(make_plugin)
    staging_cohort(tmp_path, n=4)
    base = ["finetune", "staging", "--set", f"data.embeddings={tmp_path / 'emb'}",
            "--set", f"data.labels={tmp_path / 'labels'}", "--set", "head.name=tiny-staging",
            "--set", "trainer.epochs=1", "--set", "trainer.batch_size=2"]
    if importlib.util.find_spec("tensorboard") is None:
        assert main([*base, "-o", str(tmp_path / "tb"), "--set", "trainer.tensorboard=true"]) == 2
        assert "TensorBoard is not installed" in capsys.readouterr().err
    if importlib.util.find_spec("wandb") is None:
        assert main([*base, "-o", str(tmp_path / "wb"), "--set", "trainer.wandb_project=sleep"]) == 2
        assert "wandb is not installed" in capsys.readouterr().err
    with caplog.at_level("WARNING", logger="sleepfm"):
        assert main([*base, "-o", str(tmp_path / "amp"), "--set", "trainer.amp=true",
                     "--set", "trainer.num_workers=1"]) == 0
    assert "trainer.amp needs a CUDA device" in caplog.text
    assert (tmp_path / "amp" / "final" / "weights.safetensors").is_file()
