"""Training targets: sleep stages per 5-s embedding token, and per-outcome survival labels.

Staging: token i covers seconds ``[5i, 5i + 5)`` from the recording start (the start of the
first 5-minute chunk), as in the published pipeline. Hypnograms are read by
:mod:`sleepfm.labels` (the published CSV ``Start,Stop,StageName,StageNumber`` in 5-s rows or
longer runs, 30-s AASM epochs in NSRR XML or EDF+, ...) and each token takes the stage of the
epoch holding its midpoint, wherever the scoring starts. Stages: Wake 0, N1 1, N2 2, N3 3,
REM 4; unscored tokens are -1 and ignored by training and metrics unless ``unscored="wake"``
(the published behaviour, SPEC §10.4).

The diagnosis tables (outcomes, demographics) are read by :mod:`sleepfm.labels.tables`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np

from sleepfm.errors import InputError

TOKEN_SECONDS = 5.0
N_STAGES = 5
UNSCORED = -1
LABEL_SUFFIXES = (".csv", ".xml", ".txt", ".tsv", ".edf", ".hyp", ".annot", ".json")

Unscored = Literal["mask", "wake"]


def hypnogram_to_tokens(stages: np.ndarray, epoch_seconds: float, onset: float = 0.0,
                        token_seconds: float = TOKEN_SECONDS) -> np.ndarray:
    """Stage of each 5-s token (int8, -1 unscored) from consecutive epochs starting ``onset`` s
    into the recording: the epoch that holds the token's midpoint."""
    stages = np.asarray(stages, dtype=np.int8)
    end = onset + stages.size * epoch_seconds
    midpoints = (np.arange(int(np.ceil(max(end, 0.0) / token_seconds))) + 0.5) * token_seconds
    epoch = np.floor((midpoints - onset) / epoch_seconds).astype(np.int64)
    inside = (epoch >= 0) & (epoch < stages.size)
    tokens = np.full(midpoints.size, UNSCORED, dtype=np.int8)
    tokens[inside] = stages[epoch[inside]]
    return tokens


def read_stage_tokens(path: Path) -> np.ndarray:
    """Per-token stages of a hypnogram file in any format :func:`sleepfm.labels.read_hypnogram` reads
    (the published CSV, NSRR XML, EDF+ annotations, ...)."""
    from sleepfm.labels import read_hypnogram

    hypnogram = read_hypnogram(path)
    return hypnogram_to_tokens(hypnogram.stages, hypnogram.epoch_seconds, hypnogram.onset)


def align_tokens(tokens: np.ndarray, n_tokens: int, unscored: Unscored = "mask") -> np.ndarray:
    """Targets for ``n_tokens`` embeddings: truncated or padded with unscored (int64)."""
    out = np.full(n_tokens, UNSCORED, dtype=np.int64)
    n = min(n_tokens, tokens.size)
    out[:n] = tokens[:n]
    if unscored == "wake":
        out[out == UNSCORED] = 0
    return out


def find_label_files(folder: Path) -> dict[str, Path]:
    """Label files under ``folder`` by study ID (stem; NSRR ``-nsrr``/``-profusion`` suffixes dropped)."""
    found: dict[str, Path] = {}
    for path in sorted(Path(folder).rglob("*")):
        if not path.is_file() or path.suffix.lower() not in LABEL_SUFFIXES or path.name.startswith("."):
            continue
        key = path.stem
        for suffix in ("-nsrr", "-profusion", ".edf"):
            if key.lower().endswith(suffix):
                key = key[: -len(suffix)]
        if key in found:
            raise InputError(f"two label files for study {key!r}: {found[key]} and {path}", where=folder,
                             fix="keep one hypnogram per study in the labels folder")
        found[key] = path
    return found
