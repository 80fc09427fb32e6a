"""Configuration of ``sleepfm pretrain`` and ``sleepfm finetune staging|diagnosis``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, NonNegativeFloat, PositiveFloat, PositiveInt

from sleepfm.config.base import ComponentSpec, StrictModel, WorkflowConfig


class ModelSpec(ComponentSpec):
    kind: ClassVar[str] = "models"
    name: str = "set-transformer"


class HeadSpec(ComponentSpec):
    kind: ClassVar[str] = "heads"


class LossSpec(ComponentSpec):
    kind: ClassVar[str] = "losses"


class OptimizerConfig(StrictModel):
    name: Literal["sgd", "adam", "adamw"] = "adamw"
    lr: PositiveFloat = 1e-3
    weight_decay: NonNegativeFloat = 0.01
    momentum: NonNegativeFloat = 0.9
    betas: tuple[float, float] = (0.9, 0.999)


class SchedulerConfig(StrictModel):
    name: Literal["none", "step", "plateau", "cosine"] = "none"
    params: dict[str, Any] = Field(default_factory=dict)


class TrainerConfig(StrictModel):
    epochs: PositiveInt = 1
    max_steps: PositiveInt | None = Field(None, description="Stop after this many optimiser steps.")
    batch_size: PositiveInt = 16
    accumulation_steps: PositiveInt = 1
    amp: bool = Field(False, description="CUDA mixed precision (bf16 autocast).")
    device: Literal["auto", "cpu", "cuda"] = "auto"
    seed: int = 42
    num_workers: int = Field(0, ge=0)
    checkpoint_every: PositiveInt | None = Field(None, description="Save a resumable checkpoint every N steps.")
    eval_every: PositiveInt | None = Field(None, description="Validate every N steps (and at each epoch end).")
    log_every: PositiveInt = 10


class SplitConfig(StrictModel):
    file: Path | None = Field(None, description="A JSON of the published dataset_split.json shape.")
    train: str = "train"
    validation: str = "validation"
    test: str = "test"
    validation_fraction: float = Field(0.1, ge=0, lt=1)
    test_fraction: float = Field(0.1, ge=0, lt=1)


class PretrainData(StrictModel):
    signals: Path | None = Field(None, description="Folder of preprocessed HDF5 signal files.")
    channel_map: Path | None = None
    split: SplitConfig = SplitConfig(train="pretrain")


class PretrainConfig(WorkflowConfig):
    workflow: Literal["pretrain"] = "pretrain"
    out: Path | None = None
    data: PretrainData = PretrainData()
    model: ModelSpec = ModelSpec()
    loss: LossSpec = LossSpec(name="contrastive", params={"mode": "leave_one_out"})
    optimizer: OptimizerConfig = OptimizerConfig(name="sgd", lr=1e-3, momentum=0.9, weight_decay=0.0)
    scheduler: SchedulerConfig = SchedulerConfig(name="step", params={"step_size": 2, "gamma": 0.1})
    trainer: TrainerConfig = TrainerConfig(batch_size=128, epochs=2)


class StagingData(StrictModel):
    embeddings: Path | None = Field(None, description="Folder of embedding files from `sleepfm embed`.")
    labels: Path | None = Field(None, description="Folder of hypnograms (any supported format) or published CSVs.")
    unscored: Literal["mask", "wake"] = Field("mask", description="'wake' reproduces the published behaviour.")
    split: SplitConfig = SplitConfig()


class FinetuneConfig(WorkflowConfig):
    """What fine-tuning a head on embeddings needs, whatever the task (published defaults:
    AdamW, ReduceLROnPlateau with factor 0.1 and patience 10)."""

    out: Path | None = None
    head: HeadSpec
    loss: LossSpec
    optimizer: OptimizerConfig = OptimizerConfig()
    scheduler: SchedulerConfig = SchedulerConfig(name="plateau", params={"factor": 0.1, "patience": 10})
    trainer: TrainerConfig = TrainerConfig(epochs=20)


class FinetuneStagingConfig(FinetuneConfig):
    workflow: Literal["finetune-staging"] = "finetune-staging"
    data: StagingData = StagingData()
    head: HeadSpec = HeadSpec(name="lstm-staging")
    loss: LossSpec = LossSpec(name="cross-entropy", params={"class_weights": [1.0, 4.0, 2.0, 4.0, 3.0]})


class DiagnosisData(StrictModel):
    embeddings: Path | None = None
    is_event: Path | None = None
    time_to_event: Path | None = None
    demographics: Path | None = Field(None, description="CSV `Study ID,age,gender`.")
    split: SplitConfig = SplitConfig()


class FinetuneDiagnosisConfig(FinetuneConfig):
    workflow: Literal["finetune-diagnosis"] = "finetune-diagnosis"
    data: DiagnosisData = DiagnosisData()
    head: HeadSpec = HeadSpec(name="coxph-demo")
    loss: LossSpec = LossSpec(name="coxph", params={"ties": "efron"})
    trainer: TrainerConfig = TrainerConfig(epochs=40, batch_size=32)
