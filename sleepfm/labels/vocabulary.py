"""What the label readers share: doubtful-epoch kinds, the stage mapping, the event table.

Every format has codes that are not one of W/N1/N2/N3/REM. They fall into three kinds:

``unscored``
    The scorer gave no stage (``Sleep stage ?``, NSRR ``Unscored|9``, DREAMS -2/-3, published
    ``Unknown`` -1) — and any gap between scored epochs.
``movement``
    R&K movement time (``Movement time``, SLPDB ``MT``, NSRR ``Movement|6``, DREAMS -1).
``artefact``
    Epochs marked as artefact by the scorer.

A :class:`~sleepfm.interfaces.label_reader.StageMapping` says which stage (or ``UNS``) each kind
becomes; readers never decide that themselves.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Literal

import numpy as np
import pandas as pd

from sleepfm.errors import UsageError
from sleepfm.labels.hypnogram import EVENT_COLUMNS, Stage, StageMapping

Doubtful = Literal["unscored", "movement", "artefact"]
#: A raw code after a reader's lookup: a stage, or one of the doubtful kinds.
Scored = Stage | Doubtful

#: Stage names accepted on the command line and in mappings (case-insensitive).
_STAGE_ALIASES = {"W": "W", "WAKE": "W", "N1": "N1", "N2": "N2", "N3": "N3", "REM": "REM", "R": "REM", "UNS": "UNS"}


def stage_name(text: str, *, option: str = "stage") -> str:
    """Normalise a user-given stage name (``r``, ``Rem``, ``wake`` → ``REM``, ``REM``, ``W``)."""
    name = _STAGE_ALIASES.get(str(text).strip().upper())
    if name is None:
        raise UsageError(
            f"{option}: {text!r} is not a stage",
            fix="use one of W, N1, N2, N3, REM or UNS",
        )
    return name


def make_mapping(unscored: str = "UNS", movement: str = "UNS", artefact: str = "UNS") -> StageMapping:
    """A validated :class:`StageMapping` from stage names given by a user."""
    return StageMapping(
        unscored=stage_name(unscored, option="unscored"),
        movement=stage_name(movement, option="movement"),
        artefact=stage_name(artefact, option="artefact"),
    )


def stage_code(value: Scored, mapping: StageMapping) -> int:
    """The :class:`Stage` code of a looked-up value under ``mapping``."""
    if isinstance(value, Stage):
        return int(value)
    return mapping.code(value)


def stage_codes(values: Iterable[Scored], mapping: StageMapping) -> np.ndarray:
    """int8 codes for a sequence of looked-up values."""
    return np.fromiter((stage_code(v, mapping) for v in values), dtype=np.int8)


# Ordered: the first pattern that matches the lower-cased name wins (RERA before arousal,
# "central hypopnea" before "hypopnea").
_EVENT_PATTERNS: tuple[tuple[str, str], ...] = (
    (r"\brera\b|respiratory effort related", "rera"),
    (r"arousal", "arousal"),
    (r"obstructive apn", "obstructive apnea"),
    (r"central apn", "central apnea"),
    (r"mixed apn", "mixed apnea"),
    (r"obstructive hypopn", "obstructive hypopnea"),
    (r"central hypopn", "central hypopnea"),
    (r"hypopn", "hypopnea"),
    (r"^apn", "apnea"),
    (r"(spo2|sao2).*artifact|(spo2|sao2).*artefact", "spo2 artefact"),
    (r"desat", "desaturation"),
    (r"periodic (leg|limb)|^plm", "periodic limb movement"),
    (r"(leg|limb) movement", "limb movement"),
    (r"lights? ?off|lights? out", "lights off"),
    (r"lights? ?on", "lights on"),
)


def canonical_event(name: str) -> str:
    """A format's event name in sleepfm's vocabulary.

    NSRR ``"Obstructive apnea|Obstructive Apnea"`` → ``"obstructive apnea"``, Profusion
    ``"Arousal (ASDA)"`` → ``"arousal"``, ``"SpO2 desaturation"`` → ``"desaturation"``, HMC
    ``"Lights off"`` → ``"lights off"``. Names outside the vocabulary are kept, lower-cased.
    """
    head = name.split("|", 1)[0].strip().lower()
    head = " ".join(head.split())
    for pattern, canonical in _EVENT_PATTERNS:
        if re.search(pattern, head):
            return canonical
    return head


EventRow = tuple[float, float, str, str, float]


def events_frame(rows: Sequence[EventRow]) -> pd.DataFrame:
    """The event table (columns :data:`EVENT_COLUMNS`) from ``(onset, duration, event, channel, nadir)`` rows."""
    frame = pd.DataFrame(list(rows), columns=list(EVENT_COLUMNS))
    frame = frame.astype({"onset": "float64", "duration": "float64", "nadir": "float64",
                          "event": "object", "channel": "object"})
    return frame.sort_values(["onset", "event"], kind="stable").reset_index(drop=True)


# Stage words of text formats (BIDS TSV, EDFbrowser, YASA), after lower-casing, dropping a leading
# "sleep stage"/"stage" and spaces: AASM, R&K, YASA and BIDS-proposal spellings.
_STAGE_WORDS: dict[str, Scored] = {
    **dict.fromkeys(("w", "wake", "awake", "0"), Stage.W),
    **dict.fromkeys(("n1", "1", "s1", "nrem1"), Stage.N1),
    **dict.fromkeys(("n2", "2", "s2", "nrem2"), Stage.N2),
    **dict.fromkeys(("n3", "3", "4", "s3", "s4", "n4", "nrem3", "nrem4", "sws"), Stage.N3),
    **dict.fromkeys(("r", "rem", "5"), Stage.REM),
    **dict.fromkeys(("?", "uns", "unscored", "unknown", "n/a", "9"), "unscored"),
    **dict.fromkeys(("m", "mt", "movement", "movementtime", "6"), "movement"),
    **dict.fromkeys(("art", "artefact", "artifact"), "artefact"),
}


def stage_from_text(text: str) -> Scored | None:
    """The stage (or doubtful kind) a text label names, or ``None`` when it names no stage.

    ``"Wake"``, ``"W"``, ``"Sleep stage W"``, ``"WAKE"`` → W; ``"N3"``, ``"Stage 4"`` → N3;
    ``"REM"``, ``"R"`` → REM; ``"Unscored"``, ``"UNS"``, ``"?"``, ``"n/a"`` → unscored;
    ``"Movement time"`` → movement; ``"ART"`` → artefact. Bare digits count only after
    "stage" (``"Stage 2"``), so a numeric event code is never taken for a stage.
    """
    words = " ".join(str(text).lower().split())
    staged = re.sub(r"^(sleep )?stage ", "", words)
    key = staged.replace(" ", "").replace("_", "")
    if staged == words and key.isdigit():
        return None
    return _STAGE_WORDS.get(key)
