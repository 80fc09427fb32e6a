"""The Sleep-EDF Expanded cohort adapter.

Naming (PhysioNet ``sleep-edfx``)
    Sleep Cassette: ``SC4ssNE0-PSG.edf`` with ``SC4ssNEx-Hypnogram.edf``; Sleep Telemetry:
    ``ST7ssNJ0-PSG.edf`` with ``ST7ssNJx-Hypnogram.edf``. ``ss`` is the subject number, ``N``
    the night, and the last letter of the hypnogram (``x``) names the scorer, so the two files
    of one night share only their first **6 characters** (``SC4001``): that prefix pairs them.
Study ID
    The PSG file's record name, the part before ``-PSG`` (``SC4001E0``).
Participant
    Characters 3–5 of the name: the study digit and the subject number (``SC4001E0`` → ``400``,
    ``ST7022J0`` → ``702``). The digit keeps SC and ST subjects apart; both nights of a
    subject share it, so they stay on one side of a split.
Channels
    ``EEG Fpz-Cz``, ``EEG Pz-Oz`` and ``EOG horizontal`` (100 Hz) → BAS; ``Resp oro-nasal``
    (SC, 1 Hz) → RESP; ``EMG submental`` (SC: a 1-Hz envelope; ST: 100 Hz) → EMG. There is no
    ECG, so EKG is absent; ``Temp rectal`` and the event marker stay unmapped.
Stages
    R&K: stages 3 and 4 → N3; ``Sleep stage ?`` and ``Movement time`` are unscored (the
    built-in ``edf`` label reader). Sleep-EDF SC nights run ~22 h of mostly wake; agreement
    is computed over the epochs the recording and the hypnogram share.
Demographics
    ``SC-subjects.xls``/``.csv`` as PhysioNet distributes them (``subject``, ``night``, ``age``,
    ``sex (F=1)``) when present in the data folder as CSV (``SC-subjects.csv``).
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

from sleepfm.plugin import (
    Cohort,
    Study,
    check_unique,
    demographics_frame,
    map_sex,
    numbers,
    read_table,
    require_folder,
    walk,
)

PSG_NAME = re.compile(r"^((S[CT])(\d)(\d\d)(\d)[A-Z0-9]{2})-PSG\.(edf|rec|bdf)$", re.IGNORECASE)
HYPNOGRAM_NAME = re.compile(r"^(S[CT]\d{4})[A-Z0-9]{2}-Hypnogram\.(edf|hyp)$", re.IGNORECASE)
PAIR_PREFIX = 6
#: Sleep-EDF's SC-subjects table codes sex as 1 = female, 2 = male.
SEX_CODES = {"1": "F", "2": "M"}


def channel_map_path() -> Path:
    """The packaged Sleep-EDF label → modality table."""
    return Path(str(resources.files("sleepfm_cohort_sleepedf") / "channels.json"))


def participant_of(record: str) -> str:
    """Characters 3–5 of a Sleep-EDF record name (``SC4001E0`` → ``400``)."""
    return record[2:5]


class SleepEdfCohort(Cohort):
    """PhysioNet Sleep-EDF Expanded: *-PSG.edf paired with *-Hypnogram.edf by their first 6 characters."""

    def discover(self, root: Path) -> list[Study]:
        root = require_folder(root)
        files = walk(root)
        hypnograms: dict[str, Path] = {}
        for path in files:
            match = HYPNOGRAM_NAME.match(path.name)
            if match:
                # Several scorers for one night: the first by name is used, consistently.
                hypnograms.setdefault(match[1].upper(), path)
        studies = []
        for path in files:
            match = PSG_NAME.match(path.name)
            if match is None:
                continue
            record = match[1].upper()
            studies.append(Study(
                id=record, participant=participant_of(record), signal_path=path,
                hypnogram_path=hypnograms.get(record[:PAIR_PREFIX]), label_reader="edf",
                extra={"set": match[2].upper(), "subject": match[4], "night": int(match[5])},
            ))
        return check_unique(studies, where=root)

    def default_config(self) -> dict[str, Any]:
        return {"preprocess": {"channel_mapper": "table", "channel_map": str(channel_map_path())}}

    def demographics(self, root: Path) -> pd.DataFrame | None:
        path = Path(root) / "SC-subjects.csv"
        if not path.is_file():
            return None
        frame = read_table(path, required=("subject", "night", "age", "sex (F=1)"), what="SC-subjects")
        studies = {s.id[:PAIR_PREFIX]: s.id for s in self.discover(root)}
        prefixes = "SC4" + frame["subject"].str.strip().str.zfill(2) + frame["night"].str.strip()
        keep = prefixes.isin(studies).to_numpy()
        frame = frame[keep].reset_index(drop=True)
        ids = prefixes[keep].map(studies).reset_index(drop=True)
        return demographics_frame(ids, numbers(frame, "age", path), map_sex(frame, "sex (F=1)", SEX_CODES, path),
                                  path)
