"""``cohort-bids``: a BIDS EEG/PSG dataset (no dependency beyond sleepfm's own readers).

Layout read (BIDS EEG)
----------------------
Recordings
    ``sub-<label>/[ses-<label>/]eeg/sub-<label>[_ses-<label>]..._eeg.edf`` (or ``.bdf``).
Study ID
    The file name without ``_eeg`` and the suffix (``sub-01_ses-1_task-sleep``); the
    participant is ``sub-<label>``, so two sessions of one person stay on one side of a split.
Channels
    ``<entities>_channels.tsv`` beside the recording: its ``type`` column maps each channel to
    a modality (the ``bids-channels`` mapper, set as this cohort's default:
    :mod:`sleepfm.map.bids_channels`), not the channel labels.
Scored hypnogram
    ``<entities>_hypnogram.tsv`` (the BIDS sleep extension proposal), else ``<entities>_events.tsv``
    when it holds stage rows; both read by the ``bids-tsv`` reader.
Demographics
    ``participants.tsv`` at the dataset root: ``participant_id``, ``age`` (years) and ``sex``
    (``M``/``F``/``male``/``female``; ``n/a`` for unknown), given to every study of the participant.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd

from sleepfm.cohorts.files import check_unique, require_folder
from sleepfm.errors import InputError
from sleepfm.interfaces.cohort import Cohort, Study
from sleepfm.labels.bids_tsv import BidsTsvReader
from sleepfm.labels.tables import SEX_WORDS, STUDY_ID, demographics_frame, map_sex, numbers

_RECORDING = re.compile(r"^(sub-[A-Za-z0-9]+)(_ses-[A-Za-z0-9]+)?(_[A-Za-z0-9]+-[A-Za-z0-9]+)*_eeg\.(edf|bdf)$")


def _has_stage_rows(events: Path) -> bool:
    reader = BidsTsvReader()
    if not reader.sniff(events):
        return False
    try:
        reader.read(events)
    except InputError:
        return False
    return True


def find_hypnogram(recording: Path) -> Path | None:
    """``<entities>_hypnogram.tsv`` beside the recording, else its ``_events.tsv`` with stage rows."""
    stem = recording.name[: recording.name.rindex("_eeg.")]
    hypnogram = recording.with_name(f"{stem}_hypnogram.tsv")
    if hypnogram.is_file():
        return hypnogram
    events = recording.with_name(f"{stem}_events.tsv")
    return events if events.is_file() and _has_stage_rows(events) else None


class BidsCohort(Cohort):
    """A BIDS EEG dataset: sub-*/[ses-*/]eeg/*_eeg.edf|bdf, channels.tsv types, participants.tsv, _hypnogram.tsv."""

    def discover(self, root: Path) -> list[Study]:
        root = require_folder(root)
        studies = []
        for path in sorted(root.glob("sub-*/eeg/*_eeg.*")) + sorted(root.glob("sub-*/ses-*/eeg/*_eeg.*")):
            match = _RECORDING.match(path.name)
            if match is None or not path.is_file():
                continue
            study_id = path.name[: path.name.rindex("_eeg.")]
            hypnogram = find_hypnogram(path)
            studies.append(Study(id=study_id, participant=match.group(1), signal_path=path,
                                 hypnogram_path=hypnogram, label_reader="bids-tsv" if hypnogram else None,
                                 extra={"session": (match.group(2) or "")[1:] or None}))
        return check_unique(sorted(studies, key=lambda s: s.id), where=root)

    def demographics(self, root: Path) -> pd.DataFrame | None:
        path = Path(root) / "participants.tsv"
        if not path.is_file():
            return None
        try:
            frame = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, encoding="utf-8-sig")
        except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise InputError(f"unreadable participants.tsv ({' '.join(str(exc).split())})", where=path) from None
        missing = [c for c in ("participant_id", "age", "sex") if c not in frame.columns]
        if missing:
            raise InputError(f"participants.tsv lacks column(s) {', '.join(missing)}", where=path,
                             fix="BIDS participants.tsv needs participant_id, and age and sex for risk tables")
        frame = frame.replace({"n/a": ""})
        people = demographics_frame(frame["participant_id"], numbers(frame, "age", path),
                                    map_sex(frame, "sex", SEX_WORDS, path), path).set_index(STUDY_ID)
        rows = [{STUDY_ID: s.id, "age": people.at[s.participant, "age"], "sex": people.at[s.participant, "sex"]}
                for s in self.discover(root) if s.participant in people.index]
        return pd.DataFrame(rows, columns=[STUDY_ID, "age", "sex"])

    def default_config(self) -> dict[str, Any]:
        return {"preprocess": {"channel_mapper": "bids-channels"}}
