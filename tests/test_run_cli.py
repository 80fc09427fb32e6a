"""``sleepfm run`` with the built-in ``cohort-edf`` adapter: a small clinic folder with a scored
night, an unscored night and a broken file; the report, the per-study outputs, resuming, and the
one-line refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from sleepfm.cli.app import main

from .helpers_clinical import COMPAT, LABELS, NIGHT, assert_refused, error_lines, write_night


@pytest.fixture
def clinic(tmp_path: Path) -> Path:
    data = tmp_path / "clinic"
    data.mkdir()
    write_night(data / "night1.edf", NIGHT, hypnogram=data / "night1-hypnogram.edf")
    write_night(data / "night2.edf", NIGHT[:10], seed=1)
    (data / "night2-hypnogram.csv").write_text("who,what\nme,this\n")  # not a hypnogram
    (data / "broken.edf").write_bytes(b"0       " + b"not an EDF header" * 20)
    (data / "demographics.csv").write_text("Study ID,age,sex\nnight1,54,F\nnight2,61,M\n")
    return data


@pytest.mark.slow
def test_run_reports_every_study_and_resumes(shared: Path, clinic: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    argv = ["run", "--plugin", "cohort-edf", "--data", str(clinic), "--out", str(out),
            "--checkpoints", str(shared / COMPAT), "--set", f"risk.labels={shared / LABELS}"]
    assert main(argv) == 1  # one study failed: said by the exit code, not fatal
    err = capsys.readouterr().err
    (line,) = error_lines(err)
    assert line.startswith("error: broken: preprocess failed:") and "Traceback" not in err

    report = json.loads((out / "report.json").read_text())
    assert report["summary"] == {"studies": 3, "completed": 2, "failed": 1, "with_hypnogram": 2, "evaluated": 1,
                                 "with_risk": 2, "quality": {"usable": 2, "degraded": 0, "unusable": 0},
                                 "foreign_data": 0}
    studies = {s["id"]: s for s in report["studies"]}
    night1, night2, broken = studies["night1"], studies["night2"], studies["broken"]
    assert broken["status"] == "failed" and broken["failed_step"] == "preprocess"
    assert night1["duration_s"] == 600.0 and night1["modalities"] == ["BAS", "RESP", "EKG", "EMG"]
    assert sum(night1["stage_counts"].values()) == 20 and sum(night2["stage_counts"].values()) == 10
    assert night2["agreement"] is None and night1["agreement"]["n_epochs"] == 20
    # An unreadable scored hypnogram is noted; the study is still staged.
    assert night2["status"] == "ok" and "scored hypnogram not used" in night2["notes"][0]
    assert report["overall"]["pooled"]["accuracy"] == pytest.approx(night1["agreement"]["accuracy"])
    predicted = pd.read_csv(out / night1["outputs"]["hypnogram"])["stage"].tolist()
    assert night1["stage_counts"] == {s: predicted.count(s) for s in ("W", "N1", "N2", "N3", "REM")}
    assert len(night1["risk_top"]) == 5 and (out / night2["outputs"]["risk"]).is_file()
    assert sorted(p.name for p in (out / "studies" / "night1").iterdir()) == [
        "night1.hypnogram.csv", "night1.png", "night1.risk.csv", "night1.risk.json", "night1.stats.json"]
    markdown = (out / "report.md").read_text()
    assert "| night1 | usable | 0.0 | 10.0 | BAS, RESP, EKG, EMG |" in markdown
    assert "studies/night1/night1.png" in markdown
    resolved = yaml.safe_load((out / "config.resolved.yaml").read_text())
    assert resolved["cohort"]["name"] == "cohort-edf" and resolved["workflow"] == "run"

    # Again: finished studies are kept whole (stores, staging, record), the broken one is tried and
    # reported again.
    first = {s["id"]: s for s in report["studies"]}
    assert main(argv) == 1
    again = {s["id"]: s for s in json.loads((out / "report.json").read_text())["studies"]}
    assert again["night1"]["reused"] == ["preprocess", "embed", "stage"] and again["broken"]["status"] == "failed"
    assert {k: v for k, v in again["night1"].items() if k != "reused"} == \
        {k: v for k, v in first["night1"].items() if k != "reused"}
    assert "2 of 3 studies finished by an earlier run with these settings: kept" in capsys.readouterr().err

    # Changed embedding settings are pointed out; the stores are still reused.
    assert main([*argv, "--set", "embed.batch_size=4"]) == 1
    warnings = [x for x in capsys.readouterr().err.splitlines() if x.startswith("warning:")]
    assert len(warnings) == 1 and "embed changed since" in warnings[0] and "overwrite=true" in warnings[0]


def test_refusals_are_one_line(shared: Path, clinic: Path, tmp_path: Path, capsys) -> None:
    from sleepfm.cohorts import available_cohorts

    compat = str(shared / COMPAT)
    # Whatever cohort plugins are installed, the message lists exactly those.
    cohorts = ", ".join(available_cohorts())
    empty = tmp_path / "empty"
    empty.mkdir()
    cases = [
        (["run", "--plugin", "cohort-nope", "--data", str(clinic), "--out", str(tmp_path / "o"), "--checkpoints",
          compat], 2, f"unknown cohort 'cohort-nope'; available cohorts: {cohorts} —"),
        (["run", "--data", str(clinic), "--out", str(clinic), "--checkpoints", compat], 2,
         "--out is the data folder"),
        (["run", "--data", str(empty), "--out", str(tmp_path / "o"), "--checkpoints", compat], 1,
         "no studies found by cohort 'cohort-edf'"),
        (["run", "--data", str(tmp_path / "absent"), "--out", str(tmp_path / "o"), "--checkpoints", compat], 1,
         "data folder not found"),
        (["run", "--data", str(clinic), "--out", str(tmp_path / "o"), "--checkpoints", str(tmp_path)], 1,
         "no model_base, model_sleep_staging"),
        (["run", "--data", str(clinic), "--out", str(tmp_path / "o"), "--checkpoints", compat, "--set",
          "staging.plot=false"], 2, "staging.plot: unknown key"),
        (["run", "--data", str(clinic), "--out", str(tmp_path / "o"), "--checkpoints", compat, "--set",
          "cohort.params.recursiv=true"], 2, "cohort.params.recursiv: unknown key"),
        (["run", "--data", str(clinic), "--out", str(tmp_path / "o")], 2, "no --checkpoints given"),
        (["run", "--data", str(clinic), "--out", str(tmp_path / "o"), "--checkpoints", compat, "--set",
          "risk.enabled=on", "--set", f"cohort.params.demographics={tmp_path / 'absent.csv'}"], 1,
         "risk.enabled is on, but"),
    ]
    assert_refused(main, cases, capsys)
    assert not (tmp_path / "o").exists()


def test_an_installed_cohort_plugin_is_listed_among_the_available(make_plugin, tmp_path: Path, capsys) -> None:
    # A lab's cohort package joins the list; nothing in the suite assumes which cohorts exist.
    from sleepfm import registry
    from sleepfm.cohorts import available_cohorts

    make_plugin("sleepfm-cohort-aaa", """
        from sleepfm.plugin import Cohort, hookimpl

        class Aaa(Cohort):
            \"\"\"A lab's cohort.\"\"\"
            def discover(self, root):
                return []

        @hookimpl
        def sleepfm_register_cohorts(register):
            register("cohort-aaa", Aaa)
    """)
    registry.reset_registry()
    assert "cohort-aaa" in available_cohorts()
    assert main(["run", "--plugin", "cohort-nope", "--data", str(tmp_path), "--out", str(tmp_path / "o"),
                 "--checkpoints", str(tmp_path)]) == 2
    (line,) = error_lines(capsys.readouterr().err)
    assert f"available cohorts: {', '.join(available_cohorts())} —" in line and "cohort-aaa, " in line


def test_run_takes_labels_like_risk(tmp_path: Path, capsys) -> None:
    # --labels is risk.labels; a run stopped early (no data) still shows it was taken.
    labels = tmp_path / "labels.csv"
    labels.write_text("label_idx,phecode,phenotype\n0,401.1,Essential hypertension\n")
    assert main(["run", "--labels", str(labels), "--data", str(tmp_path / "absent"), "--out", str(tmp_path / "o"),
                 "--checkpoints", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "data folder not found" in err and "No such option" not in err
    from sleepfm.config.run import resolve_run_config

    resolved = resolve_run_config(None, cli={"risk": {"labels": str(labels)}}, overrides=[])
    assert resolved.risk.labels == labels


def test_run_config_file_and_workflow_check(tmp_path: Path, capsys) -> None:
    config = tmp_path / "embed.yaml"
    config.write_text("workflow: embed\n")
    assert main(["run", "--config", str(config), "--data", str(tmp_path)]) == 2
    assert "this file is for 'embed', not 'run'" in capsys.readouterr().err


@pytest.mark.slow
def test_run_takes_the_quality_settings_and_says_when_they_change(shared: Path, tmp_path: Path, capsys) -> None:
    import h5py

    data = tmp_path / "one"
    write_night(data / "night1.edf", NIGHT[:12])
    out = tmp_path / "run"
    argv = ["run", "--data", str(data), "--out", str(out), "--checkpoints", str(shared / COMPAT), "--quiet",
            "--set", "risk.enabled=off", "--set", "staging.plots=false"]
    assert main([*argv, "--set", "quality.mode=off", "--set", "quality.checks=[]"]) == 0
    with h5py.File(out / "embeddings" / "night1.h5") as handle:
        assert handle.attrs["quality"] == "off"
    with h5py.File(out / "signals" / "night1.h5") as handle:
        assert "sleepfm_quality" not in handle  # no checks asked for, none kept
    state = json.loads((out / "run-state.json").read_text())
    assert state["quality"]["mode"] == "off" and state["preprocess"]["scale"] == "published"
    capsys.readouterr()
    # Other settings over the same stores: reused as they are, and the run says so.
    assert main(argv) == 0
    assert "quality changed since the stores" in capsys.readouterr().err
    # With overwrite the stores are made again, masked and checked as the defaults ask.
    assert main([*argv, "--set", "overwrite=true"]) == 0
    with h5py.File(out / "embeddings" / "night1.h5") as handle:
        assert handle.attrs["quality"] == "mask"
    with h5py.File(out / "signals" / "night1.h5") as handle:
        assert "sleepfm_quality" in handle
