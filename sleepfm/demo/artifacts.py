"""Artifacts injected into synthetic nights, with their ground truth (for ``benchmarks/quality.py``,
the quality tests and docs/quality.md's figure).

Each kind imitates what a lab sees and names the quality check meant to catch it:

==============  ==================================================================  ==================
kind            what is done to the channel                                          check
==============  ==================================================================  ==================
pop_off         the electrode comes off: a flat line at a small offset               ``flat``
saturation      the amplifier saturates: gain ×40, clipped at the EDF's limits       ``clipping``
movement        1.5–4-s bursts of slow, large swings (20–30× the channel's scale)    ``high_amplitude``
line_noise      50 or 60 Hz mains hum at 3–6× the channel's scale                    ``line_noise``
nan_run         NaN samples written into the signal store (EDF cannot hold them)     ``non_finite``
spo2_dropout    the oximeter reads 0 %                                               ``implausible``
wrong_unit      a whole EEG channel recorded in V while its header says µV           ``implausible``
==============  ==================================================================  ==================

Sustained artifacts start and end on 5-s patch boundaries and last whole patches; a movement
burst lies inside one patch. So the truth is exact per patch, and per 30-s epoch an epoch holds
an artifact when one of its patches does. A check may also flag, without it counting against
it, artifacts of kinds listed in :data:`ALSO` (a saturated stretch is high-amplitude too), nor
the patch on either side of an artifact, where resampling spreads its edges. Artifacts never
overlap or touch on a channel.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from sleepfm.interfaces.quality_check import PATCH_SECONDS
from sleepfm.store.signal_names import dataset_names

#: kind → the check meant to flag it.
CHECK: dict[str, str] = {
    "pop_off": "flat", "saturation": "clipping", "movement": "high_amplitude", "line_noise": "line_noise",
    "nan_run": "non_finite", "spo2_dropout": "implausible", "wrong_unit": "implausible",
}
#: kind → other checks that may rightly flag it too.
ALSO: dict[str, tuple[str, ...]] = {
    "saturation": ("high_amplitude", "flat", "zscore_dominated"), "movement": ("clipping", "zscore_dominated"),
    "line_noise": ("high_amplitude", "zscore_dominated"), "pop_off": ("zscore_dominated",),
    "nan_run": ("flat",), "spo2_dropout": (), "wrong_unit": (),
}
KINDS = tuple(CHECK)
EEG = ("F4-M1", "C4-M1", "O2-M1")
ELECTRODES = (*EEG, "Chin1-Chin2", "ECG")


@dataclass(frozen=True)
class Artifact:
    """One injected artifact: ``channel`` (label), seconds ``[start, stop)`` from the recording start."""

    kind: str
    channel: str
    start: float
    stop: float
    detail: float = 0.0  # amplitude factor, mains frequency, ... (for the record)

    @property
    def check(self) -> str:
        return CHECK[self.kind]


@dataclass(frozen=True)
class ArtifactSpec:
    """How many artifacts of each kind a night gets (each count is drawn from 0 to the value)."""

    pop_off: int = 1
    saturation: int = 1
    movement: int = 12
    line_noise: int = 1
    nan_run: int = 1
    spo2_dropout: int = 2
    wrong_unit: int = 1
    #: Probability that a night is left clean.
    clean_fraction: float = 0.2
    #: Probability of each kind in a night that is not clean.
    kind_probability: float = 0.6
    #: Shortest and longest pop-off (s); at most a third of the night.
    pop_off_seconds: tuple[float, float] = (60.0, 600.0)


def _robust(values: np.ndarray) -> float:
    sample = values[:: max(1, values.size // 100_000)]
    return float(1.4826 * np.median(np.abs(sample - np.median(sample)))) or 1.0


class _Placer:
    """Draws non-overlapping patch-aligned spans per channel."""

    def __init__(self, seconds: float, rng: np.random.Generator) -> None:
        self.patches = int(seconds // PATCH_SECONDS)
        self.rng = rng
        self.taken: dict[str, np.ndarray] = {}

    def span(self, channel: str, low: float, high: float) -> tuple[float, float] | None:
        busy = self.taken.setdefault(channel, np.zeros(self.patches, dtype=bool))
        length = int(self.rng.integers(round(low / PATCH_SECONDS), round(high / PATCH_SECONDS) + 1))
        length = min(length, self.patches // 3)
        for _ in range(50):
            first = int(self.rng.integers(1, max(2, self.patches - length - 1)))
            # A patch of margin on each side keeps the truth of neighbouring artifacts apart.
            if not busy[max(0, first - 1): first + length + 1].any():
                busy[first: first + length] = True
                return first * PATCH_SECONDS, (first + length) * PATCH_SECONDS
        return None


def inject(signals: dict[str, np.ndarray], rates: dict[str, int], spec: ArtifactSpec,
           rng: np.random.Generator) -> tuple[list[Artifact], dict[str, tuple[float, float]]]:
    """Inject artifacts into ``signals`` (physical units, in place) and return them with header
    overrides (label → physical range) that the EDF writer must use."""
    if rng.random() < spec.clean_fraction:
        return [], {}
    seconds = signals[EEG[0]].size / rates[EEG[0]]
    placer = _Placer(seconds, rng)
    artifacts: list[Artifact] = []
    ranges: dict[str, tuple[float, float]] = {}
    mains = float(rng.choice([50.0, 60.0]))
    for kind in KINDS:
        if not getattr(spec, kind) or rng.random() >= spec.kind_probability:
            continue
        for _ in range(int(rng.integers(1, getattr(spec, kind) + 1))):
            made = _one(kind, signals, rates, placer, rng, mains, ranges, spec)
            if made is not None:
                artifacts.append(made)
    return artifacts, ranges


def _one(kind: str, signals: dict[str, np.ndarray], rates: dict[str, int], placer: _Placer,
         rng: np.random.Generator, mains: float, ranges: dict[str, tuple[float, float]],
         spec: ArtifactSpec) -> Artifact | None:
    if kind == "wrong_unit":
        channel = str(rng.choice([c for c in EEG if c not in ranges]))
        if placer.taken.get(channel, np.zeros(1)).any():
            return None
        placer.taken[channel] = np.ones(placer.patches, dtype=bool)
        signals[channel] *= 1e-6
        ranges[channel] = (-500e-6, 500e-6)
        return Artifact(kind, channel, 0.0, placer.patches * PATCH_SECONDS, 1e-6)
    channel = {"pop_off": EEG, "saturation": EEG, "movement": (*EEG, "Thor", "Abdo"),
               "line_noise": ELECTRODES, "nan_run": (*EEG, "Chin1-Chin2", "Thor"),
               "spo2_dropout": ("SpO2",)}[kind]
    label = str(rng.choice([c for c in channel if c not in ranges]))
    rate = rates[label]
    values = signals[label]
    if kind == "movement":
        return _movement(label, values, rate, placer, rng)
    bounds = {"pop_off": spec.pop_off_seconds, "saturation": (30, 180), "line_noise": (30, 300), "nan_run": (5, 60),
              "spo2_dropout": (10, 60)}[kind]
    span = placer.span(label, *bounds)
    if span is None:
        return None
    part = slice(round(span[0] * rate), round(span[1] * rate))
    detail = 0.0
    if kind == "pop_off":
        detail = float(rng.uniform(-20, 20))
        values[part] = detail + 0.02 * rng.standard_normal(values[part].size)
    elif kind == "saturation":
        detail = 40.0
        values[part] *= detail
    elif kind == "line_noise":
        detail = mains
        t = np.arange(values[part].size) / rate
        values[part] += rng.uniform(3, 6) * _robust(values) * np.sin(2 * np.pi * mains * t + rng.uniform(0, 6.3))
    elif kind == "spo2_dropout":
        values[part] = 0.0
    return Artifact(kind, label, span[0], span[1], detail)


def _movement(label: str, values: np.ndarray, rate: int, placer: _Placer, rng: np.random.Generator) -> Artifact | None:
    span = placer.span(label, PATCH_SECONDS, PATCH_SECONDS)
    if span is None:
        return None
    seconds = float(rng.uniform(1.5, 4.0))
    start = span[0] + float(rng.uniform(0, PATCH_SECONDS - seconds))
    n = round(seconds * rate)
    first = round(start * rate)
    t = np.arange(n) / rate
    amplitude = float(rng.uniform(20, 30)) * _robust(values)
    swing = np.sin(2 * np.pi * rng.uniform(0.5, 2.0) * t + rng.uniform(0, 6.3)) * np.hanning(n)
    values[first: first + n] += amplitude * (swing + 0.15 * rng.standard_normal(n))
    return Artifact("movement", label, span[0], span[1], amplitude)


def inject_store_nans(path: Path, artifacts: list[Artifact], rate: float = 128.0) -> None:
    """Write the ``nan_run`` artifacts into the signal store at ``path`` (EDF cannot hold NaN)."""
    import h5py


    runs = [a for a in artifacts if a.kind == "nan_run"]
    if not runs:
        return
    with h5py.File(path, "r+") as handle:
        names = {a.channel: dataset_names([a.channel])[0] for a in runs}
        for artifact in runs:
            dataset = handle[names[artifact.channel]]
            data = dataset[()]
            data[round(artifact.start * rate): round(artifact.stop * rate)] = np.nan
            dataset[...] = data


def patch_truth(artifacts: list[Artifact], n_patches: int) -> tuple[dict[tuple[str, str], np.ndarray],
                                                                     dict[tuple[str, str], np.ndarray]]:
    """Per (check, channel label): bool (n_patches,) where an artifact meant for the check lies, and
    where one that the check may also flag lies."""
    meant: dict[tuple[str, str], np.ndarray] = {}
    allowed: dict[tuple[str, str], np.ndarray] = {}
    for artifact in artifacts:
        first, last = int(artifact.start // PATCH_SECONDS), int(np.ceil(artifact.stop / PATCH_SECONDS))
        row = meant.setdefault((artifact.check, artifact.channel), np.zeros(n_patches, dtype=bool))
        row[first: min(last, n_patches)] = True
        # The patch on each side is allowed too: resampling spreads an artifact's edges into it (the
        # ringing of a dropout's step, the anti-alias filter's tail), and artifacts never touch it.
        for check in (artifact.check, *ALSO[artifact.kind]):
            row = allowed.setdefault((check, artifact.channel), np.zeros(n_patches, dtype=bool))
            row[max(0, first - 1): min(last + 1, n_patches)] = True
    return meant, allowed


def as_records(artifacts: list[Artifact]) -> list[dict[str, object]]:
    return [asdict(a) for a in artifacts]
