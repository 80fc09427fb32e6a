"""Bounded resources (issue class 3): a declared size is checked against what the file holds and
against sane limits before memory or disk is spent on it. Each case runs the real command line
in a subprocess under the harness's address-space and time ceilings."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from sleepfm.read.edf_writer import set_header_field, synthetic_recording

from .harness import assert_clean_failure, memory_ceiling, run_inprocess, run_sleepfm

pytestmark = pytest.mark.slow  # each case starts a fresh interpreter (a few seconds)

CHANNELS = {"C3-M2": 128.0, "EKG": 128.0, "Chin": 64.0}
#: What a refused case may take: far below the ceilings, which only catch runaways.
QUICK_S = 60.0


def test_an_edf_plus_d_gap_of_a_day_and_more(tmp_path: Path) -> None:
    # 20 s recorded, then a gap of 10^5 s: was a 590-s hang, 1.6 GB and a 2-GB temporary.
    onsets = [*range(10), *(1e5 + k for k in range(10))]
    path = synthetic_recording(tmp_path / "in" / "gap.edf", 20, CHANNELS, record_onsets=onsets)
    outcome = run_sleepfm(["preprocess", path, "--out", tmp_path / "out"])
    assert_clean_failure(outcome, contains=["gap.edf", "gap"], outputs=[tmp_path / "out"])
    assert outcome.seconds < QUICK_S


def test_a_record_duration_of_a_hundred_million_seconds(tmp_path: Path) -> None:
    path = synthetic_recording(tmp_path / "in" / "long.edf", 20, CHANNELS)
    set_header_field(path, "duration of a data record", "1E8")
    outcome = run_sleepfm(["preprocess", path, "--out", tmp_path / "out"])
    assert_clean_failure(outcome, contains=["long.edf"], outputs=[tmp_path / "out"])
    assert outcome.seconds < QUICK_S


@pytest.mark.parametrize("seconds", ["1e8", "1e11"])
@pytest.mark.parametrize("kind", ["epoch-csv", "nsrr-xml"])
def test_a_hypnogram_stage_lasting_years(tmp_path: Path, kind: str, seconds: str) -> None:
    # 10^11 s was a 31-GiB allocation; 10^8 s a 46-MB CSV written with exit 0.
    if kind == "epoch-csv":
        source = tmp_path / "stages.csv"
        source.write_text(f"onset,duration,stage\n0,30,W\n30,{seconds},N2\n")
    else:
        source = tmp_path / "stages.xml"
        source.write_text(
            "<PSGAnnotation><EpochLength>30</EpochLength><ScoredEvents>"
            "<ScoredEvent><EventType>Stages|Stages</EventType><EventConcept>Wake|0</EventConcept>"
            f"<Start>0</Start><Duration>{seconds}</Duration></ScoredEvent></ScoredEvents></PSGAnnotation>")
    with memory_ceiling():  # in this process: nothing to import, so quicker than a fresh interpreter
        outcome = run_inprocess(["hypnogram", source, "--out", tmp_path / "out" / "epochs.csv"])
    assert_clean_failure(outcome, contains=[source.name], outputs=[tmp_path / "out"])
    assert not (tmp_path / "out" / "epochs.csv").exists()


def test_a_yaml_alias_bomb_of_a_few_hundred_bytes(tmp_path: Path) -> None:
    # Nine aliases deep, nine wide: 9^9 strings once expanded (was 4 GB and 55 s of deep copy).
    lines = ["workflow: embed", "a0: &a0 [x,x,x,x,x,x,x,x,x]"]
    lines += [f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("\n".join(lines) + "\n")
    assert len(bomb.read_bytes()) < 450
    outcome = run_sleepfm(["embed", tmp_path, "--out", tmp_path / "emb", "--config", bomb])
    assert_clean_failure(outcome, contains=["bomb.yaml"], code=2, outputs=[tmp_path])
    assert outcome.seconds < QUICK_S


def test_a_checkpoint_asking_for_a_hundred_thousand_layers(small_model: Path, good_store: Path,
                                                           tmp_path: Path) -> None:
    # Was 7.7 GB of layers built before the weights were looked at.
    folder = tmp_path / "model"
    shutil.copytree(small_model, folder)
    config = json.loads((folder / "config.json").read_text())
    config["params"]["num_layers"] = 100_000
    (folder / "config.json").write_text(json.dumps(config))
    outcome = run_sleepfm(["embed", good_store, "--checkpoint", folder, "--out", tmp_path / "emb"])
    assert_clean_failure(outcome, contains=["model"], outputs=[tmp_path / "emb"])
    assert outcome.seconds < QUICK_S
