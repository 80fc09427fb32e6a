"""The SHHS cohort adapter.

Files (NSRR layout, or all in one folder — the search is recursive)
    ``polysomnography/edfs/shhs1/shhs1-<nsrrid>.edf`` (visit 1; ``shhs2-`` for visit 2) and
    ``polysomnography/annotations-events-nsrr/shhs1/shhs1-<nsrrid>-nsrr.xml`` (standardised NSRR
    XML, read by the built-in ``nsrr-xml`` reader). With ``annotations: profusion`` the
    Compumedics ``shhs1-<nsrrid>-profusion.xml`` files are used instead (``profusion-xml``).
    Study ID = the EDF name without ``.edf``; participant = ``nsrrid``, so both visits of one
    person stay on one side of a split.
Channels
    ``channels.json`` beside this module maps the SHHS EDF labels to modalities (see the
    README for labels and rates). ``POSITION``, ``LIGHT`` and ``OX stat`` are status signals and
    stay unmapped.
Demographics
    ``shhs1-dataset-*.csv`` (``nsrrid``, ``age_s1``, ``gender``) and ``shhs2-dataset-*.csv``
    (``age_s2``): gender 1 = male, 2 = female.
Outcomes
    ``shhs-cvd-summary-dataset-*.csv``: each outcome is an event column, the value that means
    "event", the column with days from the SHHS1 baseline to the event, and the follow-up
    column (days to last contact) used as the censoring time. The defaults follow the NSRR
    data dictionary (``vital`` 0 = dead, ``censdate``; ``mi``/``mi_date``, ``chf``/``chf_date``,
    ``stroke``/``stk_date``, ``angina``/``ang_date``); check them against the dictionary of
    your release and override ``cohort.params.outcomes`` if it differs. Outcomes are measured
    from the visit-1 baseline, so only ``shhs1`` studies get them.
"""

from __future__ import annotations

import logging
import re
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import Field

from sleepfm.plugin import (
    STUDY_ID,
    Cohort,
    ConfigModel,
    InputError,
    Study,
    check_unique,
    demographics_frame,
    map_sex,
    numbers,
    outcome_frame,
    read_table,
    require_folder,
    walk,
)

log = logging.getLogger(__name__)

EDF_NAME = re.compile(r"^(shhs[12])-(\d+)\.edf$", re.IGNORECASE)
XML_NAME = re.compile(r"^(shhs[12])-(\d+)-(nsrr|profusion)\.xml$", re.IGNORECASE)
GENDER_CODES = {"1": "M", "2": "F"}
#: Age column of each visit's dataset.
AGE_COLUMNS = {"age_s1": "shhs1", "age_s2": "shhs2"}
LABEL_READERS = {"nsrr": "nsrr-xml", "profusion": "profusion-xml"}


class OutcomeColumns(ConfigModel):
    """Where one outcome is in the CVD summary table."""

    event: str = Field(description="Column saying whether the event happened.")
    event_value: float = Field(1, description="The value of `event` that means it happened.")
    time: str = Field(description="Days from the SHHS1 baseline to the event.")
    follow_up: str = Field("censdate", description="Days from baseline to last contact (censoring time).")


#: label_mapping.csv phecode → columns of the NSRR shhs-cvd-summary dataset.
DEFAULT_OUTCOMES: dict[str, OutcomeColumns] = {
    "death": OutcomeColumns(event="vital", event_value=0, time="censdate"),
    "Myocardial Infarction": OutcomeColumns(event="mi", time="mi_date"),
    "Heart Failure": OutcomeColumns(event="chf", time="chf_date"),
    "Stroke": OutcomeColumns(event="stroke", time="stk_date"),
    "Angina": OutcomeColumns(event="angina", time="ang_date"),
}


class ShhsConfig(ConfigModel):
    """Parameters of ``cohort-shhs`` (``cohort.params`` in a run config)."""

    annotations: Literal["nsrr", "profusion"] = Field("nsrr", description="Which XML hypnograms to use.")
    demographics: list[Path] | None = Field(
        None, description="Visit datasets (default: shhs1-dataset-*.csv, shhs2-dataset-*.csv under the data folder).")
    outcomes_table: Path | None = Field(
        None, description="CVD summary CSV (default: shhs-cvd-summary-dataset-*.csv under the data folder).")
    outcomes: dict[str, OutcomeColumns] = Field(default_factory=lambda: dict(DEFAULT_OUTCOMES))


def channel_map_path() -> Path:
    """The packaged SHHS label → modality table (published ``channel_groups.json`` shape)."""
    return Path(str(resources.files("sleepfm_cohort_shhs") / "channels.json"))


