"""From 5-s stage probabilities to the outputs of ``sleepfm stage``: folding to 30-s epochs,
placing a scored hypnogram on the recording's clock, the tables and the statistics (expected
values worked out by hand in the comments)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sleepfm.clinical.night import align_scored, render_night, stage_night
from sleepfm.errors import InputError
from sleepfm.labels import read_hypnogram
from sleepfm.labels.hypnogram import Hypnogram

from .helpers_clinical import N3, NIGHT, START, W, token_probabilities


def test_six_tokens_fold_into_the_epoch_stage_and_padding_is_dropped() -> None:
    extra = np.random.default_rng(1).dirichlet(np.ones(5), size=40)  # last chunk padded beyond the recording
    probabilities = np.concatenate([token_probabilities(NIGHT), extra])
    night = stage_night(probabilities, duration=len(NIGHT) * 30 + 12.0, start_time=START)
    assert night.hypnogram.stages.tolist() == NIGHT
    assert night.probabilities_5s.shape == (120, 5) and night.probabilities_30s.shape == (20, 5)
    assert np.allclose(night.probabilities_30s[0], probabilities[:6].mean(axis=0))
    # The odd token out keeps its own argmax at 5 s.
    assert night.hypnogram_5s.stages[3] == (NIGHT[0] + 1) % 5


def test_statistics_of_the_predicted_night_match_the_hand_computed_ones() -> None:
    night = stage_night(token_probabilities(NIGHT), duration=600.0, start_time=START)
    stats = render_night(night, plot=False).stats["predicted"]
    assert stats["time_in_bed"] == 10.0                   # 20 epochs, nothing unscored
    assert stats["total_sleep_time"] == 7.0               # 14 sleep epochs
    assert stats["sleep_efficiency"] == pytest.approx(70.0)
    assert stats["sleep_onset_latency"] == 1.0            # epochs 0-1
    assert stats["sleep_period_time"] == 8.5              # epochs 2-18
    assert stats["waso"] == 2.0                           # W at 9, 16, 17, 19
    assert stats["rem_latency"] == 4.5                    # epoch 11 - epoch 2
    assert stats["awakenings"] == 3                       # {9}, {16, 17}, {19}
    assert stats["stage_minutes"] == {"W": 3.0, "N1": 1.0, "N2": 3.5, "N3": 1.0, "REM": 1.5, "UNS": 0.0}
    assert stats["stage_percent_tst"] == pytest.approx({"N1": 100 / 7, "N2": 50.0, "N3": 100 / 7,
                                                        "REM": 150 / 7})


def test_scored_hypnogram_is_placed_by_its_clock_time() -> None:
    # Scoring starts 60 s after the recording, on an anonymised date.
    scored = Hypnogram(np.array(NIGHT[2:]), start_time=datetime(1985, 1, 1, 22, 31, 0))
    aligned = align_scored(scored, START)
    assert aligned.onset == 60.0 and aligned.start_time == START
    # Across midnight the shortest way round is taken.
    late = align_scored(Hypnogram(np.array([W]), start_time=datetime(1985, 1, 2, 0, 0, 30)),
                        datetime(2024, 3, 1, 23, 59, 30))
    assert late.onset == 60.0
    # Without clock times the onsets are already seconds from the recording start.
    assert align_scored(Hypnogram(np.array([W]), onset=90.0), START).onset == 90.0
    # Cropped to a 5-minute recording: the scored epochs at 60-300 s remain.
    cropped = align_scored(scored, START, duration=300.0)
    assert cropped.onset == 60.0 and cropped.stages.tolist() == NIGHT[2:10]
    scoring_before = Hypnogram(np.array(NIGHT), onset=-90.0)  # scoring began 3 epochs early
    assert align_scored(scoring_before, None, duration=300.0).stages.tolist() == NIGHT[3:13]
    with pytest.raises(InputError, match="does not overlap the recording"):
        align_scored(Hypnogram(np.array([W]), onset=900.0), None, duration=600.0)


def test_agreement_with_a_partly_wrong_scoring() -> None:
    night = stage_night(token_probabilities(NIGHT), duration=600.0, start_time=START)
    truth = list(NIGHT)
    truth[4] = N3          # one N2 epoch scored N3
    truth[10] = -1         # one epoch unscored: left out
    outputs = render_night(night, scored=Hypnogram(np.array(truth), start_time=START), plot=False)
    agreement = outputs.stats["agreement"]
    assert agreement["n_epochs"] == 19 and agreement["accuracy"] == pytest.approx(18 / 19)
    assert agreement["confusion"][3][2] == 1               # scored N3, predicted N2
    assert outputs.stats["scored"]["stage_minutes"]["UNS"] == 0.5


def test_tables_read_back_and_files_are_complete(tmp_path: Path) -> None:
    night = stage_night(token_probabilities(NIGHT), duration=600.0, start_time=START)
    outputs = render_night(night, scored=Hypnogram(np.array(NIGHT), start_time=START), title="night",
                           detail_5s=True, about={"recording": {"file": "night.edf"}})
    written = outputs.write(tmp_path, "night")
    assert {kind: p.name for kind, p in written.items()} == {
        "hypnogram": "night.hypnogram.csv", "hypnogram_5s": "night.hypnogram-5s.csv", "plot": "night.png",
        "statistics": "night.stats.json"}
    table = pd.read_csv(tmp_path / "night.hypnogram.csv")
    assert table.columns.tolist() == ["onset", "duration", "clock_time", "stage", "p_W", "p_N1", "p_N2", "p_N3",
                                      "p_REM"]
    assert table["clock_time"].iloc[1] == (START + timedelta(seconds=30)).isoformat()
    assert np.allclose(table[["p_W", "p_N1", "p_N2", "p_N3", "p_REM"]].sum(axis=1), 1.0, atol=1e-3)
    # The epoch table is the epoch-csv format `sleepfm hypnogram` reads.
    assert read_hypnogram(tmp_path / "night.hypnogram.csv").stages.tolist() == NIGHT
    assert len(pd.read_csv(tmp_path / "night.hypnogram-5s.csv")) == 120
    assert (tmp_path / "night.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    stats = json.loads((tmp_path / "night.stats.json").read_text())
    assert stats["recording"] == {"file": "night.edf"} and stats["agreement"]["accuracy"] == 1.0
    assert not list(tmp_path.glob(".*"))                   # no temporary files left


def test_a_recording_shorter_than_an_epoch_is_refused() -> None:
    with pytest.raises(InputError, match="no whole 30-s epoch"):
        stage_night(token_probabilities([W]), duration=20.0, start_time=None)
