"""Configuration of ``sleepfm evaluate staging|diagnosis``.

Either a head checkpoint is run over embeddings (``checkpoint`` + the task's ``embeddings``),
or saved predictions are scored again (``predictions``: the ``staging_predictions.npz`` or
``risk_scores.csv`` an earlier evaluation wrote), no model needed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, NonNegativeInt, PositiveInt

from sleepfm.config.base import ConfigModel, WorkflowConfig
from sleepfm.config.training import DiagnosisData, StagingData


class BootstrapConfig(ConfigModel):
    samples: int = Field(1000, ge=0, description="Resamples of the test studies; 0 turns the CIs off.")
    confidence: float = Field(0.95, gt=0, lt=1)
    seed: int = 0


class EvaluateConfig(WorkflowConfig):
    workflow: Literal["evaluate"] = "evaluate"
    task: Literal["staging", "diagnosis"] = "staging"
    checkpoint: Path | None = Field(None, description="Head checkpoint folder.")
    predictions: Path | None = Field(None, description="Saved predictions to score instead of running a head.")
    out: Path | None = None
    split: str = Field("test", description="Which split of the split file to evaluate.")
    staging: StagingData = StagingData()
    diagnosis: DiagnosisData = DiagnosisData()
    label_mapping: Path | None = Field(
        None, description="label_idx,phecode,phenotype CSV joined to diagnosis results (e.g. label_mapping.csv)."
    )
    tau: float | None = Field(None, gt=0, description="Truncation time for Uno's C (same unit as the times).")
    bootstrap: BootstrapConfig = BootstrapConfig()
    scored: list[Path] = Field([], description="Staging: further scorers' hypnogram folders (files named by "
                               "study, like the labels'); adds inter-scorer kappa and their Bland–Altman rows.")
    hypnogram_plots: NonNegativeInt = Field(3, description="Staging: draw predicted vs scored hypnograms of this "
                                            "many studies (the first by study ID).")
    batch_size: PositiveInt = 8
    device: Literal["auto", "cpu", "cuda"] = "auto"
