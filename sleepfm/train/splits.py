"""Which studies train, validate and test: published split files or participant-level splits.

A split file has the published ``dataset_split.json`` shape: a JSON object of split name →
list of paths (``mesa/mesa-sleep-5179.hdf5``), relative ones resolved against a data root.
A study's ID is the file's stem (``mesa-sleep-5179``); unlike the published code, IDs may
contain dots.

A generated split assigns whole *participants*, never recordings, so a participant's second
visit cannot sit on the other side (the published file leaks 148 MrOS test recordings this
way, SPEC §10.16). Participants come from a CSV (``study,participant``), a regular
expression whose first group is the participant, or the built-in NSRR naming rules.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sleepfm.errors import InputError
from sleepfm.json_input import read_json
from sleepfm.json_output import write_json

#: NSRR cohort naming: the participant is the part after the visit.
NSRR_PARTICIPANT_RULES: tuple[tuple[str, str], ...] = (
    ("mros", r"^mros-visit\d+-(?P<participant>[^.]+)$"),
    ("shhs", r"^shhs\d+-(?P<participant>\d+)$"),
    ("mesa", r"^mesa-sleep-(?P<participant>\d+)$"),
    ("cfs", r"^cfs-visit\d+-(?P<participant>\d+)$"),
    ("chat", r"^chat-(?:baseline|followup|nonrandomized)-(?P<participant>\d+)$"),
    ("ccshs", r"^ccshs-trec-(?P<participant>\d+)$"),
)


def study_id(path: str | Path) -> str:
    """The study ID of a file: its name without the last extension."""
    return Path(path).stem


@dataclass(frozen=True)
class SplitFile:
    """A published-shape split file, read and resolved."""

    path: Path
    paths: dict[str, list[Path]]

    def ids(self, split: str) -> list[str]:
        return [study_id(p) for p in self.paths_of(split)]

    def paths_of(self, split: str) -> list[Path]:
        if split not in self.paths:
            raise InputError(f"split file has no split {split!r}", where=self.path,
                             fix=f"its splits are: {', '.join(self.paths) or 'none'}")
        return self.paths[split]


def read_split_file(path: Path, root: Path | None = None) -> SplitFile:
    """Read a ``dataset_split.json``-shaped file, resolving relative paths against ``root``."""
    path = Path(path)
    data = read_json(path, "split file", missing_fix="check data.split.file")
    if not isinstance(data, dict) or not all(
        isinstance(v, list) and all(isinstance(p, str) for p in v) for v in data.values()
    ):
        raise InputError("a split file maps split names to lists of paths", where=path,
                         fix='e.g. {"train": ["mesa/mesa-sleep-0001.hdf5"], "test": [...]}')
    resolved = {
        name: [Path(p) if Path(p).is_absolute() or root is None else Path(root) / p for p in entries]
        for name, entries in data.items()
    }
    return SplitFile(path, resolved)


def write_split_file(path: Path, splits: Mapping[str, Iterable[str | Path]]) -> Path:
    """Write a split file of the published shape (paths as given)."""
    payload = {name: [str(p) for p in entries] for name, entries in splits.items()}
    return write_json(Path(path), payload)


class ParticipantMap:
    """Study ID → participant ID, from a CSV, a regular expression or the NSRR rules."""

    def __init__(self, table: Path | None = None, pattern: str | None = None) -> None:
        self.table = _read_participants(table) if table is not None else {}
        self.pattern = re.compile(pattern) if pattern else None
        self._rules = [re.compile(rule) for _, rule in NSRR_PARTICIPANT_RULES]

    def __call__(self, study: str) -> str:
        if study in self.table:
            return self.table[study]
        rules = [self.pattern] if self.pattern is not None else self._rules
        for rule in rules:
            match = rule.search(study)
            if match:
                # Prefix with the cohort so equal numbers in two cohorts stay two people.
                return f"{rule.pattern}:{match.group(1)}"
        return study


def _read_participants(path: Path) -> dict[str, str]:
    try:
        with Path(path).open(newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
    except FileNotFoundError:
        raise InputError("participant table not found", where=path) from None
    if not rows or len(rows[0]) < 2:
        raise InputError("participant table needs two columns: study, participant", where=path)
    header = [h.strip().lower() for h in rows[0]]
    body = rows[1:] if header[:2] in (["study", "participant"], ["study id", "participant"]) else rows
    return {row[0].strip(): row[1].strip() for row in body if len(row) >= 2 and row[0].strip()}


def generate_split(
    ids: Iterable[str],
    participant_of: ParticipantMap,
    *,
    fractions: Mapping[str, float],
    rest: str,
    seed: int,
) -> dict[str, list[str]]:
    """Assign every study to a split by participant.

    ``fractions`` gives each named split's share of participants (e.g. validation 0.1,
    test 0.1); ``rest`` gets the others. Participants are shuffled with ``seed``; every split
    with a positive fraction gets at least one participant while enough remain.
    """
    by_participant: dict[str, list[str]] = {}
    for sid in sorted(set(ids)):
        by_participant.setdefault(participant_of(sid), []).append(sid)
    participants = sorted(by_participant)
    order = np.random.default_rng(seed).permutation(len(participants))
    shuffled = [participants[i] for i in order]
    out: dict[str, list[str]] = {name: [] for name in fractions}
    out.setdefault(rest, [])
    start = 0
    for name, fraction in fractions.items():
        count = round(fraction * len(shuffled))
        if fraction > 0 and count == 0 and len(shuffled) - start > 1:
            count = 1
        for participant in shuffled[start : start + count]:
            out[name].extend(by_participant[participant])
        start += count
    for participant in shuffled[start:]:
        out[rest].extend(by_participant[participant])
    return {name: sorted(members) for name, members in out.items()}


def participant_overlaps(
    splits: Mapping[str, Iterable[str]], participant_of: ParticipantMap
) -> dict[tuple[str, str], list[str]]:
    """Participants found in two splits: ``{(split_a, split_b): [participant, ...]}``."""
    members = {name: {participant_of(s) for s in ids} for name, ids in splits.items()}
    names = list(members)
    overlaps = {}
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            shared = sorted(members[a] & members[b])
            if shared:
                overlaps[(a, b)] = shared
    return overlaps
