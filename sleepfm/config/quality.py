"""Configuration of signal quality: which checks run, what masks a channel, how a study is judged,
and the ``sleepfm qc`` workflow.

The ``quality`` section is shared: ``preprocess`` runs its checks and keeps their flags in the
signal store, ``embed`` masks by it, ``qc`` reports by it, ``stage`` and ``run`` judge by it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, PositiveInt, field_validator

from sleepfm.config.base import ComponentSpec, ConfigModel, WorkflowConfig
from sleepfm.config.executor import ExecutorOptions

#: The built-in checks in the order their flags are stored (docs/quality.md defines each).
BUILTIN_CHECKS: tuple[str, ...] = (
    "non_finite", "flat", "clipping", "high_amplitude", "line_noise", "implausible", "zscore_dominated",
)
#: Checks whose flags leave a channel out of a chunk by default. ``zscore_dominated`` is a property
#: of the whole night (its cure is ``preprocess --scale robust``), not of a chunk.
MASKING_CHECKS: tuple[str, ...] = BUILTIN_CHECKS[:-1]


class QualityCheckSpec(ComponentSpec):
    """A quality check by its registered name (``sleepfm plugins --kind quality_checks``) and thresholds."""

    kind: ClassVar[str] = "quality_checks"


class VerdictConfig(ConfigModel):
    """How a study's verdict (usable / degraded / unusable) is reached from its flags."""

    degraded_below: float = Field(0.9, gt=0, le=1, description=(
        "A modality present but usable in less than this fraction of the night's 30-s epochs makes the study "
        "degraded."))
    unusable_below: float = Field(0.5, gt=0, le=1, description=(
        "BAS usable in less than this fraction of the epochs (or no BAS) makes it unusable: staging rests on it."))
    channel_degraded: float = Field(0.2, gt=0, le=1, description=(
        "A mapped channel flagged in more than this fraction of the night makes the study degraded."))


class QualityConfig(ConfigModel):
    """The ``quality`` section."""

    mode: Literal["mask", "off"] = Field("mask", description=(
        "embed: `mask` leaves a channel out of each 5-minute chunk where the masking checks flag it (a modality "
        "left with no channel is marked missing there); `off` feeds every channel as published. Non-finite "
        "samples are left out in both modes."))
    checks: list[QualityCheckSpec] = Field(
        default_factory=lambda: [QualityCheckSpec(name=name) for name in BUILTIN_CHECKS],
        description="Checks to run, by registered name, each with its thresholds under `params`.")
    mask_checks: list[str] = Field(list(MASKING_CHECKS), description=(
        "Checks whose flags leave a channel out of a 5-minute chunk in `embed --quality mask`. Non-finite "
        "samples are always left out, whatever this says: they would turn the chunk's embedding into NaN."))
    mask_fraction: float = Field(0.25, gt=0, le=1, description=(
        "A channel is left out of a 5-minute chunk when at least this fraction of the chunk's 5-s patches is "
        "flagged by a masking check (a brief movement stays in; a minute of it goes)."))
    verdict: VerdictConfig = Field(default_factory=VerdictConfig)
    unmapped: bool = Field(False, description=(
        "Also check channels that map to no modality (event markers, hypnogram channels): the model never "
        "sees them, so by default they are listed but not judged."))

    @field_validator("mode", mode="before")
    @classmethod
    def _yaml_off(cls, value: Any) -> Any:
        # YAML reads a bare off (as in --set quality.mode=off) as a boolean.
        return "off" if value is False else value

    @field_validator("checks")
    @classmethod
    def _unique(cls, checks: list[QualityCheckSpec]) -> list[QualityCheckSpec]:
        names = [c.name for c in checks]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"check {repeated[0]!r} is listed twice")
        if len(names) > 32:
            raise ValueError("at most 32 checks (their flags are stored as 32-bit masks)")
        return checks


class QcConfig(ExecutorOptions, WorkflowConfig):
    """``sleepfm qc``: per study a flag table, a summary with a verdict and a heat map (executor
    keys: docs/scale.md)."""

    workflow: Literal["qc"] = "qc"
    inputs: list[Path] = Field(default_factory=list, description="EDF/BDF recordings or signal stores, or folders.")
    out: Path | None = Field(None, description="Output folder.")
    hypnograms: list[Path] = Field(default_factory=list, description=(
        "Scored hypnograms drawn above the heat maps, one per input recording, in order."))
    hypnogram_format: str = Field("auto", description="Label reader name, or 'auto'.")
    reader: str = Field("auto", description="Signal reader for EDF/BDF inputs.")
    channel_mapper: str = Field("rules", description="Channel mapper for EDF/BDF inputs and published stores.")
    channel_map: Path | None = Field(None, description="A channel_groups.json-shaped table (mapper 'table').")
    plot: bool = Field(True, description="Write <stem>.qc.png.")
    workers: PositiveInt = Field(
        1, description="CPU cores: studies checked at once in worker processes, threads within one (converting "
        "EDF/BDF inputs); with dask, the LocalCluster's workers.")
    quality: QualityConfig = Field(default_factory=QualityConfig)
