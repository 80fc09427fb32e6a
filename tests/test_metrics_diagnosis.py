"""Diagnosis metrics equal scikit-survival's; the bootstrap is exact per resample; edge cases are named."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sksurv.metrics import concordance_index_censored, concordance_index_ipcw
from sksurv.util import Surv

from sleepfm.errors import InputError
from sleepfm.evaluate.concordance import (
    bootstrap_concordance,
    bootstrap_counts,
    concordance,
    pair_matrices,
)
from sleepfm.evaluate.diagnosis import (
    SurvivalLabels,
    evaluate_diagnosis,
    read_outcome_table,
    write_diagnosis_report,
    write_outcome_table,
)
from sleepfm.labels.tables import read_label_mapping


def survival_sample(rng: np.random.Generator, n: int, *, ties: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    risk = rng.normal(size=n)
    time = rng.exponential(1000 * np.exp(-0.8 * risk))
    censor = rng.uniform(200, 3000, n)
    event = time < censor
    time = np.minimum(time, censor)
    if ties:  # whole days, and a block of identical risks
        time = np.ceil(time / 50) * 50
        risk[: n // 5] = 0.25
    return event, time, risk + rng.normal(scale=0.7, size=n)


@pytest.mark.parametrize(("seed", "ties"), [(0, False), (1, True), (2, True), (3, False)])
def test_harrell_equals_sksurv(seed: int, ties: bool) -> None:
    event, time, risk = survival_sample(np.random.default_rng(seed), 300, ties=ties)
    ours = concordance(pair_matrices(event, time, risk))
    c, concordant, discordant, tied_risk, _ = concordance_index_censored(event, time, risk)
    assert ours.value == pytest.approx(c, abs=1e-12)
    assert (ours.concordant, ours.discordant, ours.tied_risk) == (concordant, discordant, tied_risk)


@pytest.mark.parametrize("tau", [None, 900.0])
@pytest.mark.parametrize("seed", [4, 5])
def test_uno_equals_sksurv(seed: int, tau: float | None) -> None:
    rng = np.random.default_rng(seed)
    train_event, train_time, _ = survival_sample(rng, 400, ties=True)
    event, time, risk = survival_sample(rng, 250, ties=True)
    # Test follow-up within the training range (Uno's C needs G(t) > 0).
    time = np.minimum(time, train_time[~train_event].max() - 1)
    table = evaluate_diagnosis(
        pd.DataFrame({"x": risk}, index=[f"s{i}" for i in range(250)]),
        labels(event, time), labels(train_event, train_time, prefix="t"), tau=tau, samples=0,
    ).table.iloc[0]
    expected = concordance_index_ipcw(Surv.from_arrays(train_event, train_time), Surv.from_arrays(event, time),
                                      risk, tau=tau)[0]
    assert table["uno_status"] == "ok"
    assert table["uno_c"] == pytest.approx(expected, abs=1e-10)
    assert table["harrell_c"] == pytest.approx(concordance_index_censored(event, time, risk)[0], abs=1e-12)


def labels(event: np.ndarray, time: np.ndarray, prefix: str = "s", column: str = "x") -> SurvivalLabels:
    index = [f"{prefix}{i}" for i in range(len(event))]
    return SurvivalLabels(pd.DataFrame({column: event.astype(float)}, index=index),
                          pd.DataFrame({column: time}, index=index))


def test_bootstrap_is_exact_for_every_resample() -> None:
    rng = np.random.default_rng(7)
    event, time, risk = survival_sample(rng, 120, ties=True)
    pairs = pair_matrices(event, time, risk)
    counts = bootstrap_counts(120, 25, seed=11)
    assert counts.sum(axis=1).tolist() == [120.0] * 25
    weights = rng.uniform(0.5, 2, 120)
    harrell, weighted = bootstrap_concordance(pairs, counts, [None, weights])
    for b in range(25):
        index = np.repeat(np.arange(120), counts[b].astype(int))
        expected = concordance_index_censored(event[index], time[index], risk[index])[0]
        assert harrell[b] == pytest.approx(expected, abs=1e-12)
        # The weighted (Uno) form against the same sum written out over the resampled arrays.
        e, t, r, w = event[index], time[index], risk[index], weights[index]
        comp = e[:, None] & ((t[None, :] > t[:, None]) | ((t[None, :] == t[:, None]) & ~e[None, :]))
        score = np.where(np.abs(r[None, :] - r[:, None]) <= 1e-8, 0.5, (r[None, :] < r[:, None]).astype(float))
        assert weighted[b] == pytest.approx((w @ (score * comp).sum(1)) / (w @ comp.sum(1)), abs=1e-12)


def test_bootstrap_is_seeded() -> None:
    assert np.array_equal(bootstrap_counts(50, 10, 3), bootstrap_counts(50, 10, 3))
    assert not np.array_equal(bootstrap_counts(50, 10, 3), bootstrap_counts(50, 10, 4))


def test_edge_cases_are_reported_not_nan_silently() -> None:
    ids = [f"s{i}" for i in range(6)]
    event = pd.DataFrame({"none": [0, 0, 0, 0, 0, 0], "last": [0, 0, 0, 0, 0, 1], "ok": [1, 0, 1, 0, 0, 1],
                          "partial": [1, np.nan, 0, 1, 0, np.nan]}, index=ids, dtype=float)
    time = pd.DataFrame({"none": [5.0] * 6, "last": [1, 2, 3, 4, 5, 9.0], "ok": [1, 2, 3, 4, 5, 6.0],
                         "partial": [1, 2, 3, 4, 5, 6.0]}, index=ids)
    risk = pd.DataFrame(np.arange(24, dtype=float).reshape(6, 4)[::-1], index=ids, columns=event.columns)
    result = evaluate_diagnosis(risk, SurvivalLabels(event, time), SurvivalLabels(event, time), samples=50).table
    rows = result.set_index("phecode")
    assert rows.loc["none", "harrell_status"] == "no events" and rows.loc["none", "uno_status"] == "no events"
    assert rows.loc["last", "harrell_status"] == "no comparable pairs"
    assert np.isnan(rows.loc["last", "harrell_c"]) and rows.loc["last", "comparable_pairs"] == 0
    assert rows.loc["ok", "harrell_status"] == "ok" and rows.loc["ok", "harrell_c"] == 1.0
    assert rows.loc["ok", "harrell_ci_low"] <= 1.0 <= rows.loc["ok", "harrell_ci_high"]
    # NaN cells leave those subjects out of that outcome only.
    assert rows.loc["partial", "n"] == 4 and rows.loc["ok", "n"] == 6
    no_train = evaluate_diagnosis(risk, SurvivalLabels(event, time), samples=0).table
    assert set(no_train["uno_status"]) <= {"no training labels", "no events"}


def test_uno_beyond_training_follow_up_names_tau() -> None:
    rng = np.random.default_rng(0)
    event, time, risk = survival_sample(rng, 80, ties=False)
    train_time = np.minimum(time, 300.0)
    train_event = event & (time <= 300.0)
    row = evaluate_diagnosis(pd.DataFrame({"x": risk}, index=[f"s{i}" for i in range(80)]), labels(event, time),
                             labels(train_event, train_time, prefix="t"), samples=0).table.iloc[0]
    assert row["uno_status"].startswith("censoring weights undefined") and "set tau below 300" in row["uno_status"]
    assert row["harrell_status"] == "ok"


def test_confidence_interval_covers_and_narrows_with_more_subjects() -> None:
    widths = []
    for n in (100, 800):
        event, time, risk = survival_sample(np.random.default_rng(n), n, ties=False)
        row = evaluate_diagnosis(pd.DataFrame({"x": risk}, index=[f"s{i}" for i in range(n)]), labels(event, time),
                                 samples=300, seed=1).table.iloc[0]
        assert row["harrell_ci_low"] < row["harrell_c"] < row["harrell_ci_high"]
        widths.append(row["harrell_ci_high"] - row["harrell_ci_low"])
    assert widths[1] < widths[0] * 0.6


@pytest.mark.shared
def test_table_joins_the_published_label_mapping(shared, tmp_path) -> None:
    mapping = read_label_mapping(shared / "reference" / "label_mapping.csv")
    assert len(mapping) == 1065 and mapping["phecode"].iloc[0] == "8.0"
    picked = ["327.3", "290.1", "death"]
    rng = np.random.default_rng(2)
    ids = [f"p{i}" for i in range(60)]
    event = pd.DataFrame(rng.integers(0, 2, (60, 3)).astype(float), index=ids, columns=picked)
    time = pd.DataFrame(rng.uniform(10, 4000, (60, 3)), index=ids, columns=picked)
    write_outcome_table(tmp_path / "is_event.csv", event)
    write_outcome_table(tmp_path / "time_to_event.csv", time)
    test = SurvivalLabels.read(tmp_path / "is_event.csv", tmp_path / "time_to_event.csv")
    assert test.phecodes == picked  # headers stay text: "327.3", not 327.3 or 327.30
    risk = pd.DataFrame(rng.normal(size=(60, 3)), index=ids, columns=picked)
    evaluation = evaluate_diagnosis(risk, test, test, samples=100, label_mapping=mapping)
    written = write_diagnosis_report(evaluation, tmp_path)
    table = pd.read_csv(tmp_path / "diagnosis_metrics.csv", dtype={"phecode": str})
    assert table["phenotype"].tolist() == ["Sleep apnea", "Dementias", "death"]
    assert table["label_idx"].tolist() == mapping.set_index("phecode").loc[picked, "label_idx"].tolist()
    payload = json.loads(written[1].read_text())
    assert payload["n_evaluated"] == 3 and len(payload["outcomes"]) == 3


def test_bad_tables_are_input_errors(tmp_path) -> None:
    (tmp_path / "bad.csv").write_text("id,x\na,1\n")
    with pytest.raises(InputError, match="'Study ID' column"):
        read_outcome_table(tmp_path / "bad.csv")
    with pytest.raises(InputError, match="not found"):
        read_outcome_table(tmp_path / "missing.csv")
    event, time, risk = survival_sample(np.random.default_rng(0), 10, ties=False)
    with pytest.raises(InputError, match="no labels"):
        evaluate_diagnosis(pd.DataFrame({"y": risk}, index=[f"s{i}" for i in range(10)]), labels(event, time))
    with pytest.raises(InputError, match="no study has both"):
        evaluate_diagnosis(pd.DataFrame({"x": risk}, index=[f"q{i}" for i in range(10)]), labels(event, time))


@pytest.mark.parametrize("case", ["mixed", "all_censored", "all_events"])
def test_censoring_distribution_equals_sksurv(case: str) -> None:
    from sksurv.nonparametric import CensoringDistributionEstimator

    from sleepfm.evaluate.concordance import CensoringDistribution

    rng = np.random.default_rng(9)
    time = np.ceil(rng.uniform(1, 100, 200))  # many ties between events and censorings
    event = {"mixed": rng.random(200) < 0.4, "all_censored": np.zeros(200, bool), "all_events": np.ones(200, bool)}[
        case]
    ours = CensoringDistribution.fit(event, time)
    query = np.concatenate([time, [0.5, 37.5, 100.0]])
    if case == "all_censored":  # scikit-survival refuses to fit this; G is plain reverse KM with no events
        from sksurv.nonparametric import kaplan_meier_estimator

        times, probs = kaplan_meier_estimator(event, time, reverse=True)
        np.testing.assert_allclose(ours(times), probs)
        return
    reference = CensoringDistributionEstimator().fit(Surv.from_arrays(event, time))
    np.testing.assert_allclose(ours(query[query <= time.max()]), reference.predict_proba(query[query <= time.max()]))
