"""Synthetic nights for the ``stage``, ``risk`` and ``run`` tests, written with the demo's PSG
generator (sleepfm.demo: a 12-channel EDF+ with EEG, EOG, chin/leg EMG, ECG, belts, airflow and
SpO2) and an EDF+ hypnogram of known stages."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np

W, N1, N2, N3, R = 0, 1, 2, 3, 4
#: 20 epochs = 10 minutes; its statistics are worked out by hand in the tests.
#       0  1  2   3   4   5   6   7   8   9  10  11 12 13  14  15  16 17  18  19
NIGHT = [W, W, N1, N2, N2, N2, N3, N3, N2, W, N2, R, R, R, N2, N2, W, W, N1, W]
START = datetime(2024, 3, 1, 22, 30, 0)
COMPAT = Path("reference/sleepfm-compat")
LABELS = Path("reference/label_mapping.csv")


def write_night(edf: Path, stages: list[int] = NIGHT, *, hypnogram: Path | None = None, seed: int = 0,
                start: datetime = START) -> Path:
    """A PSG of ``len(stages)`` 30-s epochs at ``edf``; with ``hypnogram``, its EDF+ scoring there."""
    from sleepfm.demo.physiology import Traits
    from sleepfm.demo.synth import synthesize_signals, write_hypnogram_edf, write_psg

    signals = synthesize_signals(np.asarray(stages), Traits(), np.random.default_rng(seed))
    write_psg(edf, signals, start=start, patient=f"p{seed}", male=bool(seed % 2))
    if hypnogram is not None:
        write_hypnogram_edf(hypnogram, np.asarray(stages), start=start)
    return edf


def token_probabilities(epochs: list[int], *, seed: int = 0) -> np.ndarray:
    """5-s stage probabilities whose 30-s means peak at ``epochs`` (one token per epoch disagrees)."""
    rng = np.random.default_rng(seed)
    rows = []
    for stage in epochs:
        for token in range(6):
            p = rng.dirichlet(np.ones(5)) * 0.2
            p[(stage + 1) % 5 if token == 3 else stage] += 0.8
            rows.append(p / p.sum())
    return np.array(rows)


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def assert_refused(main, cases, capsys) -> None:  # type: ignore[no-untyped-def]
    """Each ``(argv, exit code, message)`` fails with that code and one error line holding the message."""
    for argv, code, message in cases:
        assert main(argv) == code, argv
        err = capsys.readouterr().err
        lines = error_lines(err)
        assert len(lines) == 1 and message in lines[0], err
        assert "Traceback" not in err
