"""`sleepfm evaluate staging|diagnosis` on saved predictions: files, resolved config, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from sleepfm.cli.app import main
from sleepfm.evaluate.diagnosis import write_outcome_table
from sleepfm.evaluate.predictions import (
    load_staging_predictions,
    read_risk_scores,
    save_staging_predictions,
    write_risk_scores,
)
from sleepfm.evaluate.staging import StudyPredictions


def staging_predictions(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    studies = []
    for i in range(3):
        labels = np.repeat(rng.integers(0, 5, 40), 6)
        guess = np.where(rng.random(labels.size) < 0.8, labels, rng.integers(0, 5, labels.size))
        probs = np.full((labels.size, 5), 0.05, np.float32)
        probs[np.arange(labels.size), guess] = 0.8
        valid = np.ones(labels.size, bool)
        valid[-3:] = False
        studies.append(StudyPredictions(f"night-{i}", probs, labels, valid))
    return save_staging_predictions(tmp_path / "pred" / "staging_predictions.npz", studies)


def test_staging_predictions_round_trip(tmp_path) -> None:
    path = staging_predictions(tmp_path)
    studies = load_staging_predictions(path.parent)
    assert [s.study_id for s in studies] == ["night-0", "night-1", "night-2"]
    assert studies[1].probabilities.shape == (240, 5) and not studies[2].valid[-1]


def test_evaluate_staging_from_saved_predictions(tmp_path, capsys) -> None:
    path = staging_predictions(tmp_path)
    out = tmp_path / "eval"
    assert main(["evaluate", "staging", "--predictions", str(path), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Sleep staging, 3 studies" in printed and "30s" in printed
    metrics = json.loads((out / "staging_metrics.json").read_text())
    assert metrics["n_studies"] == 3 and metrics["5s"]["n"] == 3 * (240 - 3)
    assert metrics["30s"]["accuracy"] > metrics["5s"]["accuracy"]
    resolved = yaml.safe_load((out / "config.resolved.yaml").read_text())
    assert resolved["task"] == "staging" and resolved["predictions"] == str(path)
    assert (out / "confusion_30s.png").is_file()
    assert sorted(p.name for p in (out / "hypnograms").iterdir()) == ["night-0.png", "night-1.png", "night-2.png"]


@pytest.fixture
def diagnosis_inputs(tmp_path: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(1)
    ids = [f"s{i:03d}" for i in range(80)]
    phecodes = ["427.21", "428.0", "999.9"]
    risk = rng.normal(size=(80, 3))
    time = rng.exponential(1000 * np.exp(-risk))
    censor = rng.uniform(300, 3000, (80, 3))
    event = (time < censor).astype(float)
    event[:, 2] = 0  # an outcome nobody had
    labels = tmp_path / "labels"
    write_outcome_table(labels / "is_event.csv", pd.DataFrame(event, index=ids, columns=phecodes))
    write_outcome_table(labels / "time_to_event.csv",
                        pd.DataFrame(np.minimum(time, censor).round(1), index=ids, columns=phecodes))
    pd.DataFrame({"label_idx": [448, 458, 9], "phecode": phecodes,
                  "phenotype": ["Atrial fibrillation", "Heart failure", "Nothing"]}).to_csv(
        labels / "mapping.csv", index=False)
    scores = write_risk_scores(tmp_path / "risk_scores.csv",
                               pd.DataFrame(risk + rng.normal(scale=0.5, size=risk.shape), index=ids, columns=phecodes))
    return labels, scores


def test_evaluate_diagnosis_from_saved_risk_scores(tmp_path, diagnosis_inputs, capsys) -> None:
    labels, scores = diagnosis_inputs
    assert read_risk_scores(scores).shape == (80, 3)
    out = tmp_path / "eval"
    code = main(["evaluate", "diagnosis", "--predictions", str(scores), "--labels", str(labels), "--bootstrap", "200",
                 "--label-mapping", str(labels / "mapping.csv"), "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "427.21" in printed and "2/3 outcomes" in printed
    table = pd.read_csv(out / "diagnosis_metrics.csv", dtype={"phecode": str}).set_index("phecode")
    assert table.loc["427.21", "harrell_c"] > 0.6 and table.loc["427.21", "harrell_ci_low"] > 0.5
    assert table.loc["999.9", "harrell_status"] == "no events"
    assert table.loc["428.0", "uno_status"] == "no training labels"  # no split file given
    summary = json.loads((out / "diagnosis_metrics.json").read_text())
    assert summary["bootstrap_samples"] == 200 and summary["n_evaluated"] == 2


def test_python_api_matches_the_command(tmp_path, diagnosis_inputs) -> None:
    import sleepfm

    labels, scores = diagnosis_inputs
    run = sleepfm.evaluate_diagnosis(predictions=scores, out=tmp_path / "api", bootstrap={"samples": 200},
                                     diagnosis={"is_event": labels / "is_event.csv",
                                                "time_to_event": labels / "time_to_event.csv"})
    assert main(["evaluate", "diagnosis", "--predictions", str(scores), "--labels", str(labels), "--bootstrap", "200",
                 "--out", str(tmp_path / "cli")]) == 0
    cli = pd.read_csv(tmp_path / "cli" / "diagnosis_metrics.csv", dtype={"phecode": str})
    pd.testing.assert_series_equal(run.evaluation.table["harrell_ci_low"], cli["harrell_ci_low"])
    assert (tmp_path / "api" / "diagnosis_metrics.json").is_file()


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_errors_are_one_line(tmp_path, diagnosis_inputs, capsys) -> None:
    _, scores = diagnosis_inputs
    assert main(["evaluate", "staging", "--predictions", str(scores)]) == 2
    assert "no output folder" in one_error_line(capsys)
    assert main(["evaluate", "staging", "--out", str(tmp_path / "o")]) == 2
    assert "nothing to evaluate" in one_error_line(capsys)
    assert main(["evaluate", "staging", "--predictions", str(scores), "--out", str(tmp_path / "o")]) == 1
    assert "not a readable .npz" in one_error_line(capsys)
    assert main(["evaluate", "diagnosis", "--predictions", str(scores), "--out", str(tmp_path / "o")]) == 2
    assert "outcome tables" in one_error_line(capsys)
    config = tmp_path / "c.yaml"
    config.write_text("workflow: evaluate\ntask: diagnosis\n")
    assert main(["evaluate", "staging", "--config", str(config), "--predictions", str(scores),
                 "--out", str(tmp_path / "o")]) == 2
    assert "this file is for evaluate diagnosis" in one_error_line(capsys)
    assert not (tmp_path / "o").exists()  # failures write nothing


def test_published_pickles_are_scored_and_nothing_else_is_unpickled(tmp_path, capsys) -> None:
    import os
    import pickle

    studies = load_staging_predictions(staging_predictions(tmp_path))
    folder = tmp_path / "published" / "test"
    folder.mkdir(parents=True)
    # The published script saves one list entry per batch: here batches of 2 and 1 studies.
    batches = [studies[:2], studies[2:]]
    for name, get in (("all_outputs", lambda s: s.probabilities), ("all_targets", lambda s: s.labels.astype(float)),
                      ("all_masks", lambda s: (~s.valid).astype(float))):
        with open(folder / f"{name}.pickle", "wb") as handle:
            pickle.dump([np.stack([get(s) for s in batch]) for batch in batches], handle)
    with open(folder / "all_paths.pickle", "wb") as handle:
        pickle.dump([[f"/data/mesa/{s.study_id}.hdf5" for s in batch] for batch in batches], handle)
    assert main(["evaluate", "staging", "--predictions", str(folder), "--out", str(tmp_path / "a")]) == 0
    assert main(["evaluate", "staging", "--predictions", str(tmp_path / "pred"), "--out", str(tmp_path / "b")]) == 0
    a, b = (json.loads((tmp_path / x / "staging_metrics.json").read_text()) for x in "ab")
    assert a == b

    class Exploit:
        def __reduce__(self):
            return (os.system, ("touch " + str(tmp_path / "pwned"),))

    with open(folder / "all_outputs.pickle", "wb") as handle:
        pickle.dump(Exploit(), handle)
    capsys.readouterr()
    assert main(["evaluate", "staging", "--predictions", str(folder), "--out", str(tmp_path / "c")]) == 1
    assert "refused or unreadable pickle" in one_error_line(capsys)
    assert not (tmp_path / "pwned").exists()


def test_tables_keep_their_headers_at_80_columns(tmp_path, diagnosis_inputs, monkeypatch) -> None:
    # A pipe or an 80-column terminal: no header is cut ("macr…") and every metric is shown.
    import io

    from rich.console import Console

    from sleepfm.cli import console

    for argv, headers in [
        (["evaluate", "staging", "--predictions", str(staging_predictions(tmp_path)), "--out", str(tmp_path / "s")],
         ["metric", "5s", "30s", "accuracy", "macro-F1", "Cohen's kappa", "F1 Wake", "F1 REM"]),
        (["evaluate", "diagnosis", "--predictions", str(diagnosis_inputs[1]), "--labels", str(diagnosis_inputs[0]),
          "--label-mapping", str(diagnosis_inputs[0] / "mapping.csv"), "--bootstrap", "0",
          "--out", str(tmp_path / "d")],
         ["phecode", "phenotype", "events", "Harrell's C (95% CI)", "Uno's C", "status"]),
    ]:
        buffer = io.StringIO()
        monkeypatch.setattr(console, "out", Console(file=buffer, width=80, soft_wrap=True))
        assert main(argv) == 0
        printed = buffer.getvalue()
        assert all(header in printed for header in headers), printed
        table = [line for line in printed.splitlines() if str(tmp_path) not in line]  # paths may be long
        assert max(len(line) for line in table) <= 80 and not any("…" in line for line in table[:4]), printed
