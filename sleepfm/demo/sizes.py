"""How big each ``sleepfm demo --size`` run is: cohort, model, training budgets, targets.

``default`` is the README's run (under 5 minutes on 2 CPU cores); ``small`` is about half
of it; ``test`` runs inside the test suite in seconds and only has to beat chance.

The demo's nights last under an hour, so their sleep cycles are compressed
(``cycle_minutes``) to show a whole night's architecture — Wake, N1, N2, N3 early, REM late.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sleepfm.demo.synth import CohortSpec


@dataclass(frozen=True)
class CohortSize:
    participants: int
    night_minutes: tuple[float, float]
    cycle_minutes: float
    second_visit_fraction: float = 0.2


@dataclass(frozen=True)
class DemoSize:
    cohort: CohortSize
    #: ``set-transformer`` hyper-parameters (a small encoder: CPU minutes, not GPU days).
    model: dict[str, Any]
    pretrain: dict[str, Any]
    staging: dict[str, Any]
    diagnosis: dict[str, Any]
    validation_fraction: float = 0.1
    test_fraction: float = 0.35
    bootstrap: int = 1000
    min_macro_f1: float = 0.8
    min_c_index: float = 0.7
    #: Channels per modality that pretraining samples (embedding uses them all).
    channels: dict[str, int] = field(default_factory=lambda: {"BAS": 3, "RESP": 2, "EKG": 1, "EMG": 1})

    def cohort_spec(self, seed: int) -> CohortSpec:
        return CohortSpec(participants=self.cohort.participants, night_minutes=self.cohort.night_minutes,
                          cycle_minutes=self.cohort.cycle_minutes,
                          second_visit_fraction=self.cohort.second_visit_fraction, seed=seed)

    def pretrain_overrides(self, out: Path, seed: int) -> list[str]:
        return [
            f"data.signals={out / 'signals'}", f"data.split.file={out / 'split.json'}",
            f"data.split.root={out / 'signals'}", "data.split.train=train",
            *(f"data.max_channels.{m}={n}" for m, n in self.channels.items()),
            *_pairs("model.params.", self.model),
            f"trainer.seed={seed}", *_pairs("", self.pretrain),
        ]

    def staging_overrides(self, out: Path, cohort: Any, seed: int) -> list[str]:
        return [
            f"data.embeddings={out / 'embeddings'}", f"data.labels={cohort.hypnograms}",
            f"data.split.file={out / 'split.json'}", f"trainer.seed={seed}", *_pairs("", self.staging),
        ]

    def diagnosis_overrides(self, out: Path, cohort: Any, seed: int) -> list[str]:
        return [
            f"data.embeddings={out / 'embeddings'}", f"data.is_event={cohort.is_event}",
            f"data.time_to_event={cohort.time_to_event}", f"data.demographics={cohort.demographics}",
            f"data.split.file={out / 'split.json'}", f"trainer.seed={seed}", *_pairs("", self.diagnosis),
        ]


def _pairs(prefix: str, values: dict[str, Any]) -> list[str]:
    out = []
    for key, value in values.items():
        if isinstance(value, dict):
            out.extend(_pairs(f"{prefix}{key}.", value))
        else:
            out.append(f"{prefix}{key}={value}")
    return out


_POOLER = {"name": "attention", "params": {"num_heads": 4, "dim_feedforward": 128}}
_MODEL: dict[str, Any] = {
    "embed_dim": 64, "num_heads": 4, "num_layers": 2, "dim_feedforward": 128, "dropout": 0.1,
    "tokenizer": {"name": "cnn-patch", "params": {"channels": [4, 8, 16, 16, 32, 64]}},
    "channel_pooler": _POOLER, "temporal_pooler": _POOLER,
}
# Dropout off: a few epochs on a few dozen nights underfit long before they overfit, and
# dropout doubles the CPU time of the attention layers.
_HEAD = {"num_heads": 2, "pooling_head": 2, "dim_feedforward": 128, "dropout": 0.0}
# Pretraining takes AdamW rather than the published SGD: a few dozen steps must move the loss.
_PRETRAIN_OPTIMIZER = {"optimizer": {"name": "adamw", "lr": 0.002, "weight_decay": 0.0}, "scheduler": {"name": "none"}}


def _pretrain(steps: int, batch_size: int) -> dict[str, Any]:
    return {**_PRETRAIN_OPTIMIZER, "trainer": {"max_steps": steps, "batch_size": batch_size}}


def _finetune(epochs: int, batch_size: int, lr: float, max_seq_length: int, **head: Any) -> dict[str, Any]:
    return {"head": {"params": {**_HEAD, "max_seq_length": max_seq_length, **head}},
            "optimizer": {"name": "adamw", "lr": lr}, "scheduler": {"name": "none"},
            "trainer": {"epochs": epochs, "batch_size": batch_size}}


# Staging trains one night per step: nights differ in length, and a batch of one has no
# padding for the attention and the LSTM to run over, so an epoch costs a third as much.
# The CoxPH loss wants many studies per step: its risk sets live in the batch.
SIZES: dict[str, DemoSize] = {
    "test": DemoSize(
        cohort=CohortSize(participants=8, night_minutes=(20.0, 20.0), cycle_minutes=15.0, second_visit_fraction=0.25),
        model=_MODEL,
        pretrain=_pretrain(steps=2, batch_size=4),
        staging=_finetune(epochs=6, batch_size=1, lr=0.002, max_seq_length=300),
        diagnosis=_finetune(epochs=4, batch_size=8, lr=0.003, max_seq_length=300, num_layers=1),
        bootstrap=100, min_macro_f1=0.3, min_c_index=0.5,
    ),
    "small": DemoSize(
        cohort=CohortSize(participants=20, night_minutes=(40.0, 50.0), cycle_minutes=30.0),
        model=_MODEL,
        pretrain=_pretrain(steps=8, batch_size=16),
        staging=_finetune(epochs=15, batch_size=1, lr=0.001, max_seq_length=700),
        diagnosis=_finetune(epochs=15, batch_size=16, lr=0.003, max_seq_length=700, num_layers=1),
    ),
    "default": DemoSize(
        cohort=CohortSize(participants=40, night_minutes=(35.0, 55.0), cycle_minutes=35.0),
        model=_MODEL,
        pretrain=_pretrain(steps=16, batch_size=16),
        staging=_finetune(epochs=20, batch_size=1, lr=0.001, max_seq_length=800),
        diagnosis=_finetune(epochs=20, batch_size=16, lr=0.003, max_seq_length=800, num_layers=1),
    ),
}
