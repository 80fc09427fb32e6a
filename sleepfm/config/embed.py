"""Configuration of ``sleepfm embed`` (HDF5 signals → per-modality embeddings)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, PositiveInt

from sleepfm.config.base import WorkflowConfig
from sleepfm.config.executor import ExecutorOptions
from sleepfm.config.names import ChannelMapperName
from sleepfm.config.quality import QualityConfig


class EmbedConfig(ExecutorOptions, WorkflowConfig):
    """Embed preprocessed studies with a base checkpoint."""

    workflow: Literal["embed"] = "embed"
    inputs: list[Path] = Field(default_factory=list, description="HDF5 signal files or folders.")
    checkpoint: Path | None = Field(None, description="Base model checkpoint folder (published or sleepfm).")
    out: Path | None = None
    channel_mapper: ChannelMapperName = Field(
        "rules", description="Mapper for files that store no modalities (the published converter's); "
        "files written by sleepfm use the modality stored with each channel.")
    channel_map: Path | None = Field(
        None, description="A channel_groups.json-shaped table: applies the `table` mapper to every file.")
    batch_size: PositiveInt = Field(16, description="5-minute segments (all their modalities) per forward pass.")
    device: Literal["auto", "cpu", "cuda"] = "auto"
    precision: Literal["fp32", "bf16", "auto"] = Field(
        "fp32", description="bf16: matrix products in bf16 (GPU, or CPU with bf16 instructions; elsewhere a warning "
        "and fp32); auto: bf16 on CPUs with AMX and GPUs with native bf16, else fp32. See docs/embed.md#precision.")
    threads: PositiveInt | None = Field(None, description="CPU worker threads (default: torch's thread count).")
    workers: PositiveInt = Field(
        1, description="Studies embedded at once: 1 = this process (on `threads` threads); N = N single-threaded "
        "worker processes, or a dask LocalCluster of N workers.")
    layout: Literal["sleepfm", "published"] = "sleepfm"
    partial_chunk: Literal["drop", "pad"] = "drop"
    overwrite: bool = Field(False, description=(
        "Redo studies whose output exists; by default an output made with the same checkpoint, partial_chunk, "
        "quality mode and precision is kept, so a killed run resumes."))
    quality: QualityConfig = Field(default_factory=QualityConfig, description=(
        "Masking by signal quality (`quality.mode`, `--quality mask|off`); stores without kept flags are "
        "checked as they are read (docs/quality.md)."))
