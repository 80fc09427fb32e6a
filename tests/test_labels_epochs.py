"""5-s ↔ 30-s epochs: the folding rule on hand-made cases, expansion, probabilities."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest

from sleepfm.errors import UsageError
from sleepfm.labels.epochs import infer_epoch_seconds, runs_to_stages
from sleepfm.labels.hypnogram import Hypnogram, fold_probabilities, fold_stages
from sleepfm.labels.vocabulary import events_frame

W, N1, N2, N3, R, U = 0, 1, 2, 3, 4, -1


@pytest.mark.parametrize(("six", "expected"), [
    ([N2, N2, N2, N2, N2, N2], N2),
    ([W, N1, N2, N2, N3, R], N2),          # the stage filling most of the epoch
    ([R, R, R, R, R, W], R),
    ([N1, N1, N1, N2, N2, N2], N1),        # a tie goes to the stage that comes first
    ([N2, N2, N2, N1, N1, N1], N2),
    ([N2, N3, N2, N3, N1, N1], N2),        # three-way tie: N2 appears first
    ([U, U, U, U, N2, N2], U),             # unscored only when it outnumbers the best stage
    ([U, U, U, N2, N2, N2], N2),
    ([U, U, N1, N1, N2, N2], N1),
    ([U, U, U, U, U, U], U),
    ([U, W, U, W, U, U], U),
])
def test_folding_rule_six_to_one(six: list[int], expected: int) -> None:
    assert fold_stages(np.array(six), 6).tolist() == [expected]


def test_trailing_partial_epoch_is_padded_with_unscored() -> None:
    assert fold_stages(np.array([W] * 6 + [N2, N2]), 6).tolist() == [W, U]
    assert fold_stages(np.array([W] * 6 + [N2, N2, N2]), 6).tolist() == [W, N2]


def test_hypnogram_round_trip_and_metadata() -> None:
    start = datetime(2020, 5, 1, 23, 0, 0)
    events = events_frame([(12.0, 10.0, "arousal", "C3", float("nan"))])
    coarse = Hypnogram(np.array([W, N1, R, U]), epoch_seconds=30, onset=60, start_time=start, events=events)
    fine = coarse.to_5s()
    assert fine.epoch_seconds == 5 and fine.n_epochs == 24 and fine.onset == 60
    assert fine.stages.tolist() == [W] * 6 + [N1] * 6 + [R] * 6 + [U] * 6
    assert fine.start_time == start and fine.events is events and fine.duration == coarse.duration
    back = fine.to_30s()
    assert back.stages.tolist() == coarse.stages.tolist() and back.epoch_seconds == 30
    assert coarse.to_30s().stages is not coarse.stages  # a copy, never a view


def test_uneven_ratio_is_refused() -> None:
    with pytest.raises(UsageError, match="cannot convert 30-s epochs to 20-s"):
        Hypnogram(np.array([W]), epoch_seconds=30).to_epoch_seconds(20)


def test_fold_probabilities_averages_each_group() -> None:
    probabilities = np.zeros((7, 5))
    probabilities[:3, 0] = 1.0
    probabilities[3:6, 2] = 1.0
    probabilities[6, 4] = 1.0
    folded = fold_probabilities(probabilities, 6)
    assert folded.shape == (2, 5)
    assert folded[0].tolist() == [0.5, 0, 0.5, 0, 0] and folded[1].tolist() == [0, 0, 0, 0, 1]


def test_runs_on_the_grid_with_gaps_and_overlaps() -> None:
    onset, stages = runs_to_stages([(30, 60, W), (120, 30, N2), (120, 5, R)], 30, fill=U)
    # 30-90 W, 90-120 nothing, 120-150 N2 then overwritten by the later (short) REM run.
    assert onset == 30 and stages.tolist() == [W, W, U, R]


def test_infer_epoch_prefers_the_format_epoch() -> None:
    assert infer_epoch_seconds([0, 30, 90], [30, 60, 30], 30) == 30
    assert infer_epoch_seconds([0, 30, 90.1], [30, 60.2, 29.9], 30) == 30  # within 1 %
    assert infer_epoch_seconds([0, 20, 60], [20, 40, 20], 30) == 20
    assert infer_epoch_seconds([0, 5], [5, 25], 5) == 5
