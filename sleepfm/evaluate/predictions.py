"""Saved predictions, so metrics can be recomputed (or computed elsewhere) without a model.

Staging: ``staging_predictions.npz`` (no pickles) holding, for N studies with T tokens in all,
``study_ids`` (N,) str, ``offsets`` (N + 1,) int64 (study i owns rows ``offsets[i]:offsets[i+1]``),
``probabilities`` (T, 5) float32 softmax over Wake, N1, N2, N3, REM, ``labels`` (T,) int8
(-1 unscored) and ``valid`` (T,) bool (False = padded by the model).

Diagnosis: ``risk_scores.csv``, ``Study ID`` + one column per phecode, the head's log-hazards
(the layout of ``is_event.csv``).
"""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from sleepfm.errors import InputError
from sleepfm.evaluate.diagnosis import read_outcome_table, write_outcome_table
from sleepfm.evaluate.outputs import staged_file
from sleepfm.evaluate.staging import StudyPredictions

STAGING_FILE = "staging_predictions.npz"
RISK_FILE = "risk_scores.csv"
_KEYS = ("study_ids", "offsets", "probabilities", "labels", "valid")


def save_staging_predictions(path: Path, studies: Sequence[StudyPredictions]) -> Path:
    offsets = np.concatenate([[0], np.cumsum([s.labels.size for s in studies])]).astype(np.int64)
    arrays = {
        "study_ids": np.array([s.study_id for s in studies], dtype=str),
        "offsets": offsets,
        "probabilities": np.concatenate([s.probabilities for s in studies]) if studies else np.zeros((0, 5)),
        "labels": np.concatenate([s.labels for s in studies]) if studies else np.zeros(0, np.int8),
        "valid": np.concatenate([s.valid for s in studies]) if studies else np.zeros(0, bool),
    }
    with staged_file(path) as tmp, open(tmp, "wb") as handle:
        np.savez_compressed(handle, **arrays)
    return Path(path)


def load_staging_predictions(path: Path) -> list[StudyPredictions]:
    path = Path(path)
    if path.is_dir():
        path = path / STAGING_FILE
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [k for k in _KEYS if k not in data.files]
            if missing:
                raise InputError(f"not a staging predictions file (no {', '.join(missing)})", where=path,
                                 fix=f"pass the {STAGING_FILE} an earlier `sleepfm evaluate staging` wrote")
            arrays = {k: data[k] for k in _KEYS}
    except FileNotFoundError:
        raise InputError("predictions file not found", where=path) from None
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise InputError(f"not a readable .npz file ({exc})", where=path) from None
    offsets = arrays["offsets"]
    if offsets.size != arrays["study_ids"].size + 1 or offsets[-1] != arrays["labels"].size:
        raise InputError("offsets do not match the arrays", where=path)
    return [
        StudyPredictions(str(study), arrays["probabilities"][a:b], arrays["labels"][a:b], arrays["valid"][a:b])
        for study, a, b in zip(arrays["study_ids"], offsets[:-1], offsets[1:], strict=True)
    ]


def write_risk_scores(path: Path, risk: pd.DataFrame) -> Path:
    return write_outcome_table(path, risk)


def read_risk_scores(path: Path) -> pd.DataFrame:
    path = Path(path)
    return read_outcome_table(path / RISK_FILE if path.is_dir() else path)
