"""``sleepfm risk``: recordings + age and sex → per recording a table of log-hazards per phecode.

Writes ``<stem>.risk.csv`` and ``<stem>.risk.json`` per recording
(:mod:`sleepfm.clinical.risk_table`). Age and sex are validated and the label mapping is
read and checked against the head before any recording is processed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from sleepfm.config.demographics import DemographicsEncoding
from sleepfm.config.executor import ExecutorOptions, select_shard
from sleepfm.errors import SleepfmError
from sleepfm.labels.tables import read_label_mapping
from sleepfm.quality.clinical import recording_quality, warnings_for

from .inputs import recordings_and_names, report_set_aside
from .models import CheckpointSet, risk_runner
from .pipeline import OnDone
from .prepare import Notify, PrepareSettings, Recording
from .risk_table import find_label_mapping, risk_table, write_risk
from .stage import each_recording


class RiskModel:
    """The diagnosis head and its phecode names, loaded and cross-checked once."""

    def __init__(self, checkpoints: CheckpointSet, labels: Path | None, device: str) -> None:
        self.checkpoints = checkpoints
        self.labels_path = find_label_mapping(labels, checkpoints.root)
        if checkpoints.has("base"):
            checkpoints.check_sizes("diagnosis")
        self.runner = risk_runner(checkpoints.path("diagnosis"), device)
        self.labels = read_label_mapping(self.labels_path, self.runner.n_outputs, ordered=True)

    def table(self, recording: Recording, age: float, sex: str,
              encoding: DemographicsEncoding) -> tuple[pd.DataFrame, dict[str, Any]]:
        """The sorted risk table of one prepared recording and what produced it."""
        assert recording.embeddings is not None
        covariates = encoding.describe(age, sex)
        values, seen = self.runner.log_hazards(recording.embeddings,
                                               (covariates["age_normalised"], covariates["sex_code"]))
        if values.size != len(self.labels):
            raise SleepfmError(f"the diagnosis head gave {values.size} outputs for {len(self.labels)} labels")
        provenance = {
            "recording": str(recording.source),
            "demographics": covariates,
            "night": seen,
            "model": {"base": str(self.checkpoints.path("base")),
                      "diagnosis": str(self.checkpoints.path("diagnosis"))},
            "labels": str(self.labels_path),
            "columns": "log_hazard: the head's log-risk score per phecode (CoxPH, relative; not a probability)",
        }
        if recording.signals is not None:

            folders = [self.checkpoints.path("diagnosis"), self.checkpoints.path("base")]
            provenance["quality"] = recording_quality(recording.signals, recording.embeddings, folders)
        return risk_table(values, self.labels), provenance


@functools.lru_cache(maxsize=4)
def _risk_model(root: Path, diagnosis: Path, labels: Path | None, device: str) -> RiskModel:
    return RiskModel(CheckpointSet(root, {"diagnosis": diagnosis}), labels, device)


def risk_model(checkpoints: CheckpointSet, labels: Path | None, device: str) -> RiskModel:
    """The risk model, loaded once per process (a worker reuses it for every study)."""
    return _risk_model(checkpoints.root, checkpoints.path("diagnosis"), labels, device)


@dataclass(frozen=True)
class RiskResult:
    """A recording's risk table (sorted, highest first), what produced it, and the files written."""

    table: pd.DataFrame
    provenance: dict[str, Any]
    files: list[Path] = field(default_factory=list)
    #: What a user should hear about this night (signal quality, data unlike the model's).
    warnings: list[str] = field(default_factory=list)

    @property
    def hazards(self) -> pd.Series:
        """Log-hazard by phecode."""
        return self.table.set_index("phecode")["log_hazard"]


@dataclass(frozen=True)
class RiskAnalysis:
    """``sleepfm risk``'s own step (:class:`~sleepfm.clinical.pipeline.Analysis`); with ``out``
    ``None`` nothing is written."""

    models: CheckpointSet
    labels: Path | None
    device: str
    age: float
    sex: str
    encoding: DemographicsEncoding
    out: Path | None
    step: str = "risk"

    def __call__(self, recording: Recording) -> RiskResult:
        table, provenance = risk_model(self.models, self.labels, self.device).table(
            recording, self.age, self.sex, self.encoding)

        files = list(write_risk(self.out, recording.key, table, provenance)) if self.out is not None else []
        return RiskResult(table, provenance, files,
                          warnings_for(recording.key, provenance.get("quality") or {"verdict": "usable"}))


def risk_recordings(paths: Sequence[Path], checkpoints: Path, out: Path | None, *, age: float, sex: str,
                    labels: Path | None = None, encoding: DemographicsEncoding | None = None,
                    settings: PrepareSettings | None = None, work: Path | None = None,
                    diagnosis_head: Path | None = None, execution: ExecutorOptions | None = None,
                    notify: Notify | None = None, on_start: Callable[[int], None] | None = None,
                    on_done: OnDone | None = None) -> list[Recording]:
    """Risk tables for each recording of one participant (module docstring), each one's
    :class:`RiskResult` as ``recording.result``. ``diagnosis_head`` replaces
    ``<checkpoints>/model_diagnosis``; ``out=None`` writes nothing."""
    encoding, settings = encoding or DemographicsEncoding(), settings or PrepareSettings()
    execution = execution or ExecutorOptions()
    encoding.describe(age, sex)  # validates age and sex first
    out = Path(out).absolute() if out is not None else None
    found, keys = recordings_and_names(paths, out)
    report_set_aside(found)
    head = Path(diagnosis_head).absolute() if diagnosis_head is not None else None
    models = CheckpointSet(Path(checkpoints).absolute(), {"diagnosis": head}).require("base", "diagnosis")
    labels = Path(labels).absolute() if labels is not None else None
    if not (execution.executor == "dask" and settings.device == "cuda"):
        risk_model(models, labels, settings.device)  # the head and its labels are checked before any work
    analysis = RiskAnalysis(models, labels, settings.device, age, sex, encoding, out)
    return each_recording(select_shard(found.recordings, execution.shard), work, out, models, settings, notify,
                          analysis, execution, on_done, on_start=on_start, keys=select_shard(keys, execution.shard))
