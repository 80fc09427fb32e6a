"""Agreement statistics: Bland–Altman rows and kappa against an independent numpy/pandas computation,
ICC(A,1) against pingouin, `sleepfm evaluate staging` printing and writing the table and plot, a
second scorer giving inter-scorer kappa, and kappa on the DREAMS excerpts' two expert scorings."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score

from sleepfm.cli.app import main
from sleepfm.evaluate.agreement import STATISTICS, agreement_report, icc_a1
from sleepfm.evaluate.predictions import save_staging_predictions
from sleepfm.evaluate.staging import StudyPredictions


def _nights(seed: int = 0, n: int = 7) -> dict[str, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    nights = {}
    for i in range(n):
        a = np.repeat(rng.integers(0, 5, 50), rng.integers(1, 7, 50)).astype(np.int8)
        a[:3] = -1  # unscored lead-in: outside the analysis window
        b, model = a.copy(), a.copy()
        for other, rate in ((b, 0.15), (model, 0.3)):
            flip = (rng.random(a.size) < rate) & (a >= 0)
            other[flip] = rng.integers(0, 5, int(flip.sum()))
        nights[f"s{i}"] = {"scorer1": a, "scorer2": b, "model": model}
    return nights


def _independent_figures(stages: np.ndarray) -> dict[str, float | None]:
    """The compared statistics written out again with pandas, window = first to last scored epoch."""
    s = pd.Series(stages)
    scored = s[s >= 0]
    window = s.loc[scored.index[0]: scored.index[-1]].reset_index(drop=True)
    sleep = window.isin([1, 2, 3, 4])
    minutes = {name: float((window == code).sum()) / 2 for code, name in enumerate(["W", "N1", "N2", "N3", "REM"])}
    tst = float(sleep.sum()) / 2
    first = int(sleep.idxmax()) if sleep.any() else None
    rem = window[window == 4]
    return {"total_sleep_time": tst, "sleep_efficiency": 100 * tst / (len(window) / 2),
            "sleep_onset_latency": None if first is None else first / 2,
            "waso": None if first is None else float((window[first:] == 0).sum()) / 2,
            "rem_latency": None if first is None or rem.empty else (int(rem.index[0]) - first) / 2,
            **{f"minutes_{k}": v for k, v in minutes.items()}}


def test_bland_altman_equals_an_independent_computation() -> None:
    nights = _nights()
    report = agreement_report(nights, "model", ["scorer1", "scorer2"])
    for key in STATISTICS:
        rows = []
        for night in nights.values():
            ref = _independent_figures(night["scorer1"])
            # The model is measured over the reference's window.
            scored = np.flatnonzero(night["scorer1"] >= 0)
            model = night["model"].copy()
            model[: scored[0]] = -1
            other = _independent_figures(model)
            if ref[key] is not None and other[key] is not None:
                rows.append((ref[key], other[key]))
        pairs = pd.DataFrame(rows, columns=["ref", "other"])
        difference = pairs["other"] - pairs["ref"]
        row = report.bland_altman.set_index(["comparison", "statistic"]).loc[("model vs scorer1", key)]
        assert row["n"] == len(pairs)
        assert row["bias"] == pytest.approx(difference.mean(), abs=1e-12)
        assert row["sd"] == pytest.approx(difference.std(), abs=1e-12)
        assert row["loa_low"] == pytest.approx(difference.mean() - 1.96 * difference.std(), abs=1e-12)
        assert row["loa_high"] == pytest.approx(difference.mean() + 1.96 * difference.std(), abs=1e-12)


def test_kappa_per_night_and_pooled_equals_scikit_learn() -> None:
    nights = _nights(seed=1)
    report = agreement_report(nights, "model", ["scorer1", "scorer2"])
    kappa = report.kappa.set_index(["comparison", "study_id"])
    for reference, other in (("scorer1", "model"), ("scorer2", "model"), ("scorer1", "scorer2")):
        label = f"{other} vs {reference}"
        pooled_a, pooled_b = [], []
        for study, night in nights.items():
            keep = (night[reference] >= 0) & (night[other] >= 0)
            pooled_a.append(night[reference][keep])
            pooled_b.append(night[other][keep])
            assert kappa.loc[(label, study), "kappa"] == pytest.approx(
                cohen_kappa_score(night[reference][keep], night[other][keep]))
        assert kappa.loc[(label, "pooled"), "kappa"] == pytest.approx(
            cohen_kappa_score(np.concatenate(pooled_a), np.concatenate(pooled_b)))
    assert set(report.kappa["comparison"]) == {"model vs scorer1", "model vs scorer2", "scorer2 vs scorer1"}


def test_icc_is_pingouins_icc_a1() -> None:
    pingouin = pytest.importorskip("pingouin", reason="pingouin is a dev extra")
    rng = np.random.default_rng(4)
    x = rng.normal(300, 40, size=12)
    y = x + rng.normal(5, 15, size=12)
    frame = pd.DataFrame({"night": np.tile(np.arange(12), 2), "rater": np.repeat(["a", "b"], 12), "v": np.r_[x, y]})
    table = pingouin.intraclass_corr(frame, targets="night", raters="rater", ratings="v").set_index("Type")
    theirs = table.loc["ICC(A,1)" if "ICC(A,1)" in table.index else "ICC2", "ICC"]
    assert icc_a1(x, y) == pytest.approx(theirs, abs=1e-12)
    assert icc_a1(x[:1], y[:1]) is None


def _predictions(folder: Path, nights: dict[str, dict[str, np.ndarray]]) -> Path:
    """Saved predictions whose 30-s argmax is the 'model' hypnogram and whose labels are scorer1's."""
    studies = []
    for study, night in nights.items():
        tokens = np.repeat(np.maximum(night["model"], 0), 6)
        probabilities = np.full((tokens.size, 5), 0.05, dtype=np.float32)
        probabilities[np.arange(tokens.size), tokens] = 0.8
        studies.append(StudyPredictions(study, probabilities, np.repeat(night["scorer1"], 6),
                                        np.ones(tokens.size, dtype=bool)))
    return save_staging_predictions(folder / "staging_predictions.npz", studies)


