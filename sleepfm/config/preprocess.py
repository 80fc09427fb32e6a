"""Configuration of ``sleepfm preprocess`` (EDF/BDF → 128 Hz HDF5)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, PositiveInt

from sleepfm.config.base import WorkflowConfig
from sleepfm.config.executor import ExecutorOptions
from sleepfm.config.names import ChannelMapperName, ReaderName
from sleepfm.config.quality import QualityConfig


class PreprocessConfig(ExecutorOptions, WorkflowConfig):
    """Turn PSG files into one HDF5 store per study."""

    workflow: Literal["preprocess"] = "preprocess"
    inputs: list[Path] = Field(default_factory=list, description="Files or folders (searched recursively).")
    out: Path | None = Field(None, description="Output folder for <stem>.h5 files and the manifest.")
    reader: ReaderName = Field("auto", description="Signal reader name, or 'auto' to pick by file.")
    channel_mapper: ChannelMapperName = Field("rules", description="Channel mapper name.")
    channel_map: Path | None = Field(None, description="A JSON table of the published shape; implies mapper 'table'.")
    target_rate: float = Field(128.0, gt=0, description="Sampling rate of the stored signals in Hz.")
    compression: Literal["gzip", "lzf", "zstd", "none"] = Field(
        "none", description="Dataset compression (docs/preprocess.md has the measurements).")
    compression_level: int | None = Field(None, ge=0, le=22, description="gzip 1-9 (default 4), zstd 1-22 (default 1).")
    shuffle: bool = Field(True, description="HDF5 byte shuffle before compression (smaller float16 files).")
    workers: PositiveInt = Field(1, description="CPU cores to use: processes across studies, threads within one.")
    threads: PositiveInt | None = Field(None, description="Threads per study; default: workers left over per study.")
    overwrite: bool = False
    scale: Literal["published", "robust"] = Field("published", description=(
        "published: z-score each channel over the night, as the released weights expect (parity). robust: an "
        "EEG or respiratory channel whose z-score artifacts would dominate (standard deviation over 3× the "
        "robust one) is clipped to its median ± scale_clip robust standard deviations and z-scored with the "
        "mean and deviation of the samples within; every other channel is stored exactly as published "
        "(docs/quality.md)."))
    scale_clip: float = Field(8.0, gt=2, description="Robust standard deviations kept by --scale robust.")
    quality: QualityConfig = Field(default_factory=QualityConfig, description=(
        "The quality checks run on each channel as it is stored; their per-patch flags are kept in the store "
        "(docs/quality.md). `quality.checks=[]` runs none."))

