"""Configuration of ``sleepfm run`` (cohort → staging, agreement, risk, reports).

Resolved in this order, later wins: the defaults below, the cohort adapter's
``default_config()`` (e.g. its channel map), the ``--config`` file, the command-line options,
``--set key=value``. The resolved config is saved as ``<out>/config.resolved.yaml``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, PositiveInt, field_validator

from sleepfm import registry
from sleepfm.config.base import (
    ComponentSpec,
    ConfigModel,
    WorkflowConfig,
    apply_overrides,
    merge,
    read_yaml,
    validate,
)
from sleepfm.config.demographics import DemographicsEncoding
from sleepfm.config.executor import ExecutorOptions
from sleepfm.config.names import ChannelMapperName, ReaderName
from sleepfm.config.quality import QualityConfig
from sleepfm.errors import ConfigError, UnknownComponentError, UsageError

WORKFLOW = "run"


class CohortSpec(ComponentSpec):
    """The cohort adapter (`sleepfm plugins --kind cohorts`) and its own parameters."""

    kind: ClassVar[str] = "cohorts"
    name: str = Field("cohort-edf", description="Registered cohort adapter (`sleepfm plugins --kind cohorts`).")

    def component(self) -> Any:
        """The adapter class; an unknown name fails with one line naming the installed ones and
        how to install more."""
        try:
            return registry.get(self.kind, self.name)
        except UnknownComponentError:
            names = registry.names(self.kind)
            close = difflib.get_close_matches(self.name, names, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise UsageError(
                f"unknown cohort {self.name!r}; available cohorts: {', '.join(names) or 'none'}",
                fix=f"{hint}install its package (e.g. pip install sleepfm-cohort-shhs) or pick one of those",
            ) from None


class RunPreprocess(ConfigModel):
    reader: ReaderName = Field("auto", description="Signal reader name, or auto.")
    channel_mapper: ChannelMapperName = Field("rules", description="Channel mapper name.")
    channel_map: Path | None = Field(None, description="Published-shape channel table (implies mapper 'table').")
    workers: PositiveInt = Field(
        1, description="Studies preprocessed at once (local worker processes; with dask, LocalCluster workers).")
    scale: Literal["published", "robust"] = Field(
        "published", description="published: z-scored as the released weights expect; robust: a channel whose "
        "artifacts dominate its z-score is scaled by its in-bounds samples (docs/quality.md).")
    scale_clip: float = Field(8.0, gt=2, description="Robust standard deviations kept by scale: robust.")


class RunEmbed(ConfigModel):
    batch_size: PositiveInt = Field(16, description="5-minute segments per forward pass.")
    device: Literal["auto", "cpu", "cuda"] = "auto"
    precision: Literal["fp32", "bf16", "auto"] = Field(
        "fp32", description="fp32, bf16 or auto (bf16 where the CPU has AMX); see docs/embed.md#precision.")
    partial_chunk: Literal["drop", "pad"] = Field(
        "pad", description="pad: the last partial 5 minutes are embedded (masked) so the whole night is staged.")


class RunStaging(ConfigModel):
    detail_5s: bool = Field(False, description="Also write <id>.hypnogram-5s.csv (one row per 5-s token).")
    plots: bool = Field(True, description="Draw <id>.png per study and put them in the report.")
    unscored: str = Field("UNS", description="Stage for unscored epochs of scored hypnograms (UNS: left out).")
    movement: str = Field("UNS", description="Stage for movement-time epochs of scored hypnograms.")
    accept_other_night: bool = Field(
        False, description="Use a scored hypnogram dated on another day than its recording (noted in the report) "
        "instead of leaving it out.")
    formats: list[str] = Field(["csv"], min_length=1, description="Hypnogram writers each study's staging is "
                               "written with (`sleepfm plugins --kind hypnogram_writers`), e.g. [csv, edf, bids].")

    @field_validator("formats", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        # `--format edf,bids` and `--set staging.formats=edf,bids` give one comma-separated string.
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value


class RunRisk(ConfigModel):
    enabled: Literal["auto", "on", "off"] = Field(
        "auto", description="auto: for studies with age and sex, when model_diagnosis and phecode names exist.")
    labels: Path | None = Field(
        None, description="label_mapping.csv (default: the checkpoints' own, else sleepfm's phecode table).")
    encoding: DemographicsEncoding = DemographicsEncoding()

    @field_validator("enabled", mode="before")
    @classmethod
    def _yaml_booleans(cls, value: Any) -> Any:
        # YAML reads a bare on/off (as in --set risk.enabled=on) as a boolean.
        return {True: "on", False: "off"}.get(value, value) if isinstance(value, bool) else value


class RunReport(ConfigModel):
    format: Literal["markdown", "html"] = Field("markdown", description="report.md or report.html beside report.json.")


class RunConfig(ExecutorOptions, WorkflowConfig):
    """Run a cohort end to end (executor keys: docs/scale.md)."""

    workflow: Literal["run"] = "run"
    cohort: CohortSpec = CohortSpec()
    data: Path | None = Field(None, description="The cohort's data folder.")
    out: Path | None = Field(None, description="Output folder (report, per-study results, intermediate stores).")
    checkpoints: Path | None = Field(
        None, description="Folder with model_base/, model_sleep_staging/ and optionally model_diagnosis/.")
    staging_head: Path | None = Field(
        None, description="Staging head checkpoint used instead of <checkpoints>/model_sleep_staging.")
    diagnosis_head: Path | None = Field(
        None, description="Diagnosis head checkpoint used instead of <checkpoints>/model_diagnosis.")
    overwrite: bool = Field(False, description="Redo studies whose signal and embedding stores already exist.")
    preprocess: RunPreprocess = RunPreprocess()
    embed: RunEmbed = RunEmbed()
    staging: RunStaging = RunStaging()
    risk: RunRisk = RunRisk()
    report: RunReport = RunReport()
    quality: QualityConfig = Field(default_factory=QualityConfig, description=(
        "The quality checks whose flags preprocess keeps, embed's masking (`quality.mode`: mask or off) and the "
        "verdicts in the report (docs/quality.md)."))


def _layers(path: Path | None, cli: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    data: dict[str, Any] = read_yaml(path) if path is not None else {}
    declared = data.get("workflow", WORKFLOW)
    if declared != WORKFLOW:
        raise ConfigError(f"workflow: this file is for {declared!r}, not {WORKFLOW!r}", where=path,
                          fix="pass a run config (see configs/run.yaml)")
    return data, {k: v for k, v in cli.items() if v is not None}


def resolve_run_config(path: Path | None, *, cli: Mapping[str, Any], overrides: Iterable[str],
                       cohort_defaults: Any = None) -> RunConfig:
    """The run config from its layers (module docstring). ``cohort_defaults`` is a callable taking
    the cohort spec and returning that adapter's ``default_config()``; it is called once the
    cohort is known, so a ``--set cohort.name=...`` still picks the right defaults."""
    where = str(path) if path is not None else "command line"
    file_layer, cli_layer = _layers(path, cli)
    user = apply_overrides(merge(file_layer, cli_layer), list(overrides))
    user["workflow"] = WORKFLOW
    first = validate(RunConfig, user, where=where)
    assert isinstance(first, RunConfig)
    if cohort_defaults is None:
        return first
    defaults = dict(cohort_defaults(first.cohort) or {})
    resolved = validate(RunConfig, merge(defaults, user), where=where)
    assert isinstance(resolved, RunConfig)
    return resolved
