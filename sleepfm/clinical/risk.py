"""``sleepfm risk``: recordings + age and sex → per recording a table of log-hazards per phecode.

Writes ``<stem>.risk.csv`` and ``<stem>.risk.json`` per recording
(:mod:`sleepfm.clinical.risk_table`). Age and sex are validated and the label mapping is
read and checked against the head before any recording is processed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from sleepfm.config.demographics import DemographicsEncoding
from sleepfm.errors import SleepfmError
from sleepfm.labels.tables import read_label_mapping

from .inputs import recordings_and_names, report_set_aside
from .models import CheckpointSet, RiskRunner
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
        self.runner = RiskRunner(checkpoints.path("diagnosis"), device)
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
            from sleepfm.quality.clinical import recording_quality

            folders = [self.checkpoints.path("diagnosis"), self.checkpoints.path("base")]
            provenance["quality"] = recording_quality(recording.signals, recording.embeddings, folders)
        return risk_table(values, self.labels), provenance


def risk_recordings(paths: Sequence[Path], checkpoints: Path, out: Path, *, age: float, sex: str,
                    labels: Path | None = None, encoding: DemographicsEncoding | None = None,
                    settings: PrepareSettings | None = None, work: Path | None = None,
                    diagnosis_head: Path | None = None, notify: Notify | None = None) -> list[Recording]:
    """Risk tables for each recording of one participant (module docstring).
    ``diagnosis_head`` replaces ``<checkpoints>/model_diagnosis``."""
    encoding, settings = encoding or DemographicsEncoding(), settings or PrepareSettings()
    encoding.describe(age, sex)  # validates age and sex first
    found, keys = recordings_and_names(paths, Path(out))
    report_set_aside(found)
    sources = found.recordings
    models = CheckpointSet(Path(checkpoints), {"diagnosis": diagnosis_head}).require("base", "diagnosis")
    model = RiskModel(models, labels, settings.device)

    def risk(recording: Recording) -> None:
        from sleepfm.quality.clinical import warnings_for

        table, provenance = model.table(recording, age, sex, encoding)
        write_risk(Path(out), recording.key, table, provenance)
        for line in warnings_for(recording.key, provenance.get("quality") or {"verdict": "usable"}):
            (notify or (lambda _: None))(f"warning: {line}")

    return each_recording(sources, work, Path(out), models, settings, notify, "risk", risk, keys)
