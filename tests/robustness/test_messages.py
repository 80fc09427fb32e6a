"""Clear lines instead of "unexpected … report it" (issue class 7): non-finite onsets, deep
nesting, unknown components named with --set, folders without recordings, and outputs as
readable as the signal stores."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from sleepfm.read.edf_writer import synthetic_recording

from .harness import assert_clean_failure, assert_success, run_inprocess

CHANNELS = {"C3-M2": 128.0, "EKG": 128.0, "Chin": 64.0}


def _stages_xml(start: str, duration: str = "30") -> str:
    return ("<PSGAnnotation><EpochLength>30</EpochLength><ScoredEvents><ScoredEvent>"
            "<EventType>Stages|Stages</EventType><EventConcept>Wake|0</EventConcept>"
            f"<Start>{start}</Start><Duration>{duration}</Duration></ScoredEvent></ScoredEvents></PSGAnnotation>")


HYPNOGRAMS = {
    "epoch-onset-inf.csv": "onset,duration,stage\n0,30,W\ninf,30,N1\n",
    "epoch-onset-minus-inf.csv": "onset,duration,stage\n-inf,30,W\n30,30,N1\n",
    "epoch-duration-inf.csv": "onset,duration,stage\n0,inf,W\n",
    "epoch-onset-nan.csv": "onset,duration,stage\n0,30,W\nNaN,30,N1\n",
    "published-start-inf.csv": "Start,Stop,StageName,StageNumber\n0,5,Wake,0\ninf,inf,Wake,0\n",
    "published-start-nan.csv": "Start,Stop,StageName,StageNumber\n0,5,Wake,0\nnan,5,Wake,0\n",
    "nsrr-start-inf.xml": _stages_xml("inf"),
    "nsrr-start-minus-inf.xml": _stages_xml("-inf"),
    "nsrr-start-nan.xml": _stages_xml("NaN"),
    "nsrr-duration-nan.xml": _stages_xml("0", "nan"),
}


@pytest.mark.parametrize("name", list(HYPNOGRAMS))
def test_non_finite_onsets_and_durations(name: str, tmp_path: Path) -> None:
    source = tmp_path / name
    source.write_text(HYPNOGRAMS[name])
    outcome = run_inprocess(["hypnogram", source, "--out", tmp_path / "out" / "epochs.csv"])
    assert_clean_failure(outcome, contains=[name], outputs=[tmp_path / "out"])
    assert "not a finite number" in outcome.error_lines[0] or "not a number" in outcome.error_lines[0]
    assert not (tmp_path / "out" / "epochs.csv").exists()


def test_deeply_nested_yaml_config(tmp_path: Path) -> None:
    deep = tmp_path / "deep.yaml"
    deep.write_text("workflow: embed\nbatch_size: " + "[" * 20_000 + "]" * 20_000 + "\n")
    outcome = run_inprocess(["config", "validate", deep])
    assert_clean_failure(outcome, contains=["deep.yaml", "nested"], code=2)


def test_deeply_nested_json_channel_map(good_store: Path, small_model: Path, tmp_path: Path) -> None:
    table = tmp_path / "groups.json"
    table.write_text("[" * 100_000 + "]" * 100_000)
    outcome = run_inprocess(["embed", good_store, "--checkpoint", small_model, "--out", tmp_path / "emb",
                             "--channel-map", table])
    assert_clean_failure(outcome, contains=["groups.json", "nested"], outputs=[tmp_path / "emb"])


@pytest.mark.parametrize("command,override", [
    ("preprocess", "channel_mapper=nope"),
    ("preprocess", "reader=nope"),
    ("embed", "channel_mapper=nope"),
    ("run", "preprocess.channel_mapper=nope"),
    ("run", "preprocess.reader=nope"),
])
def test_an_unknown_component_given_with_set_is_a_usage_error(command: str, override: str, tmp_path: Path,
                                                              small_model: Path) -> None:
    recording = synthetic_recording(tmp_path / "in" / "night.edf", 10, CHANNELS)
    args = {
        "preprocess": ["preprocess", recording, "--out", tmp_path / "out"],
        "embed": ["embed", tmp_path / "in", "--checkpoint", small_model, "--out", tmp_path / "out"],
        "run": ["run", "--data", tmp_path / "in", "--out", tmp_path / "out", "--checkpoints", small_model.parent],
    }[command]
    outcome = run_inprocess([*args, "--set", override])
    assert_clean_failure(outcome, contains=["nope", override.partition("=")[0]], code=2)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.h5"))


@pytest.mark.parametrize("command", ["preprocess", "embed"])
def test_a_folder_with_no_recordings(command: str, tmp_path: Path, small_model: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("nothing to see")
    extra = ["--checkpoint", small_model] if command == "embed" else []
    outcome = run_inprocess([command, empty, "--out", tmp_path / "out", *extra])
    assert_clean_failure(outcome, contains=["empty"])


@pytest.mark.shared
def test_outputs_are_as_readable_as_the_signal_stores(psg: Path, tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        converted = run_inprocess(["preprocess", psg / "sleep-edf" / "SC4001E0-PSG_first300s.edf",
                                   "--out", tmp_path / "signals"])
        written = run_inprocess(["hypnogram", psg / "hmc" / "SN001_sleepscoring.edf", "--out",
                                 tmp_path / "hypnogram.csv", "--stats", tmp_path / "stats.json",
                                 "--events", tmp_path / "events.csv"])
    finally:
        os.umask(previous)
    assert_success(converted)
    assert_success(written)
    store = stat.S_IMODE((tmp_path / "signals" / "SC4001E0-PSG_first300s.h5").stat().st_mode)
    assert store == 0o644
    for path in [*(tmp_path / "signals").iterdir(), tmp_path / "hypnogram.csv", tmp_path / "stats.json",
                 tmp_path / "events.csv"]:
        assert stat.S_IMODE(path.stat().st_mode) == store, path


def test_numpy_runtime_warnings_never_reach_the_terminal(make_plugin, tmp_path: Path) -> None:
    # Whatever line of code divides by zero, the user sees outcomes, not numpy's complaint.
    make_plugin("sleepfm-divide", """
        import numpy as np
        from sleepfm import hookimpl

        @hookimpl
        def sleepfm_register_commands(app):
            @app.command("divide")
            def divide():
                '''Divide by zero.'''
                print(float(np.float64(1.0) / np.float64(0.0)), float(np.mean(np.array([]))))
        """)
    outcome = run_inprocess(["divide"])
    assert_success(outcome)
    assert outcome.stdout.split() == ["inf", "nan"] and outcome.stderr == ""
    debug = run_inprocess(["--debug", "divide"])
    assert "RuntimeWarning" in debug.stderr  # still there for whoever asks

