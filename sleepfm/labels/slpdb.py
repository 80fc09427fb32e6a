"""MIT-BIH Polysomnographic Database (SLPDB) sleep annotations, as an ``rdann`` text dump.

One line per 30-s epoch under the rdann header (``Elapsed time  Sample #  Type  Sub Chan
Num<TAB>Aux``). The first token of ``Aux`` is the stage — ``W``, ``1``, ``2``, ``3``, ``4``
(R&K 3 and 4 → N3), ``R``, ``MT`` (*movement*; the lone ``M`` some records hold is read as
``MT``). Further tokens are events scored in that epoch (PhysioNet ``README.st``):

====  ===============================  ====  ================================
H     hypopnea                         CA    central apnea
HA    hypopnea + arousal               CAA   central apnea + arousal
OA    obstructive apnea                L     leg movement (``LL`` = two, …)
X     obstructive apnea + arousal      LA    leg movement + arousal
A     arousal
====  ===============================  ====  ================================

The annotations time events only to their epoch, so each event row has the epoch's onset
and a 30-s duration. Epochs are placed by their elapsed time; the hypnogram starts at the
first annotated epoch (``onset``), and epochs missing in between are *unscored*. When the
record's ``.hea`` header sits beside the file, its start time is used (a header without a
date gets the EDF+ placeholder date 1 Jan 1985).
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import ClassVar

from sleepfm.errors import InputError
from sleepfm.interfaces.label_reader import LabelReader
from sleepfm.labels.epochs import runs_to_stages
from sleepfm.labels.hypnogram import Hypnogram, Stage, StageMapping
from sleepfm.labels.vocabulary import EventRow, Scored, events_frame, stage_code

EPOCH_SECONDS = 30.0
STAGES: dict[str, Scored] = {
    "W": Stage.W, "1": Stage.N1, "2": Stage.N2, "3": Stage.N3, "4": Stage.N3, "R": Stage.REM,
    "MT": "movement", "M": "movement",
}
EVENTS: dict[str, tuple[str, ...]] = {
    "H": ("hypopnea",), "HA": ("hypopnea", "arousal"),
    "OA": ("obstructive apnea",), "X": ("obstructive apnea", "arousal"),
    "CA": ("central apnea",), "CAA": ("central apnea", "arousal"),
    "L": ("limb movement",), "LA": ("limb movement", "arousal"),
    "A": ("arousal",),
}
_LINE = re.compile(r"\s*(?P<elapsed>[\d:.]+)\s+(?P<sample>\d+)\s+\S+\s+-?\d+\s+\d+\s+-?\d+(?:\s+(?P<aux>.*))?")
_HEA_TIME = re.compile(r"(\d{1,2}):(\d{1,2}):(\d{1,2}(?:\.\d*)?)(?:\s+(\d{1,2})/(\d{1,2})/(\d{2,4}))?")


def _seconds(elapsed: str) -> float:
    total = 0.0
    for part in elapsed.split(":"):
        total = total * 60 + float(part)
    return total


def _events(token: str) -> tuple[str, ...]:
    if token in EVENTS:
        return EVENTS[token]
    if set(token) == {"L"}:  # "LL", "LLL": several leg movements written as one token
        return EVENTS["L"] * len(token)
    raise KeyError(token)


def header_start_time(hea: Path) -> datetime | None:
    """Start time from a WFDB ``.hea`` record line (``name nsig fs nsamp HH:MM:SS dd/mm/yyyy``)."""
    try:
        fields = hea.read_text(encoding="latin-1").splitlines()[0].split(None, 4)
    except (OSError, IndexError):
        return None
    match = _HEA_TIME.match(fields[4]) if len(fields) == 5 else None
    if match is None:
        return None
    hour, minute, second, day, month, year = match.groups()
    date = (1985, 1, 1)
    if day:
        yy = int(year)
        date = (yy if yy > 1000 else 1900 + yy if yy >= 85 else 2000 + yy, int(month), int(day))
    try:
        return datetime(*date, int(hour), int(minute), int(float(second)))
    except ValueError:
        return None


class SlpdbReader(LabelReader):
    """SLPDB rdann text dump (.an): stage = first Aux token per 30-s epoch, further tokens → events."""

    extensions: ClassVar[tuple[str, ...]] = (".an", ".txt")

    def sniff(self, path: Path) -> bool:
        with open(path, "rb") as handle:
            first = handle.readline(200)
        return first.lstrip().startswith(b"Elapsed time") and b"Aux" in first

    def read(self, path: Path, mapping: StageMapping | None = None) -> Hypnogram:
        mapping = mapping or StageMapping()
        path = Path(path)
        if not self.sniff(path):
            raise InputError("not an rdann text dump (no 'Elapsed time ... Aux' header)", where=path)
        runs: list[tuple[float, float, int]] = []
        events: list[EventRow] = []
        with open(path, encoding="latin-1") as handle:
            next(handle)
            for number, line in enumerate(handle, start=2):
                if not line.strip():
                    continue
                match = _LINE.fullmatch(line.rstrip("\r\n"))
                tokens = (match.group("aux") or "").split() if match else []
                if not tokens:
                    raise InputError(f"line {number} is not an annotation with a stage: {line.strip()[:60]!r}",
                                     where=path)
                # The first epoch is stamped at sample 1 (0.004 s); place epochs on the 30-s grid.
                onset = round(_seconds(match.group("elapsed")) / EPOCH_SECONDS) * EPOCH_SECONDS
                if tokens[0] not in STAGES:
                    raise InputError(f"line {number}: unknown stage {tokens[0]!r}", where=path,
                                     fix=f"SLPDB stages are {', '.join(STAGES)}")
                runs.append((onset, EPOCH_SECONDS, stage_code(STAGES[tokens[0]], mapping)))
                for token in tokens[1:]:
                    try:
                        names = _events(token)
                    except KeyError:
                        raise InputError(f"line {number}: unknown event {token!r}", where=path,
                                         fix=f"SLPDB events are {', '.join(EVENTS)}") from None
                    events.extend((onset, EPOCH_SECONDS, name, "", float("nan")) for name in names)
        if not runs:
            raise InputError("SLPDB annotation file has no epochs", where=path)
        onset, stages = runs_to_stages(runs, EPOCH_SECONDS, mapping.code("unscored"), where=str(path))
        return Hypnogram(stages, epoch_seconds=EPOCH_SECONDS, onset=onset,
                         start_time=header_start_time(path.with_suffix(".hea")),
                         events=events_frame(events), source=path)
