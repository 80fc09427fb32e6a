"""Who is in the synthetic cohort: demographics, a planted risk trait, and their outcomes.

Each participant carries a latent cardiometabolic risk ``z ~ N(0, 1)``. It shows in the
nights — a faster resting heart rate and breathing, a lower SpO2 baseline, less N3 and
more awakenings — and it drives the hazard of every outcome (with age), so a model that
reads ``z`` off the signals predicts the outcomes. Time is in days from the first visit;
follow-up is uniform over 1–10 years. A participant's second visit happens 300–700 days
after the first: its times are shifted by that gap, and an outcome that occurred before it
is left empty (prevalent at baseline, the published files' convention for "not at risk").
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sleepfm.demo.physiology import Traits


@dataclass(frozen=True)
class OutcomeSpec:
    """One outcome column: a phecode of the published label mapping and its hazard model."""

    label_idx: int
    phecode: str
    phenotype: str
    yearly_rate: float  # events per person-year at z = 0, age 55
    risk_effect: float  # log hazard ratio per SD of z
    age_effect: float  # log hazard ratio per 10 years


# Strong effects on purpose: the demo's held-out set is small, and the point is to show that
# the pipeline recovers a planted signal, not to mimic real effect sizes.
DEFAULT_OUTCOMES: tuple[OutcomeSpec, ...] = (
    OutcomeSpec(402, "401.1", "Essential hypertension", 0.10, 3.0, 0.3),
    OutcomeSpec(448, "427.21", "Atrial fibrillation", 0.06, 2.7, 0.6),
    OutcomeSpec(458, "428.0", "Congestive heart failure; nonhypertensive", 0.06, 3.0, 0.4),
    OutcomeSpec(1041, "death", "death", 0.05, 2.4, 0.9),
)


@dataclass(frozen=True)
class Participant:
    id: str
    age: float  # years at the first visit
    male: bool
    risk: float  # the planted trait z
    traits: Traits
    n3_scale: float
    fragmentation: float
    visits: tuple[float, ...] = (0.0,)  # days from the first visit
    event_day: dict[str, float] = field(default_factory=dict)  # per phecode, np.inf = never
    follow_up_day: float = 0.0

    def study_id(self, visit: int) -> str:
        return f"{self.id}-v{visit + 1}"


def draw_participants(
    count: int, rng: np.random.Generator, *, second_visit_fraction: float = 0.2,
    outcomes: tuple[OutcomeSpec, ...] = DEFAULT_OUTCOMES, prefix: str = "synth-p",
) -> list[Participant]:
    people = []
    for i in range(count):
        age = float(rng.uniform(30, 80))
        male = bool(rng.random() < 0.5)
        z = float(rng.standard_normal())
        aged = (age - 55) / 10
        traits = Traits(
            resting_heart_rate=float(60 + 7 * z - 2 * male + rng.normal(0, 1.5)),
            breathing_rate=float(14 + 0.8 * z + rng.normal(0, 0.5)),
            spo2_baseline=float(np.clip(96.8 - 0.7 * z - 0.2 * aged + rng.normal(0, 0.3), 91, 99)),
            alpha_frequency=float(10.2 - 0.2 * aged + rng.normal(0, 0.3)),
            eeg_gain=float(np.exp(rng.normal(0, 0.12)) * (0.9 if male else 1.0)),
        )
        visits = (0.0, float(rng.uniform(300, 700))) if rng.random() < second_visit_fraction else (0.0,)
        follow_up = float(rng.uniform(365, 3650)) + visits[-1]
        events = {}
        for outcome in outcomes:
            hazard = outcome.yearly_rate / 365.25 * np.exp(outcome.risk_effect * z + outcome.age_effect * aged)
            events[outcome.phecode] = float(rng.exponential(1 / hazard))
        people.append(Participant(
            id=f"{prefix}{i:03d}", age=age, male=male, risk=z, traits=traits,
            n3_scale=float(np.exp(-0.3 * z - 0.15 * aged)), fragmentation=float(np.exp(0.3 * z + 0.1 * aged)),
            visits=visits, event_day=events, follow_up_day=follow_up,
        ))
    return people


def outcome_tables(people: list[Participant], outcomes: tuple[OutcomeSpec, ...] = DEFAULT_OUTCOMES
                   ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(is_event, time_to_event)`` indexed by Study ID, one column per phecode (NaN = prevalent)."""
    event_rows, time_rows, index = [], [], []
    for person in people:
        for visit, day in enumerate(person.visits):
            events, times = {}, {}
            for outcome in outcomes:
                onset = person.event_day[outcome.phecode]
                if onset <= day:
                    events[outcome.phecode], times[outcome.phecode] = np.nan, np.nan
                elif onset <= person.follow_up_day:
                    events[outcome.phecode], times[outcome.phecode] = 1.0, round(onset - day, 1)
                else:
                    events[outcome.phecode], times[outcome.phecode] = 0.0, round(person.follow_up_day - day, 1)
            event_rows.append(events)
            time_rows.append(times)
            index.append(person.study_id(visit))
    columns = [o.phecode for o in outcomes]
    return (pd.DataFrame(event_rows, index=index, columns=columns),
            pd.DataFrame(time_rows, index=index, columns=columns))


def demographics_table(people: list[Participant]) -> pd.DataFrame:
    """``age`` (years / 100, the published file stores a normalised age) and ``gender`` (1 male, 0 female)."""
    rows = {person.study_id(v): {"age": round((person.age + day / 365.25) / 100, 4), "gender": int(person.male)}
            for person in people for v, day in enumerate(person.visits)}
    return pd.DataFrame.from_dict(rows, orient="index")
