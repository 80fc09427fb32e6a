"""The Python face of ``sleepfm evaluate``: same options, same files, the results returned.

>>> run = sleepfm.evaluate_staging(checkpoint="runs/staging", out="eval/staging")   # doctest: +SKIP
>>> run.evaluation.tokens.macro_f1, run.evaluation.epochs.kappa                      # doctest: +SKIP
>>> run = sleepfm.evaluate_diagnosis(predictions="eval/risk_scores.csv", out="eval2",
...                                  diagnosis={"is_event": "is_event.csv", "time_to_event": "tte.csv"},
...                                  tau=3650, bootstrap={"samples": 2000})          # doctest: +SKIP
>>> run.evaluation.table[["phecode", "harrell_c", "harrell_ci_low", "harrell_ci_high"]]  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sleepfm.config import load_config
from sleepfm.evaluate.run import DiagnosisRun, StagingRun, evaluate_from_config


def _run(task: str, config: str | Path | None, overrides: Iterable[str], options: dict[str, Any]) -> Any:
    resolved = load_config(Path(config) if config else None, workflow="evaluate", cli={**options, "task": task},
                           overrides=list(overrides))
    return evaluate_from_config(resolved)  # type: ignore[arg-type]


def evaluate_staging(
    *, checkpoint: str | Path | None = None, predictions: str | Path | None = None, out: str | Path | None = None,
    config: str | Path | None = None, overrides: Iterable[str] = (), **options: Any,
) -> StagingRun:
    """Score a staging head (or saved predictions); ``options`` are the keys of ``configs/evaluate-staging.yaml``."""
    return _run("staging", config, overrides, {"checkpoint": checkpoint, "predictions": predictions, "out": out,
                                              **options})


def evaluate_diagnosis(
    *, checkpoint: str | Path | None = None, predictions: str | Path | None = None, out: str | Path | None = None,
    config: str | Path | None = None, overrides: Iterable[str] = (), **options: Any,
) -> DiagnosisRun:
    """Score a diagnosis head (or saved risk scores); ``options``: keys of ``configs/evaluate-diagnosis.yaml``."""
    return _run("diagnosis", config, overrides, {"checkpoint": checkpoint, "predictions": predictions, "out": out,
                                                **options})