def test_evaluate_staging_prints_and_writes_bland_altman_and_inter_scorer_kappa(tmp_path: Path, capsys) -> None:
    nights = _nights(seed=2, n=6)
    for night in nights.values():
        night["model"][night["scorer1"] < 0] = 0
    predictions = _predictions(tmp_path / "pred", nights)
    second = tmp_path / "scorer2"
    second.mkdir()
    for study, night in nights.items():
        onsets = 30.0 * np.arange(night["scorer2"].size)
        names = {-1: "UNS", 0: "W", 1: "N1", 2: "N2", 3: "N3", 4: "REM"}
        pd.DataFrame({"onset": onsets, "duration": 30.0, "stage": [names[int(s)] for s in night["scorer2"]]}
                     ).to_csv(second / f"{study}.csv", index=False)
    out = tmp_path / "out"
    code = main(["evaluate", "staging", "--predictions", str(predictions), "--scored", str(second), "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "Bland–Altman, model vs scorer1" in captured.out and "TST (min)" in captured.out
    assert "scorer2 vs scorer1" in captured.out
    table = pd.read_csv(out / "agreement_bland_altman.csv")
    assert set(table["comparison"]) == {"model vs scorer1", "model vs scorer2", "scorer2 vs scorer1"}
    assert {"bias", "loa_low", "loa_high", "icc", "n"} <= set(table.columns)
    for name in ("bland_altman_model_vs_scorer1.png", "bland_altman_model_vs_scorer2.png"):
        assert (out / name).read_bytes()[:4] == b"\x89PNG"
    kappa = pd.read_csv(out / "agreement_kappa.csv")
    inter = kappa[(kappa["comparison"] == "scorer2 vs scorer1") & (kappa["study_id"] == "pooled")]["kappa"].item()
    keep = [(n["scorer1"] >= 0) & (n["scorer2"] >= 0) for n in nights.values()]
    expected = cohen_kappa_score(np.concatenate([n["scorer1"][k] for n, k in zip(nights.values(), keep, strict=True)]),
                                 np.concatenate([n["scorer2"][k] for n, k in zip(nights.values(), keep, strict=True)]))
    assert inter == pytest.approx(expected)
    summary = json.loads((out / "staging_metrics.json").read_text())["agreement"]
    assert summary["scorers"] == {"scorer1": "labels", "scorer2": str(second)}
    assert summary["icc"].startswith("ICC(A,1)")


def _spindle_epochs(path: Path, seconds: float = 1800.0, epoch: float = 5.0) -> np.ndarray:
    """1 for each 5-s epoch holding a scored spindle (DREAMS visual scoring: start and duration in s)."""
    lines = path.read_text().splitlines()[1:]
    marks = np.zeros(int(seconds // epoch), dtype=np.int8)
    for start, duration in (map(float, line.split()) for line in lines if line.strip()):
        marks[int(start // epoch): int((start + duration) // epoch) + 1] = 1
    return marks


@pytest.mark.shared
@pytest.mark.parametrize("excerpt", ["excerpt1", "excerpt3"])
def test_kappa_of_the_two_dreams_expert_scorings(shared: Path, excerpt: str) -> None:
    """The DREAMS excerpts carry two experts' *spindle* scorings (read at test time, CC BY-NC-ND): the
    epoch-wise agreement machinery gives scikit-learn's kappa on real two-scorer data."""
    from sleepfm.evaluate.agreement import kappa_of
    from sleepfm.report.sleep_stats import confusion_matrix

    folder = shared / "data/psg/dreams_cc-by-nc-nd"
    first = _spindle_epochs(folder / f"Visual_scoring1_{excerpt}.txt")
    second = _spindle_epochs(folder / f"Visual_scoring2_{excerpt}.txt")
    ours = kappa_of(confusion_matrix(first, second))
    assert ours == pytest.approx(cohen_kappa_score(first, second))
    assert -1 < ours < 1 and first.sum() and second.sum()
