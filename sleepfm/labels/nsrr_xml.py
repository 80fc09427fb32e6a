"""NSRR XML hypnograms, in both dialects the NSRR distributes.

Standardised NSRR (``PSGAnnotation``)
    ``ScoredEvents/ScoredEvent`` elements with ``EventType``, ``EventConcept``, ``Start``,
    ``Duration`` (seconds), and optionally ``SignalLocation`` and ``SpO2Nadir``. Stages are
    run-length events of type ``Stages|Stages`` whose concept ends in a code: ``Wake|0``,
    ``Stage 1 sleep|1`` … ``Stage 4 sleep|4`` (R&K 3 and 4 → N3), ``REM sleep|5``,
    ``Movement|6`` (*movement*), ``Unscored|9`` (*unscored*). They are expanded to
    ``EpochLength`` epochs (30 s). ``Start`` is seconds from the recording's start (NSRR's
    definition), so it is trusted over any clock. The ``Recording Start Time`` event's
    ``ClockTime`` (``dd.mm.yy HH.MM.SS``) gives the start; NSRR blanks the date (``00.00.00``),
    in which case the EDF+ anonymised date 1 Jan 1985 stands in so that the clock time survives.
Compumedics Profusion (``CMPStudyConfig``)
    ``SleepStages/SleepStage``: one integer per epoch (0 W, 1–4 R&K → N1, N2, N3, N3, 5 REM,
    6 *movement*, 9 *unscored*); ``ScoredEvents/ScoredEvent`` with ``Name``, ``Start``,
    ``Duration``, ``Input`` (channel) and, for desaturations, ``LowestSpO2``.

All other scored events — apneas, hypopneas, SpO2 desaturations (with their nadir),
arousals, limb movements — go to the event table with names from
:func:`sleepfm.labels.vocabulary.canonical_event`.

Writer ``nsrr``: standardised NSRR XML — ``EpochLength``, a ``Recording Start Time`` event
whose ``ClockTime`` is ``dd.mm.yy HH.MM.SS`` (when the start is known), then one
``Stages|Stages`` event per run of equal stages with the NSRR concepts ``Wake|0``,
``Stage 1 sleep|1``, ``Stage 2 sleep|2``, ``Stage 3 sleep|3``, ``REM sleep|5`` and
``Unscored|9``, ``Start`` and ``Duration`` in seconds. These are the terms Luna's NSRR
annotation remapping turns into W, N1, N2, N3, R and ``?``. Only stages are written.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path
from typing import ClassVar

import numpy as np

from sleepfm.errors import InputError
from sleepfm.interfaces.hypnogram_writer import HypnogramExport, HypnogramWriter
from sleepfm.interfaces.label_reader import LabelReader
from sleepfm.labels.epochs import runs_to_stages
from sleepfm.labels.hypnogram import Hypnogram, Stage, StageMapping
from sleepfm.labels.vocabulary import EventRow, Scored, canonical_event, events_frame, stage_code, stage_codes

#: Stage codes shared by both dialects (NSRR concepts end in ``|code``; Profusion stores the code).
STAGE_CODES: dict[int, Scored] = {
    0: Stage.W, 1: Stage.N1, 2: Stage.N2, 3: Stage.N3, 4: Stage.N3, 5: Stage.REM,
    6: "movement", 9: "unscored",
}
#: Anonymised NSRR files blank the date; the EDF+ convention's placeholder keeps the clock time.
PLACEHOLDER_DATE = (1985, 1, 1)


def _sniff_root(path: Path, tag: bytes) -> bool:
    with open(path, "rb") as handle:
        head = handle.read(2048)
    return tag in head


def _parse(path: Path, root_tag: str) -> ET.Element:
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise InputError(f"malformed XML ({exc})", where=path) from None
    if root.tag != root_tag:
        raise InputError(f"XML root is <{root.tag}>, expected <{root_tag}>", where=path)
    return root


def _text(element: ET.Element, tag: str) -> str:
    child = element.find(tag)
    return (child.text or "").strip() if child is not None else ""


def _number(element: ET.Element, tag: str, path: Path, *, required: bool = True) -> float:
    text = _text(element, tag)
    if not text and not required:
        return math.nan
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"<{tag}> is {text!r}, not a number", where=path) from None
    if not math.isfinite(value):
        raise InputError(f"<{tag}> is {text!r}, not a finite number", where=path)
    return value


def _epoch_length(root: ET.Element, path: Path) -> float:
    value = _number(root, "EpochLength", path, required=False)
    if math.isnan(value):
        return 30.0
    if value <= 0:
        raise InputError(f"<EpochLength> is {value:g}", where=path)
    return value


def _stage(code: int, path: Path, context: str) -> Scored:
    try:
        return STAGE_CODES[code]
    except KeyError:
        raise InputError(f"unknown stage code {code} in {context}", where=path,
                         fix=f"known codes: {', '.join(map(str, STAGE_CODES))}") from None


def _clock_time(text: str) -> datetime | None:
    """``dd.mm.yy HH.MM.SS`` (NSRR ClockTime); a blank date becomes the placeholder."""
    date_part, _, time_part = text.strip().rpartition(" ")
    try:
        hour, minute, second = (int(float(x)) for x in time_part.replace(":", ".").split("."))
        year, month, day = PLACEHOLDER_DATE
        if date_part and date_part.strip("0.") != "":
            day, month, yy = (int(x) for x in date_part.split("."))
            year = yy if yy > 1000 else (1900 + yy if yy >= 85 else 2000 + yy)
        return datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None


class NsrrXmlReader(LabelReader):
    """NSRR standardised XML (PSGAnnotation/ScoredEvents): run-length stages, events, clock time."""

    extensions: ClassVar[tuple[str, ...]] = (".xml",)

    def sniff(self, path: Path) -> bool:
        return _sniff_root(path, b"<PSGAnnotation")

    def read(self, path: Path, mapping: StageMapping | None = None) -> Hypnogram:
        mapping = mapping or StageMapping()
        root = _parse(path, "PSGAnnotation")
        epoch = _epoch_length(root, path)
        runs: list[tuple[float, float, int]] = []
        events: list[EventRow] = []
        start_time = None
        for event in root.iterfind("ScoredEvents/ScoredEvent"):
            kind, concept = _text(event, "EventType"), _text(event, "EventConcept")
            if concept == "Recording Start Time":
                start_time = _clock_time(_text(event, "ClockTime"))
                continue
            start, duration = _number(event, "Start", path), _number(event, "Duration", path)
            if kind.split("|", 1)[0].strip().lower() == "stages":
                code_text = concept.rpartition("|")[2]
                if not code_text.strip().isdigit():
                    raise InputError(f"stage concept {concept!r} has no numeric code", where=path)
                runs.append((start, duration, stage_code(_stage(int(code_text), path, concept), mapping)))
            else:
                events.append((start, duration, canonical_event(concept), _text(event, "SignalLocation"),
                               _number(event, "SpO2Nadir", path, required=False)))
        if not runs:
            raise InputError("NSRR XML has no Stages|Stages events", where=path)
        onset, stages = runs_to_stages(runs, epoch, mapping.code("unscored"), where=str(path))
        return Hypnogram(stages, epoch_seconds=epoch, onset=onset, start_time=start_time,
                         events=events_frame(events), source=Path(path), onsets_from_recording_start=True)


class ProfusionXmlReader(LabelReader):
    """Compumedics Profusion XML (CMPStudyConfig): one SleepStage per epoch, ScoredEvents."""

    extensions: ClassVar[tuple[str, ...]] = (".xml",)

    def sniff(self, path: Path) -> bool:
        return _sniff_root(path, b"<CMPStudyConfig")

    def read(self, path: Path, mapping: StageMapping | None = None) -> Hypnogram:
        mapping = mapping or StageMapping()
        root = _parse(path, "CMPStudyConfig")
        epoch = _epoch_length(root, path)
        values: list[Scored] = []
        for number, element in enumerate(root.iterfind("SleepStages/SleepStage"), start=1):
            text = (element.text or "").strip()
            if not text.lstrip("-").isdigit():
                raise InputError(f"SleepStage {number} is {text!r}, not an integer", where=path)
            values.append(_stage(int(text), path, f"SleepStage {number}"))
        if not values:
            raise InputError("Profusion XML has no SleepStages/SleepStage elements", where=path)
        events: list[EventRow] = [
            (_number(event, "Start", path), _number(event, "Duration", path), canonical_event(_text(event, "Name")),
             _text(event, "Input"), _number(event, "LowestSpO2", path, required=False))
            for event in root.iterfind("ScoredEvents/ScoredEvent")
        ]
        stages = stage_codes(values, mapping)
        return Hypnogram(stages, epoch_seconds=epoch, onset=0.0, events=events_frame(events), source=Path(path))


# ------------------------------------------------------------------------------- writing
#: NSRR stage concepts of sleepfm's stages.
NSRR_CONCEPTS: dict[int, str] = {Stage.W: "Wake|0", Stage.N1: "Stage 1 sleep|1", Stage.N2: "Stage 2 sleep|2",
                                 Stage.N3: "Stage 3 sleep|3", Stage.REM: "REM sleep|5", Stage.UNS: "Unscored|9"}


def stage_runs(stages: np.ndarray) -> list[tuple[int, int, int]]:
    """``(first epoch, number of epochs, stage code)`` of each run of equal stages."""
    stages = np.asarray(stages)
    if stages.size == 0:
        return []
    starts = np.flatnonzero(np.concatenate([[True], stages[1:] != stages[:-1]]))
    lengths = np.diff(np.append(starts, stages.size))
    return [(int(a), int(n), int(stages[a])) for a, n in zip(starts, lengths, strict=True)]


def _element(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    child = ET.SubElement(parent, tag)
    if text is not None:
        child.text = text
    return child


def _seconds(value: float) -> str:
    return f"{value:.6f}".rstrip("0").rstrip(".") + (".0" if float(value).is_integer() else "")


class NsrrXmlWriter(HypnogramWriter):
    """NSRR standardised XML (PSGAnnotation/ScoredEvents): run-length Stages|Stages events and the clock start."""

    extensions = (".xml",)
    suffix = "-nsrr.xml"
    reader = "nsrr-xml"
    keeps_start_time = True

    def render(self, export: HypnogramExport, name: str) -> dict[str, bytes]:
        hypnogram = export.hypnogram
        epoch = float(hypnogram.epoch_seconds)
        root = ET.Element("PSGAnnotation")
        _element(root, "SoftwareVersion", "sleepfm")
        _element(root, "EpochLength", f"{epoch:g}")
        events = _element(root, "ScoredEvents")
        if hypnogram.start_time is not None:
            event = _element(events, "ScoredEvent")
            _element(event, "EventType")
            _element(event, "EventConcept", "Recording Start Time")
            _element(event, "Start", "0")
            _element(event, "Duration", _seconds(hypnogram.onset + hypnogram.duration))
            _element(event, "ClockTime", hypnogram.start_time.strftime("%d.%m.%y %H.%M.%S"))
        for first, count, code in stage_runs(hypnogram.stages):
            event = _element(events, "ScoredEvent")
            _element(event, "EventType", "Stages|Stages")
            _element(event, "EventConcept", NSRR_CONCEPTS[code])
            _element(event, "Start", _seconds(hypnogram.onset + first * epoch))
            _element(event, "Duration", _seconds(count * epoch))
        ET.indent(root)
        return {name: b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8") + b"\n"}
