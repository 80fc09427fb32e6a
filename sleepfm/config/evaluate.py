"""Configuration of ``sleepfm evaluate staging|diagnosis``."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, PositiveInt

from sleepfm.config.base import StrictModel, WorkflowConfig
from sleepfm.config.training import DiagnosisData, StagingData


class BootstrapConfig(StrictModel):
    samples: PositiveInt = 1000
    confidence: float = Field(0.95, gt=0, lt=1)
    seed: int = 0


class EvaluateConfig(WorkflowConfig):
    workflow: Literal["evaluate"] = "evaluate"
    task: Literal["staging", "diagnosis"] = "staging"
    checkpoint: Path | None = Field(None, description="Head checkpoint folder.")
    out: Path | None = None
    split: str = "test"
    staging: StagingData = StagingData()
    diagnosis: DiagnosisData = DiagnosisData()
    labels: Path | None = Field(None, description="label_idx,phecode,phenotype CSV joined to diagnosis results.")
    tau: float | None = Field(None, gt=0, description="Truncation time for Uno's C.")
    bootstrap: BootstrapConfig = BootstrapConfig()
