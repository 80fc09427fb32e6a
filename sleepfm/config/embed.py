"""Configuration of ``sleepfm embed`` (HDF5 signals → per-modality embeddings)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, PositiveInt

from sleepfm.config.base import WorkflowConfig


class EmbedConfig(WorkflowConfig):
    """Embed preprocessed studies with a base checkpoint."""

    workflow: Literal["embed"] = "embed"
    inputs: list[Path] = Field(default_factory=list, description="HDF5 signal files or folders.")
    checkpoint: Path | None = Field(None, description="Base model checkpoint folder (published or sleepfm).")
    out: Path | None = None
    channel_mapper: str = "rules"
    channel_map: Path | None = None
    batch_size: PositiveInt = 16
    device: Literal["auto", "cpu", "cuda"] = "auto"
    layout: Literal["sleepfm", "published"] = "sleepfm"
    partial_chunk: Literal["drop", "pad"] = "drop"
