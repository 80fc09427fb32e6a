"""A night with every stage, unscored epochs, an onset after the recording start and stage
probabilities, for the hypnogram writer tests."""

from __future__ import annotations

from datetime import datetime

import numpy as np

from sleepfm.interfaces.hypnogram_writer import HypnogramExport
from sleepfm.labels.hypnogram import Hypnogram

W, N1, N2, N3, R, U = 0, 1, 2, 3, 4, -1
STAGES = [U, W, W, N1, N2, N2, N3, N3, N2, R, R, W, U, N2, R, W]
START = datetime(2024, 3, 1, 22, 30, 0)


def night(*, start: datetime | None = START, onset: float = 60.0, probabilities: bool = True) -> HypnogramExport:
    rng = np.random.default_rng(0)
    stages = np.array(STAGES, dtype=np.int8)
    proba = None
    if probabilities:
        proba = rng.dirichlet(np.ones(5), size=stages.size) * 0.3
        proba[np.arange(stages.size), np.maximum(stages, 0)] += 0.7
    return HypnogramExport(Hypnogram(stages, epoch_seconds=30.0, onset=onset, start_time=start),
                           probabilities=proba, scorer="sleepfm", provenance={"checkpoint": "model_sleep_staging"})
