"""`sleepfm demo --size test`: the whole pipeline on synthetic nights, end to end, in the suite."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sleepfm.cli.app import main
from sleepfm.demo.sizes import SIZES

pytestmark = pytest.mark.slow


def test_demo_runs_end_to_end_and_reports_the_figures(tmp_path) -> None:
    # A fresh process, as a user runs it: the demo's thread settings apply before torch loads.
    out = tmp_path / "run"
    result = subprocess.run([sys.executable, "-m", "sleepfm", "demo", "--out", str(out), "--size", "test"],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Held-out synthetic nights" in result.stdout
    assert f"report → {out / 'report.json'}" in result.stdout  # the run ends by saying where its outputs are

    report = json.loads((out / "report.json").read_text())
    test = SIZES["test"]
    # Five stages: chance macro-F1 is about 0.2 and a C-index of 0.5 is chance.
    assert report["staging"]["macro_f1"] >= test.min_macro_f1 > 0.2
    assert report["staging"]["kappa"] > 0.2
    assert report["diagnosis"]["c_index"] >= test.min_c_index
    assert set(report["diagnosis"]["baselines"]) == {"age_only", "planted_trait"}
    assert set(report["timings_seconds"]) >= {"synthesize", "preprocess", "pretrain", "embed", "finetune_staging",
                                              "evaluate_staging", "finetune_diagnosis", "evaluate_diagnosis", "total"}

    split = json.loads((out / "split.json").read_text())
    participants = dict(line.split(",") for line in (out / "cohort" / "participants.csv").read_text().split()[1:])
    held_out = {participants[Path(p).stem] for p in split["test"]}
    trained = {participants[Path(p).stem] for name in ("train", "validation") for p in split[name]}
    assert held_out and not held_out & trained  # split by participant

    assert "evaluation/staging/confusion_5s.png" in report["plots"]
    assert any(p.startswith("evaluation/staging/hypnograms/") for p in report["plots"])
    for path in report["plots"]:
        assert (out / path).read_bytes()[:4] == b"\x89PNG"
    assert (out / "evaluation" / "diagnosis" / "diagnosis_metrics.csv").is_file()
    assert (out / "evaluation" / "staging" / "config.resolved.yaml").is_file()


def test_demo_refuses_a_folder_it_did_not_write(tmp_path, capsys) -> None:
    (tmp_path / "thesis.tex").write_text("precious")
    assert main(["demo", "--out", str(tmp_path), "--size", "test"]) == 2
    assert "did not write" in capsys.readouterr().err
    assert (tmp_path / "thesis.tex").read_text() == "precious"
    assert main(["demo", "--out", str(tmp_path / "x"), "--size", "huge"]) == 2
