"""`sleepfm evaluate` running real heads: a training run folder, a bare model folder, wrong-task refusal."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sleepfm.cli.app import main
from sleepfm.config import load_config
from sleepfm.demo.synth import write_hypnogram_csv
from sleepfm.evaluate.diagnosis import write_outcome_table
from sleepfm.interfaces.modality import MODALITIES
from sleepfm.store.embedding_store import write_embeddings
from sleepfm.train.run import run_training
from sleepfm.train.splits import write_split_file

pytestmark = pytest.mark.slow

EMBED = 16
STUDIES = [f"night-{i}" for i in range(8)]
SPLIT = {"train": STUDIES[:5], "validation": STUDIES[5:6], "test": STUDIES[6:]}
HEAD = {"num_heads": 2, "pooling_head": 2, "dim_feedforward": 32, "dropout": 0.0, "max_seq_length": 200}


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Embeddings whose first five dimensions say the stage, hypnograms, outcomes tied to a trait."""
    root = tmp_path_factory.mktemp("evaluate-data")
    rng = np.random.default_rng(0)
    trait = {}
    for study in STUDIES:
        stages = np.repeat(rng.permutation(5), 4)  # 20 epochs of 30 s = 120 tokens = 2 chunks
        tokens = np.repeat(stages, 6)
        trait[study] = rng.normal()
        embedding = rng.normal(0, 0.3, (tokens.size, EMBED)).astype(np.float32)
        embedding[np.arange(tokens.size), tokens] += 2.0
        embedding[:, 5] += trait[study]
        write_embeddings(root / "embeddings" / f"{study}.h5", {m: embedding for m in MODALITIES},
                         {m: embedding.reshape(2, 60, EMBED).mean(1) for m in MODALITIES})
        write_hypnogram_csv(root / "hypnograms" / f"{study}.csv", stages)
    risk = np.array([trait[s] for s in STUDIES])
    time = np.round(rng.exponential(1000 * np.exp(-risk)), 1)
    event = (time < 1500).astype(float)
    phecodes = ["427.21", "death"]
    write_outcome_table(root / "labels" / "is_event.csv", pd.DataFrame({p: event for p in phecodes}, index=STUDIES))
    write_outcome_table(root / "labels" / "time_to_event.csv",
                        pd.DataFrame({p: np.minimum(time, 1500) for p in phecodes}, index=STUDIES))
    write_outcome_table(root / "labels" / "demographics.csv",
                        pd.DataFrame({"age": rng.uniform(0.3, 0.8, 8), "gender": rng.integers(0, 2, 8)},
                                     index=STUDIES))
    write_split_file(root / "split.json", {k: [f"{s}.h5" for s in v] for k, v in SPLIT.items()})
    return root


def train(workflow: str, run: Path, data: Path) -> Path:
    common = [f"data.embeddings={data / 'embeddings'}", f"data.split.file={data / 'split.json'}",
              "trainer.epochs=2", "trainer.batch_size=2", "trainer.device=cpu",
              *(f"head.params.{k}={v}" for k, v in HEAD.items())]
    if workflow == "finetune-staging":
        extra = [f"data.labels={data / 'hypnograms'}"]
    else:
        extra = [f"data.is_event={data / 'labels' / 'is_event.csv'}", "head.params.num_layers=1",
                 f"data.time_to_event={data / 'labels' / 'time_to_event.csv'}",
                 f"data.demographics={data / 'labels' / 'demographics.csv'}"]
    run_training(load_config(None, workflow=workflow, cli={"out": run}, overrides=common + extra))
    return run


def test_staging_from_a_training_run_scores_its_own_test_split(tmp_path, data) -> None:
    run = train("finetune-staging", tmp_path / "run", data)
    out = tmp_path / "eval"
    assert main(["evaluate", "staging", "--checkpoint", str(run), "--out", str(out), "--device", "cpu"]) == 0
    metrics = json.loads((out / "staging_metrics.json").read_text())
    assert metrics["n_studies"] == 2 and metrics["5s"]["n"] == 2 * 120 and metrics["30s"]["n"] == 2 * 20
    per_study = pd.read_csv(out / "staging_per_study.csv")
    assert per_study["study_id"].tolist() == SPLIT["test"]
    assert sorted(p.stem for p in (out / "hypnograms").iterdir()) == SPLIT["test"]

    # The bare model folder with explicit data and split gives the same numbers.
    again = tmp_path / "again"
    assert main(["evaluate", "staging", "--checkpoint", str(run / "best"), "--embeddings", str(data / "embeddings"),
                 "--labels", str(data / "hypnograms"), "--split-file", str(data / "split.json"),
                 "--out", str(again), "--device", "cpu"]) == 0
    assert json.loads((again / "staging_metrics.json").read_text()) == metrics

    # And the saved predictions re-score to the same numbers without the model.
    rescored = tmp_path / "rescored"
    assert main(["evaluate", "staging", "--predictions", str(out / "staging_predictions.npz"),
                 "--out", str(rescored)]) == 0
    assert json.loads((rescored / "staging_metrics.json").read_text()) == metrics


def test_diagnosis_from_a_training_run_with_uno_from_its_train_split(tmp_path, data, capsys) -> None:
    run = train("finetune-diagnosis", tmp_path / "run", data)
    out = tmp_path / "eval"
    assert main(["evaluate", "diagnosis", "--checkpoint", str(run), "--out", str(out), "--bootstrap", "50",
                 "--device", "cpu", "--split", "train"]) == 0
    table = pd.read_csv(out / "diagnosis_metrics.csv", dtype={"phecode": str})
    assert table["phecode"].tolist() == ["427.21", "death"] and (table["n"] == 5).all()
    assert set(table["uno_status"]) == {"ok"}  # the run's split.json gave the training split
    risk = pd.read_csv(out / "risk_scores.csv")
    assert risk["Study ID"].tolist() == SPLIT["train"]

    capsys.readouterr()
    assert main(["evaluate", "staging", "--checkpoint", str(run), "--out", str(tmp_path / "x"),
                 "--device", "cpu"]) == 1
    err = capsys.readouterr().err
    assert "this is a diagnosis head, not a staging head" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()
