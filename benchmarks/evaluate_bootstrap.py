"""Bootstrap CIs of Harrell's and Uno's C over 1,065 phecodes: sleepfm vs a scikit-survival loop.

The baseline is what one would write with scikit-survival alone: for every phecode and
every resample, index the arrays and call ``concordance_index_censored`` (and
``concordance_index_ipcw``). It is timed on a few phecodes and scaled to all of them;
sleepfm's :func:`sleepfm.evaluate.diagnosis.evaluate_diagnosis` runs in full.

    .venv/bin/python benchmarks/evaluate_bootstrap.py [--subjects 1000] [--samples 1000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from sksurv.metrics import concordance_index_censored, concordance_index_ipcw
from sksurv.util import Surv

from sleepfm.evaluate.concordance import bootstrap_counts
from sleepfm.evaluate.diagnosis import SurvivalLabels, evaluate_diagnosis


def cohort(rng: np.random.Generator, n: int, k: int, prefix: str) -> tuple[pd.DataFrame, SurvivalLabels]:
    rates = np.exp(rng.uniform(np.log(0.002), np.log(0.2), k))  # prevalence from rare to common
    risk = rng.normal(size=(n, k))
    follow_up = rng.uniform(365, 3650, (n, 1))
    onset = rng.exponential(1.0, (n, k)) / (rates * np.exp(0.5 * risk)) * 3650
    event = onset < follow_up
    time_ = np.where(event, np.ceil(onset), follow_up)
    index = [f"{prefix}{i}" for i in range(n)]
    columns = [f"p{j}" for j in range(k)]
    return (pd.DataFrame(risk + rng.normal(size=(n, k)), index=index, columns=columns),
            SurvivalLabels(pd.DataFrame(event.astype(float), index=index, columns=columns),
                           pd.DataFrame(time_, index=index, columns=columns)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=1000)
    parser.add_argument("--phecodes", type=int, default=1065)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--baseline-phecodes", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    risk, test = cohort(rng, args.subjects, args.phecodes, "s")
    _, train = cohort(rng, args.subjects, args.phecodes, "t")
    tau = 3000.0

    start = time.perf_counter()
    evaluation = evaluate_diagnosis(risk, test, train, tau=tau, samples=args.samples, seed=0)
    ours = time.perf_counter() - start
    ok = (evaluation.table["harrell_status"] == "ok").sum()

    picks = rng.choice(args.phecodes, args.baseline_phecodes, replace=False)
    counts = bootstrap_counts(args.subjects, args.samples, 0)
    start = time.perf_counter()
    for k in picks:
        e = test.event.iloc[:, k].to_numpy() > 0
        t = test.time.iloc[:, k].to_numpy()
        r = risk.iloc[:, k].to_numpy()
        y_train = Surv.from_arrays(train.event.iloc[:, k].to_numpy() > 0, train.time.iloc[:, k].to_numpy())
        for b in range(args.samples):
            index = np.repeat(np.arange(args.subjects), counts[b].astype(int))
            try:
                concordance_index_censored(e[index], t[index], r[index])
                concordance_index_ipcw(y_train, Surv.from_arrays(e[index], t[index]), r[index], tau=tau)
            except ValueError:
                pass  # a resample without comparable pairs
    baseline = (time.perf_counter() - start) / len(picks) * args.phecodes

    print(f"{args.phecodes} phecodes x {args.samples} resamples, {args.subjects} test subjects "
          f"({ok} phecodes with comparable pairs), Harrell's + Uno's C with 95% CIs")
    print(f"  scikit-survival loop (timed on {len(picks)} phecodes, scaled): {baseline:9.1f} s")
    print(f"  sleepfm evaluate_diagnosis:                          {ours:9.1f} s")
    print(f"  speed-up: {baseline / ours:.0f}x")


if __name__ == "__main__":
    main()
