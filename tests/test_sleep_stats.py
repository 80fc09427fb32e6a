"""Sleep statistics on hand-checked hypnograms (expected values worked out by hand below) and
agreement figures checked by hand and against scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, cohen_kappa_score, confusion_matrix, f1_score

from sleepfm.errors import InputError, UsageError
from sleepfm.labels.hypnogram import Hypnogram
from sleepfm.labels.vocabulary import events_frame
from sleepfm.report.sleep_stats import agreement, lights_from_events, sleep_statistics

W, N1, N2, N3, R, U = 0, 1, 2, 3, 4, -1

#        0  1  2  3   4   5   6  7   8   9   10 11  12 13 14 15 16  17  18 19
NIGHT = [W, W, W, N1, N2, N2, W, N2, N3, N3, U, N2, R, R, W, W, N1, N2, W, W]


def test_statistics_of_a_hand_checked_night() -> None:
    stats = sleep_statistics(Hypnogram(np.array(NIGHT)))
    # Window: epochs 0-19 (first to last scored) = 20 epochs = 10 min.
    assert stats.time_in_bed == 10.0
    # Sleep epochs 3,4,5,7,8,9,11,12,13,16,17 = 11 → 5.5 min; SE 5.5 / 10 = 55 %.
    assert stats.total_sleep_time == 5.5 and stats.sleep_efficiency == pytest.approx(55.0)
    assert stats.sleep_onset_latency == 1.5           # 3 epochs before epoch 3
    assert stats.sleep_period_time == 7.5             # epochs 3-17
    assert stats.waso == 2.5                          # W at 6, 14, 15, 18, 19 (UNS at 10 is not wake)
    assert stats.rem_latency == 4.5                   # epoch 12 - epoch 3 = 9 epochs
    assert stats.awakenings == 3                      # bouts {6}, {14,15}, {18,19}
    assert stats.stage_minutes == {"W": 4.0, "N1": 1.0, "N2": 2.5, "N3": 1.0, "REM": 1.0, "UNS": 0.5}
    assert stats.stage_percent_tst == pytest.approx({"N1": 100 / 5.5, "N2": 250 / 5.5, "N3": 100 / 5.5,
                                                     "REM": 100 / 5.5})
    assert stats.stage_percent_tib == pytest.approx({"W": 40.0, "N1": 10.0, "N2": 25.0, "N3": 10.0,
                                                     "REM": 10.0, "UNS": 5.0})
    assert (stats.window_start, stats.window_end) == (0.0, 600.0)
    assert sleep_statistics(Hypnogram(np.array(NIGHT)), min_awakening_epochs=2).awakenings == 2


def test_lights_off_and_on_bound_the_window() -> None:
    events = events_frame([(50.0, 0.0, "lights off", "", np.nan), (500.0, 0.0, "lights on", "", np.nan)])
    night = Hypnogram(np.array(NIGHT), events=events)
    lights_off, lights_on = lights_from_events(night)
    assert (lights_off, lights_on) == (50.0, 500.0)
    stats = sleep_statistics(night, lights_off=lights_off, lights_on=lights_on)
    # Epochs whose middle lies in [50, 500): epoch 2 (middle 75) to epoch 16 (middle 495) = 15 epochs.
    assert (stats.window_start, stats.window_end) == (60.0, 510.0)
    assert stats.time_in_bed == 7.5
    assert stats.total_sleep_time == 5.0               # 3,4,5,7,8,9,11,12,13,16
    assert stats.sleep_efficiency == pytest.approx(100 * 5.0 / 7.5)
    assert stats.sleep_onset_latency == 0.5
    assert stats.waso == 1.5 and stats.awakenings == 2  # W at 6 and 14-15
    assert stats.rem_latency == 4.5


def test_unscored_neither_starts_nor_splits_an_awakening_and_is_trimmed_at_the_edges() -> None:
    stats = sleep_statistics(Hypnogram(np.array([U, U, N2, W, U, W, N2, U])))
    assert stats.time_in_bed == 2.5                    # epochs 2-6
    assert stats.awakenings == 1 and stats.waso == 1.0
    assert stats.total_sleep_time == 1.0 and stats.sleep_efficiency == pytest.approx(40.0)


def test_a_night_without_sleep() -> None:
    stats = sleep_statistics(Hypnogram(np.array([W, W, W, W])))
    assert stats.total_sleep_time == 0 and stats.sleep_efficiency == 0.0
    assert stats.sleep_onset_latency is None and stats.waso is None and stats.rem_latency is None
    assert stats.awakenings == 0 and stats.stage_percent_tst == {"N1": None, "N2": None, "N3": None, "REM": None}
    assert stats.as_dict()["sleep_period_time"] is None


def test_a_night_without_rem_and_epoch_length() -> None:
    fine = Hypnogram(np.array([W] * 6 + [N2] * 12), epoch_seconds=5)
    stats = sleep_statistics(fine)
    assert stats.time_in_bed == 1.5 and stats.total_sleep_time == 1.0 and stats.rem_latency is None
    assert stats.sleep_onset_latency == 0.5


def test_empty_window_is_an_input_error() -> None:
    with pytest.raises(InputError, match="no epochs between lights off and lights on"):
        sleep_statistics(Hypnogram(np.array(NIGHT)), lights_off=300, lights_on=300)


# ------------------------------------------------------------------------------ agreement
REFERENCE = [W, W, N1, N2, N2, N3, R, R, U, N2]
OTHER = [W, N1, N1, N2, N3, N3, R, W, N2, U]


def test_agreement_by_hand() -> None:
    result = agreement(np.array(REFERENCE), np.array(OTHER))
    # Epochs 8 and 9 are UNS in one of the two: 8 epochs compared, 5 agree.
    assert result.n_epochs == 8 and result.accuracy == 5 / 8
    assert result.confusion == [[1, 1, 0, 0, 0], [0, 1, 0, 0, 0], [0, 0, 1, 1, 0], [0, 0, 0, 1, 0],
                                [1, 0, 0, 0, 1]]
    # Chance agreement (2·2 + 1·2 + 2·1 + 1·2 + 2·1) / 64 = 12/64; kappa (5/8 − 12/64) / (1 − 12/64) = 7/13.
    assert result.kappa == pytest.approx(7 / 13)
    # F1: W 2·1/(2+2) = 1/2, every other stage 2·1/3 = 2/3; macro (1/2 + 8/3) / 5 = 19/30.
    assert result.f1 == pytest.approx({"W": 0.5, "N1": 2 / 3, "N2": 2 / 3, "N3": 2 / 3, "REM": 2 / 3})
    assert result.macro_f1 == pytest.approx(19 / 30)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_agreement_matches_scikit_learn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    reference = rng.choice([U, W, N1, N2, N3, R], size=400, p=[0.05, 0.2, 0.1, 0.4, 0.1, 0.15])
    other = np.where(rng.random(400) < 0.7, reference, rng.choice([U, W, N1, N2, N3], size=400))
    if seed == 2:
        reference[reference == N3] = N2  # a stage absent from the reference but predicted
    keep = (reference >= 0) & (other >= 0)
    y_true, y_pred = reference[keep], other[keep]
    result = agreement(reference, other)
    assert result.n_epochs == keep.sum()
    assert result.accuracy == pytest.approx(accuracy_score(y_true, y_pred))
    assert result.kappa == pytest.approx(cohen_kappa_score(y_true, y_pred))
    assert result.macro_f1 == pytest.approx(f1_score(y_true, y_pred, average="macro"))
    assert result.confusion == confusion_matrix(y_true, y_pred, labels=[W, N1, N2, N3, R]).tolist()


def test_agreement_aligns_hypnograms_by_onset_and_epoch_length() -> None:
    reference = Hypnogram(np.array([W, N1, N2, N2, R]), epoch_seconds=30, onset=0)
    # 5-s predictions starting one epoch later: N1 N2 N2 R, each six times, then two extra epochs.
    other = Hypnogram(np.repeat([N1, N2, N3, R, W, W], 6), epoch_seconds=5, onset=30)
    result = agreement(reference, other)
    assert result.n_epochs == 4 and result.accuracy == 3 / 4
    with pytest.raises(InputError, match="offset by 10 s"):
        agreement(reference, Hypnogram(np.array([W]), onset=10))


def test_agreement_errors() -> None:
    with pytest.raises(InputError, match="have 3 and 2 epochs"):
        agreement(np.array([W, W, W]), np.array([W, W]))
    with pytest.raises(InputError, match="no epoch is scored"):
        agreement(np.array([U, W]), np.array([N2, U]))
    assert agreement(np.array([W, W]), np.array([W, W])).as_dict()["kappa"] is None  # undefined, not NaN


def test_time_points_as_seconds_or_clock_time() -> None:
    from datetime import datetime

    from sleepfm.errors import UsageError
    from sleepfm.report.sleep_stats import seconds_from_start

    start = datetime(1989, 4, 24, 22, 30, 0)
    assert seconds_from_start("1830", start) == 1830.0
    assert seconds_from_start("23:15", start) == 45 * 60
    assert seconds_from_start("06:40:30", start) == 8 * 3600 + 10 * 60 + 30  # the next morning
    with pytest.raises(UsageError, match="no start time"):
        seconds_from_start("23:15", None)
    with pytest.raises(UsageError, match="not a HH:MM"):
        seconds_from_start("25:99", start)
    with pytest.raises(UsageError, match="neither seconds"):
        seconds_from_start("late", start)


# ------------------------------------------------------------------ transitions, latency conventions
def test_transition_matrix_against_hand_counts() -> None:
    from sleepfm.report.sleep_stats import transition_matrix

    #        W  W  N1 N2 N2 U  N2 R  R  W  N1
    stages = [0, 0, 1, 2, 2, -1, 2, 4, 4, 0, 1]
    counts, probabilities = transition_matrix(np.array(stages))
    # Pairs: W→W, W→N1, N1→N2, N2→N2, (N2→U, U→N2 left out), N2→R, R→R, R→W, W→N1.
    expected = np.zeros((5, 5), dtype=int)
    for a, b in [(0, 0), (0, 1), (1, 2), (2, 2), (2, 4), (4, 4), (4, 0), (0, 1)]:
        expected[a, b] += 1
    np.testing.assert_array_equal(counts, expected)
    np.testing.assert_allclose(probabilities[0], [1 / 3, 2 / 3, 0, 0, 0])
    assert np.isnan(probabilities[3]).all()  # N3 never occurs
    stats = sleep_statistics(Hypnogram(np.array(stages)))
    assert stats.stage_shifts == 5 and stats.transitions == expected.tolist()


def test_transition_matrix_equals_yasa_on_a_scored_night() -> None:
    yasa = pytest.importorskip("yasa", reason="yasa is a dev extra (Python >= 3.11)")
    from sleepfm.report.sleep_stats import transition_matrix

    rng = np.random.default_rng(3)
    stages = np.repeat(rng.integers(0, 5, size=60), rng.integers(1, 8, size=60))
    counts, probabilities = transition_matrix(stages)
    hyp = yasa.Hypnogram.from_integers(stages)
    theirs, their_probabilities = hyp.transition_matrix()
    order = ["WAKE", "N1", "N2", "N3", "REM"]
    np.testing.assert_array_equal(counts, theirs.reindex(index=order, columns=order).to_numpy())
    np.testing.assert_allclose(probabilities, their_probabilities.reindex(index=order, columns=order).to_numpy())


def test_rem_latency_conventions_and_persistent_sleep() -> None:
    # 2 W, then N1 W (a false start), then 24 epochs of sleep with REM at epoch 10 of them, then W.
    stages = [0, 0, 1, 0] + [2] * 10 + [4] * 4 + [2] * 10 + [0]
    hypnogram = Hypnogram(np.array(stages))
    first = sleep_statistics(hypnogram)
    assert first.sleep_onset_latency == 1.0 and first.rem_latency == 6.0  # AASM: from the first sleep epoch
    assert first.rem_latency_from_start == 7.0                            # YASA's Lat_REM on the window
    assert first.persistent_sleep_latency == 2.0                          # 24 epochs = 12 min ≥ 10 min
    persistent = sleep_statistics(hypnogram, sleep_onset="persistent")
    assert persistent.sleep_onset_latency == 2.0 and persistent.rem_latency == 5.0
    assert persistent.waso == 0.5 and first.waso == 1.0 and persistent.sleep_onset == "persistent"
    assert sleep_statistics(hypnogram, persistent_sleep_minutes=15).persistent_sleep_latency is None
    with pytest.raises(UsageError):
        sleep_statistics(hypnogram, sleep_onset="later")  # type: ignore[arg-type]


def test_rem_latency_from_start_equals_yasa_lat_rem() -> None:
    yasa = pytest.importorskip("yasa", reason="yasa is a dev extra (Python >= 3.11)")
    stages = np.array([0, 0, 1, 0] + [2] * 10 + [4] * 4 + [2] * 10 + [0])
    theirs = yasa.Hypnogram.from_integers(stages).sleep_statistics()
    ours = sleep_statistics(Hypnogram(stages))
    assert ours.rem_latency_from_start == theirs["Lat_REM"] and ours.sleep_onset_latency == theirs["SOL"]
    # YASA's WASO stops at the last sleep epoch; sleepfm's counts the final awakening (module docstring).
    assert ours.total_sleep_time == theirs["TST"] and ours.waso == theirs["WASO"] + 0.5
