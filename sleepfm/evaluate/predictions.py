"""Saved predictions, so metrics can be recomputed (or computed elsewhere) without a model.

Staging: ``staging_predictions.npz`` (no pickles) holding, for N studies with T tokens in all,
``study_ids`` (N,) str, ``offsets`` (N + 1,) int64 (study i owns rows ``offsets[i]:offsets[i+1]``),
``probabilities`` (T, 5) float32 softmax over Wake, N1, N2, N3, REM, ``labels`` (T,) int8
(-1 unscored) and ``valid`` (T,) bool (False = padded by the model).

Diagnosis: ``risk_scores.csv``, ``Study ID`` + one column per phecode, the head's log-hazards
(the layout of ``is_event.csv``).

The published evaluation scripts' pickles are read too (a folder holding
``all_outputs.pickle``, ``all_targets.pickle``/``all_masks.pickle`` for staging or
``all_event_times.pickle``/``all_is_event.pickle`` for diagnosis, and ``all_paths.pickle``),
through an unpickler that only rebuilds numpy arrays: a pickle asking for anything else
is refused rather than executed.
"""

from __future__ import annotations

import pickle
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

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


# ---------------------------------------------------------------------------- published pickles
_NUMPY_GLOBALS = {
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
}


class _ArrayUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _NUMPY_GLOBALS or (module == "numpy" and name.endswith("DType")):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not a numpy array type")


def _load_pickle(path: Path) -> Any:
    try:
        with open(path, "rb") as handle:
            return _ArrayUnpickler(handle).load()
    except FileNotFoundError:
        raise InputError("file not found", where=path) from None
    except (pickle.UnpicklingError, EOFError, AttributeError, ValueError) as exc:
        raise InputError(f"refused or unreadable pickle ({exc})", where=path,
                         fix="only pickles of numpy arrays (the published evaluation outputs) are read") from None


def is_published_folder(path: Path) -> bool:
    return Path(path).is_dir() and (Path(path) / "all_outputs.pickle").is_file()


def _paths(folder: Path) -> list[str]:
    paths = _load_pickle(folder / "all_paths.pickle")
    flat: list[str] = []
    for item in paths if isinstance(paths, list) else [paths]:
        flat.extend(str(p) for p in np.asarray(item, dtype=object).ravel())
    return [Path(p).stem for p in flat]


def load_published_staging(folder: Path) -> list[StudyPredictions]:
    """Studies from ``evaluate_sleep_staging.py`` pickles (lists of per-batch (B, L, 5) / (B, L) arrays).

    The published targets already count unscored epochs as Wake (-1 was replaced by 0).
    """
    folder = Path(folder)
    outputs = [np.asarray(b, dtype=np.float32) for b in _load_pickle(folder / "all_outputs.pickle")]
    targets = [np.asarray(b) for b in _load_pickle(folder / "all_targets.pickle")]
    masks = [np.asarray(b) for b in _load_pickle(folder / "all_masks.pickle")]
    probabilities = [item for batch in outputs for item in batch]
    labels = [item for batch in targets for item in batch]
    pads = [item for batch in masks for item in batch]
    ids = _paths(folder)
    if not (len(ids) == len(probabilities) == len(labels) == len(pads)):
        raise InputError("the pickles hold different numbers of studies", where=folder)
    return [StudyPredictions(study, p, np.rint(y).astype(np.int8), np.asarray(m) == 0)
            for study, p, y, m in zip(ids, probabilities, labels, pads, strict=True)]


def load_published_diagnosis(folder: Path, phecodes: Sequence[str] | None = None
                             ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """``(risk, is_event, time_to_event)`` from ``evaluate_disease_prediction.py`` pickles (N, K) each.

    Columns are ``phecodes`` (e.g. from ``label_mapping.csv``) or the output indices.
    """
    folder = Path(folder)
    risk = np.asarray(_load_pickle(folder / "all_outputs.pickle"), dtype=np.float64)
    times = np.asarray(_load_pickle(folder / "all_event_times.pickle"), dtype=np.float64)
    events = np.asarray(_load_pickle(folder / "all_is_event.pickle"), dtype=np.float64)
    ids = _paths(folder)
    if not (risk.shape == times.shape == events.shape) or risk.shape[0] != len(ids):
        raise InputError(f"pickle shapes disagree: outputs {risk.shape}, times {times.shape}, "
                         f"events {events.shape}, {len(ids)} paths", where=folder)
    columns = list(phecodes) if phecodes is not None else [str(k) for k in range(risk.shape[1])]
    if len(columns) != risk.shape[1]:
        raise InputError(f"{risk.shape[1]} outputs but {len(columns)} phecodes in the label mapping", where=folder)
    frames = (pd.DataFrame(a, index=ids, columns=columns) for a in (risk, events, times))
    return tuple(frames)  # type: ignore[return-value]
