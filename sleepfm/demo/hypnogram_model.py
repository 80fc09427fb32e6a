"""A generative model of a night's hypnogram, in 30-s epochs.

The night is built the way sleep medicine textbooks describe it:

* **sleep onset latency** (lognormal, median ~12 min of Wake) ending in a few minutes of N1;
* **NREM/REM cycles** of ``cycle_minutes`` (~90 min, jittered per cycle). Each cycle runs
  N2 → N3 → N2 → REM; the N3 part is long in the first cycle and shrinks (gone by the
  fourth), the REM part is short in the first cycle and grows in later ones ("N3 early,
  REM late");
* **brief awakenings** (Poisson, ``awakenings_per_hour``) of 30–90 s, each followed by
  a minute or two of N1 before the interrupted stage resumes (not inside N3, where
  arousals are rare);
* a final Wake period when the night ends with a cycle's REM.

Subject traits shift it: ``n3_scale`` stretches (or shrinks) every N3 period (older people
have less N3), ``fragmentation`` scales the awakening rate. The sequence is cut to
``night_minutes``. Everything is drawn from the ``numpy`` generator given, so a seed
fixes the night.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sleepfm.labels.hypnogram import Stage

EPOCH_SECONDS = 30
EPOCHS_PER_MINUTE = 60 // EPOCH_SECONDS


@dataclass(frozen=True)
class HypnogramModel:
    """Parameters of the night (minutes unless stated)."""

    night_minutes: float = 480.0
    onset_latency_median: float = 12.0
    cycle_minutes: float = 90.0
    n1_onset_minutes: float = 4.0
    # Share of each cycle spent in N3 and REM, cycle by cycle (the rest is N2).
    n3_share: tuple[float, ...] = (0.40, 0.25, 0.08, 0.0)
    rem_share: tuple[float, ...] = (0.13, 0.22, 0.28, 0.33)
    awakenings_per_hour: float = 1.5
    n3_scale: float = 1.0
    fragmentation: float = 1.0

    def sample(self, rng: np.random.Generator) -> np.ndarray:
        """Stage codes (int8, :class:`~sleepfm.interfaces.label_reader.Stage`), one per 30-s epoch."""
        n_epochs = round(self.night_minutes * EPOCHS_PER_MINUTE)
        stages: list[int] = []
        latency = rng.lognormal(np.log(self.onset_latency_median), 0.45)
        _extend(stages, Stage.W, latency)
        _extend(stages, Stage.N1, rng.uniform(0.6, 1.4) * self.n1_onset_minutes)
        cycle = 0
        while len(stages) < n_epochs:
            length = self.cycle_minutes * rng.uniform(0.85, 1.15)
            n3 = _share(self.n3_share, cycle) * length * self.n3_scale * rng.uniform(0.8, 1.2)
            rem = _share(self.rem_share, cycle) * length * rng.uniform(0.8, 1.2)
            n2 = max(length - n3 - rem, 0.3 * length)
            # N2 before N3 is short in the first cycle (deep sleep comes quickly), longer later.
            lead = n2 * (0.35 if cycle == 0 else 0.6)
            for stage, minutes in ((Stage.N2, lead), (Stage.N3, n3), (Stage.N2, n2 - lead), (Stage.REM, rem)):
                _extend(stages, stage, minutes)
            cycle += 1
        night = np.asarray(stages[:n_epochs], dtype=np.int8)
        return self._awaken(night, rng)

    def _awaken(self, night: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        hours = night.size / (60 * EPOCHS_PER_MINUTE)
        count = rng.poisson(self.awakenings_per_hour * self.fragmentation * hours)
        asleep = np.flatnonzero((night != Stage.W) & (night != Stage.N3))
        # No awakening before the first N2: sleep onset is already a Wake → N1 transition.
        first_n2 = int(np.argmax(night == Stage.N2))
        asleep = asleep[asleep > first_n2]
        if count == 0 or asleep.size == 0:
            return night
        out = night.copy()
        for start in np.sort(rng.choice(asleep, size=min(count, asleep.size), replace=False)):
            wake = int(rng.integers(1, 4))
            drowsy = int(rng.integers(1, 5))
            out[start:start + wake] = Stage.W
            end = min(start + wake + drowsy, out.size)
            # N1 after the awakening, unless the night returns straight to REM.
            out[start + wake:end] = np.where(out[start + wake:end] == Stage.REM, Stage.REM, Stage.N1)
        return out


def _share(shares: tuple[float, ...], cycle: int) -> float:
    return shares[min(cycle, len(shares) - 1)]


def _extend(stages: list[int], stage: Stage, minutes: float) -> None:
    stages.extend([int(stage)] * max(round(minutes * EPOCHS_PER_MINUTE), 0))


def stage_minutes(stages: np.ndarray) -> dict[str, float]:
    """Minutes per stage (``{"W": 31.5, "N1": ..., ...}``)."""
    return {s.name: float(np.sum(stages == s.value)) / EPOCHS_PER_MINUTE for s in Stage if s != Stage.UNS}
