"""The per-recording risk table: one log-hazard per phecode, named, sorted, with its provenance.

Files written for a recording ``<stem>``:

``<stem>.risk.csv``
    ``rank,label_idx,phecode,phenotype,log_hazard``, one row per output of the diagnosis head,
    highest log-hazard first. A log-hazard is a relative risk score on the scale the head was
    trained on (CoxPH: the baseline hazard is not part of the model), so rows compare
    conditions for one night and nights for one condition; they are not probabilities.
``<stem>.risk.json``
    What produced the table: the age and sex given, the covariates the head received and the
    encoding that made them (:mod:`sleepfm.config.demographics`), the checkpoint, the label
    file, how much of the night the head saw, and the ten highest rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sleepfm.config.base import atomic_write_text
from sleepfm.errors import InputError
from sleepfm.json_output import json_text

LABEL_FILE = "label_mapping.csv"


def packaged_label_mapping() -> Path:
    """sleepfm's copy of the released ``label_mapping.csv``: the 1,065 phecodes of the published
    diagnosis head, in output order (facts from the SleepFM release, shipped as package data)."""
    from importlib import resources

    return Path(str(resources.files("sleepfm") / "data" / LABEL_FILE))


def find_label_mapping(explicit: Path | None, checkpoints: Path | None) -> Path:
    """``--labels`` if given; else the checkpoints' own ``label_mapping.csv`` (in ``model_diagnosis/``,
    the checkpoints folder, or the release's ``configs/`` beside it); else sleepfm's packaged copy
    of the released table (:func:`packaged_label_mapping`). Its row count is checked against the
    head when it is read, so a head with other outputs is never named by the wrong table."""
    if explicit is not None:
        return Path(explicit)
    candidates = [] if checkpoints is None else [Path(checkpoints) / "model_diagnosis" / LABEL_FILE,
                                                 Path(checkpoints) / LABEL_FILE,
                                                 Path(checkpoints).parent / "configs" / LABEL_FILE]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    return packaged_label_mapping()


def risk_table(log_hazards: np.ndarray, labels: pd.DataFrame) -> pd.DataFrame:
    """Rows of ``labels`` with their log-hazard, highest first (ties keep label order)."""
    values = np.asarray(log_hazards, dtype=np.float64).reshape(-1)
    if values.size != len(labels):
        raise InputError(f"{values.size} log-hazards for {len(labels)} labels")
    table = labels.assign(log_hazard=values)
    table = table.sort_values("log_hazard", ascending=False, kind="stable").reset_index(drop=True)
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    return table


def risk_summary(table: pd.DataFrame, *, top: int = 10) -> list[dict[str, Any]]:
    """The ``top`` highest rows as JSON-ready dicts."""
    return [{"phecode": row.phecode, "phenotype": row.phenotype, "log_hazard": float(row.log_hazard)}
            for row in table.head(top).itertuples()]


def risk_texts(table: pd.DataFrame, provenance: dict[str, Any]) -> tuple[str, str]:
    """The CSV and JSON texts of one recording's risk outputs (rendered before anything is written)."""
    return table.to_csv(index=False, float_format="%.6f"), json_text({**provenance, "top": risk_summary(table)})


def write_risk(out: Path, stem: str, table: pd.DataFrame, provenance: dict[str, Any]) -> tuple[Path, Path]:
    """Write ``<stem>.risk.csv`` and ``<stem>.risk.json`` into ``out`` (each atomically)."""
    csv_body, json_body = risk_texts(table, provenance)
    csv_path, json_path = Path(out) / f"{stem}.risk.csv", Path(out) / f"{stem}.risk.json"
    atomic_write_text(csv_path, csv_body)
    atomic_write_text(json_path, json_body)
    return csv_path, json_path