def _newest(root: Path, table: str) -> Path | None:
    """``<table>-dataset-<version>.csv`` with the highest version, else ``<table>-dataset.csv``.

    NSRR names tables by release (shhs1-dataset-0.21.0.csv); copies renamed without the
    version are found too, and rank below any versioned one.
    """
    pattern = re.compile(rf"^{re.escape(table)}-dataset(?:-(?P<version>\d+(?:\.\d+)*))?\.csv$", re.I)
    found = [(p, pattern.match(p.name)) for p in walk(root)]

    def version(item: tuple[Path, re.Match[str]]) -> tuple[int, ...]:
        text = item[1]["version"]
        return tuple(int(x) for x in text.split(".")) if text else ()

    matches = [(p, m) for p, m in found if m is not None]
    return max(matches, key=version)[0] if matches else None


class ShhsCohort(Cohort):
    """Sleep Heart Health Study: shhs1-<nsrrid>.edf with shhs1-<nsrrid>-nsrr.xml (NSRR layout)."""

    Config: ClassVar[type[ShhsConfig]] = ShhsConfig
    config: ShhsConfig

    # ------------------------------------------------------------------ studies
    def discover(self, root: Path) -> list[Study]:
        root = require_folder(root)
        files = walk(root)
        hypnograms: dict[str, Path] = {}
        for path in files:
            match = XML_NAME.match(path.name)
            if match and match[3].lower() == self.config.annotations:
                hypnograms.setdefault(f"{match[1].lower()}-{match[2]}", path)
        studies = []
        for path in files:
            match = EDF_NAME.match(path.name)
            if match is None:
                if path.suffix.lower() == ".edf":
                    log.info("%s: not named shhs1-<id>.edf or shhs2-<id>.edf; not an SHHS study", path)
                continue
            visit, nsrrid = match[1].lower(), match[2]
            study_id = f"{visit}-{nsrrid}"
            studies.append(Study(
                id=study_id, participant=nsrrid, signal_path=path, hypnogram_path=hypnograms.get(study_id),
                label_reader=LABEL_READERS[self.config.annotations],
                extra={"visit": int(visit[-1]), "nsrrid": nsrrid},
            ))
        return check_unique(studies, where=root)

    def default_config(self) -> dict[str, Any]:
        return {"preprocess": {"channel_mapper": "table", "channel_map": str(channel_map_path())}}

    # ------------------------------------------------------------------ tables
    def demographics(self, root: Path) -> pd.DataFrame | None:
        paths = self.config.demographics
        if paths is None:
            paths = [p for p in (_newest(Path(root), visit) for visit in ("shhs1", "shhs2")) if p is not None]
        if not paths:
            return None
        return pd.concat([self._visit_demographics(Path(p)) for p in paths], ignore_index=True)

    def _visit_demographics(self, path: Path) -> pd.DataFrame:
        frame = read_table(path, required=("nsrrid", "gender"), what="SHHS dataset")
        age_column = next((c for c in AGE_COLUMNS if c in frame.columns), None)
        if age_column is None:
            raise InputError("SHHS dataset has neither age_s1 nor age_s2", where=path,
                             fix="give shhs1-dataset-*.csv or shhs2-dataset-*.csv")
        ids = AGE_COLUMNS[age_column] + "-" + frame["nsrrid"].str.strip()
        sexes = map_sex(frame, "gender", GENDER_CODES, path)
        return demographics_frame(ids, numbers(frame, age_column, path), sexes, path)

    def outcomes(self, root: Path) -> tuple[pd.DataFrame, pd.DataFrame] | None:
        path = self.config.outcomes_table or _newest(Path(root), "shhs-cvd-summary")
        if path is None:
            return None
        specs = self.config.outcomes
        needed = sorted({"nsrrid"} | {c for s in specs.values() for c in (s.event, s.time, s.follow_up)})
        frame = read_table(path, required=tuple(needed), what="SHHS CVD summary")
        column = {name: numbers(frame, name, path) for name in needed if name != "nsrrid"}
        events = np.zeros((len(frame), len(specs)))
        times = np.zeros((len(frame), len(specs)))
        for k, spec in enumerate(specs.values()):
            raw = column[spec.event]
            happened = raw == spec.event_value
            events[:, k] = np.where(np.isnan(raw), np.nan, happened)
            times[:, k] = np.where(happened, column[spec.time], column[spec.follow_up])
            bad = np.flatnonzero(happened & (column[spec.time] < 0))
            if bad.size:
                raise InputError(f"line {int(bad[0]) + 2}: {spec.time} is negative", where=path)
        ids = "shhs1-" + frame["nsrrid"].str.strip()
        names = list(specs)
        is_event = outcome_frame(ids, names, events, path, integer=True)
        time_to_event = outcome_frame(ids, names, times, path, integer=False)
        is_event.index.name = time_to_event.index.name = STUDY_ID
        return is_event, time_to_event
