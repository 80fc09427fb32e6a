"""Staging metrics equal scikit-learn's on the same arrays; the 30-s epoch rule is pinned down."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, cohen_kappa_score, f1_score
from sklearn.metrics import confusion_matrix as sk_confusion

from sleepfm.errors import InputError
from sleepfm.evaluate.staging import (
    STAGE_NAMES,
    StudyPredictions,
    classification_metrics,
    epoch_labels,
    epoch_probabilities,
    evaluate_staging,
    write_staging_report,
)

LABELS = list(range(5))


def sklearn_numbers(truth: np.ndarray, pred: np.ndarray) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # undefined precision/recall warnings for absent classes
        return {
            "f1": f1_score(truth, pred, labels=LABELS, average=None),
            "macro": f1_score(truth, pred, labels=LABELS, average="macro"),
            "kappa": cohen_kappa_score(truth, pred),
            "accuracy": accuracy_score(truth, pred),
            "confusion": sk_confusion(truth, pred, labels=LABELS),
        }


@pytest.mark.parametrize("seed", range(6))
def test_token_metrics_equal_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(50, 3000))
    truth = rng.integers(0, 5, n)
    # Mostly right, with class-dependent confusions; seed 0 leaves N1 out of both sides.
    pred = np.where(rng.random(n) < 0.7, truth, rng.integers(0, 5, n))
    if seed == 0:
        truth, pred = np.where(truth == 1, 2, truth), np.where(pred == 1, 3, pred)
    ours = classification_metrics(truth, pred)
    ref = sklearn_numbers(truth, pred)
    np.testing.assert_array_equal(ours.confusion, ref["confusion"])
    np.testing.assert_allclose(ours.f1, ref["f1"], rtol=0, atol=1e-12)
    assert ours.macro_f1 == pytest.approx(ref["macro"], abs=1e-12)
    assert ours.kappa == pytest.approx(ref["kappa"], abs=1e-12)
    assert ours.accuracy == pytest.approx(ref["accuracy"], abs=1e-15)
    rows = ref["confusion"].sum(axis=1, keepdims=True)
    expected = np.where(rows > 0, 100 * ref["confusion"] / np.maximum(rows, 1), np.nan)
    np.testing.assert_allclose(ours.row_percent, expected)


def test_degenerate_kappa_is_nan_not_a_crash() -> None:
    metrics = classification_metrics(np.zeros(10, int), np.zeros(10, int))
    assert metrics.accuracy == 1.0 and np.isnan(metrics.kappa)


def test_epoch_label_rule() -> None:
    u = -1
    tokens = np.array([
        2, 2, 2, 2, 2, 2,   # clean N2
        2, 2, 2, 2, 3, 3,   # 4 N2 + 2 N3 → N2
        2, 2, 2, 1, 1, u,   # 3 N2 + 2 N1 + 1 unscored → N2
        2, 2, 2, u, u, u,   # 3 N2 + 3 unscored: unscored does not outnumber N2 → N2
        3, 3, 3, 2, 2, 2,   # tie between stages → the first one, N3
        u, u, 4, 4, 0, 1,   # REM leads with 2, unscored ties it → REM
        u, u, u, u, 2, 2,   # unscored outnumbers N2 → left out
        u, u, u, u, u, u,   # unscored
        0, 0, 0, 0,         # trailing partial epoch: 4 Wake + 2 absent → Wake
    ])
    assert epoch_labels(tokens).tolist() == [2, 2, 2, 2, 3, 4, u, u, 0]


def test_epoch_probabilities_average_only_valid_tokens() -> None:
    probs = np.zeros((8, 5))
    probs[:6, 3] = 1.0
    probs[2, :] = [0.0, 0.0, 0.0, 0.0, 1.0]
    probs[6:, 0] = 1.0
    valid = np.array([True, True, True, True, False, False, False, False])
    mean, has = epoch_probabilities(probs, valid)
    np.testing.assert_allclose(mean[0], [0, 0, 0, 0.75, 0.25])
    assert has.tolist() == [True, False]


def make_study(rng: np.random.Generator, name: str, epochs: int, accuracy: float) -> StudyPredictions:
    stages = rng.integers(0, 5, epochs)
    labels = np.repeat(stages, 6)
    labels[rng.random(labels.size) < 0.05] = -1
    noisy = np.where(rng.random(labels.size) < accuracy, np.repeat(stages, 6), rng.integers(0, 5, labels.size))
    probs = np.full((labels.size, 5), 0.05)
    probs[np.arange(labels.size), noisy] = 0.8
    valid = np.ones(labels.size, bool)
    valid[-7:] = False  # padded tail
    return StudyPredictions(name, probs, labels, valid)


def test_evaluate_staging_pools_studies_like_sklearn_on_concatenated_arrays(tmp_path) -> None:
    rng = np.random.default_rng(3)
    studies = [make_study(rng, f"s{i}", 120 + 10 * i, 0.6) for i in range(3)]
    evaluation = evaluate_staging(studies)
    truth = np.concatenate([s.labels[s.valid & (s.labels >= 0)] for s in studies])
    pred = np.concatenate([s.probabilities.argmax(1)[s.valid & (s.labels >= 0)] for s in studies])
    ref = sklearn_numbers(truth, pred)
    assert evaluation.tokens.macro_f1 == pytest.approx(ref["macro"], abs=1e-12)
    assert evaluation.tokens.kappa == pytest.approx(ref["kappa"], abs=1e-12)
    # Averaging six noisy tokens recovers the epoch's stage far more often than one token does.
    assert evaluation.epochs.accuracy > evaluation.tokens.accuracy + 0.15
    e_truth = np.concatenate([epoch_labels(s.labels) for s in studies])
    assert evaluation.epochs.n < (e_truth >= 0).sum() + 1  # padded-only epochs are left out

    written = write_staging_report(evaluation, tmp_path)
    names = {p.name for p in written}
    assert {"staging_metrics.json", "staging_per_class.csv", "confusion_5s.csv", "confusion_30s.png"} <= names
    payload = json.loads((tmp_path / "staging_metrics.json").read_text())
    assert payload["5s"]["macro_f1"] == pytest.approx(ref["macro"])
    assert payload["30s"]["confusion"]["counts"] == evaluation.epochs.confusion.tolist()
    table = pd.read_csv(tmp_path / "confusion_5s.csv")
    assert table["scored"].tolist() == list(STAGE_NAMES)
    assert table[list(STAGE_NAMES)].to_numpy().tolist() == ref["confusion"].tolist()
    assert (tmp_path / "confusion_5s.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(pd.read_csv(tmp_path / "staging_per_study.csv")) == 3
    assert not list(tmp_path.glob(".*"))  # no temporary files left behind


def test_bad_inputs_are_input_errors() -> None:
    with pytest.raises(InputError, match="shape"):
        StudyPredictions("x", np.zeros((4, 3)), np.zeros(4), np.ones(4, bool))
    with pytest.raises(InputError, match="stage labels"):
        StudyPredictions("x", np.zeros((4, 5)), np.array([0, 1, 7, 2]), np.ones(4, bool))
    with pytest.raises(InputError, match="no scored"):
        evaluate_staging([StudyPredictions("x", np.ones((6, 5)) / 5, -np.ones(6, int), np.ones(6, bool))])
