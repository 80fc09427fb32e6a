"""NSRR XML in both dialects, generated here following the public NSRR formats.

The standardised file is shaped like an SHHS/MESA ``*-nsrr.xml``: a ``Recording Start Time``
event with ``ClockTime``, run-length ``Stages|Stages`` events, respiratory events with
``SignalLocation``, an SpO2 desaturation with ``SpO2Nadir``/``SpO2Baseline``, arousals and an
``Unscored|9`` span. The Profusion file (``CMPStudyConfig``) scores the same night per epoch.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from sleepfm.errors import InputError
from sleepfm.labels import detect_format, read_hypnogram
from sleepfm.labels.vocabulary import make_mapping

# (EventType, EventConcept, Start, Duration, extra elements)
NSRR_EVENTS: list[tuple[str, str, float, float, dict[str, str]]] = [
    ("", "Recording Start Time", 0, 600, {"ClockTime": "00.00.00 22.47.30"}),
    ("Stages|Stages", "Wake|0", 0, 90, {}),
    ("Stages|Stages", "Stage 1 sleep|1", 90, 60, {}),
    ("Stages|Stages", "Stage 2 sleep|2", 150, 120, {}),
    ("Respiratory|Respiratory", "Hypopnea|Hypopnea", 181.2, 17.8, {"SignalLocation": "ABDO RES"}),
    ("Respiratory|Respiratory", "SpO2 desaturation|SpO2 desaturation", 195.0, 21.0,
     {"SignalLocation": "SaO2", "SpO2Nadir": "87", "SpO2Baseline": "95"}),
    ("Arousals|Arousals", "Arousal|Arousal ()", 199.5, 6.5, {"SignalLocation": "C3"}),
    ("Stages|Stages", "Stage 3 sleep|3", 270, 30, {}),
    ("Stages|Stages", "Stage 4 sleep|4", 300, 30, {}),
    ("Stages|Stages", "REM sleep|5", 330, 60, {}),
    ("Respiratory|Respiratory", "Obstructive apnea|Obstructive Apnea", 340.0, 12.0, {"SignalLocation": "AIRFLOW"}),
    ("Stages|Stages", "Unscored|9", 390, 60, {}),
    ("Stages|Stages", "Movement|6", 450, 30, {}),
    ("Stages|Stages", "Wake|0", 480, 120, {}),
    ("Arousals|Arousals", "ASDA arousal|Arousal (ASDA)", 500.0, 4.0, {"SignalLocation": "C4"}),
]
# The night above, per 30-s epoch: W W W N1 N1 N2 N2 N2 N2 S3 S4 R R ? ? MT W W W W.
EXPECTED = [0, 0, 0, 1, 1, 2, 2, 2, 2, 3, 3, 4, 4, -1, -1, -1, 0, 0, 0, 0]
PROFUSION_CODES = [0, 0, 0, 1, 1, 2, 2, 2, 2, 3, 4, 5, 5, 9, 9, 6, 0, 0, 0, 0]


def _indent_write(root: ET.Element, path: Path) -> Path:
    ET.indent(root)
    ET.ElementTree(root).write(path, encoding="UTF-8", xml_declaration=True)
    return path


def write_nsrr_xml(path: Path, events=NSRR_EVENTS, epoch_length: str = "30") -> Path:
    root = ET.Element("PSGAnnotation")
    ET.SubElement(root, "SoftwareVersion").text = "Compumedics"
    ET.SubElement(root, "EpochLength").text = epoch_length
    scored = ET.SubElement(root, "ScoredEvents")
    for kind, concept, start, duration, extra in events:
        event = ET.SubElement(scored, "ScoredEvent")
        ET.SubElement(event, "EventType").text = kind or None
        ET.SubElement(event, "EventConcept").text = concept
        ET.SubElement(event, "Start").text = str(start)
        ET.SubElement(event, "Duration").text = str(duration)
        for tag, text in extra.items():
            ET.SubElement(event, tag).text = text
    return _indent_write(root, path)


def write_profusion_xml(path: Path, codes=PROFUSION_CODES) -> Path:
    root = ET.Element("CMPStudyConfig")
    ET.SubElement(root, "EpochLength").text = "30"
    scored = ET.SubElement(root, "ScoredEvents")
    for name, start, duration, channel, extra in [
        ("Hypopnea", 181.2, 17.8, "ABDO RES", {}),
        ("SpO2 desaturation", 195.0, 21.0, "SaO2", {"LowestSpO2": "87", "Desaturation": "8"}),
        ("Arousal (ASDA)", 199.5, 6.5, "C3", {}),
        ("Obstructive Apnea", 340.0, 12.0, "AIRFLOW", {}),
    ]:
        event = ET.SubElement(scored, "ScoredEvent")
        for tag, text in extra.items():
            ET.SubElement(event, tag).text = text
        ET.SubElement(event, "Name").text = name
        ET.SubElement(event, "Start").text = f"{start:g}"
        ET.SubElement(event, "Duration").text = f"{duration:g}"
        ET.SubElement(event, "Input").text = channel
    stages = ET.SubElement(root, "SleepStages")
    for code in codes:
        ET.SubElement(stages, "SleepStage").text = str(code)
    return _indent_write(root, path)


def test_nsrr_run_length_stages_expand_to_epochs(tmp_path: Path) -> None:
    path = write_nsrr_xml(tmp_path / "shhs1-200001-nsrr.xml")
    assert detect_format(path) == "nsrr-xml"
    hypnogram = read_hypnogram(path)
    assert hypnogram.epoch_seconds == 30 and hypnogram.onset == 0
    assert hypnogram.stages.tolist() == EXPECTED
    assert hypnogram.start_time is not None and hypnogram.start_time.strftime("%H:%M:%S") == "22:47:30"


def test_nsrr_events_keep_channel_and_nadir(tmp_path: Path) -> None:
    events = read_hypnogram(write_nsrr_xml(tmp_path / "a.xml")).events
    assert events["event"].tolist() == ["hypopnea", "desaturation", "arousal", "obstructive apnea", "arousal"]
    desaturation = events[events["event"] == "desaturation"].iloc[0]
    assert desaturation["nadir"] == 87 and desaturation["channel"] == "SaO2"
    assert desaturation["onset"] == 195 and desaturation["duration"] == 21
    assert events["nadir"].isna().sum() == 4
    assert events.loc[events["event"] == "hypopnea", "channel"].item() == "ABDO RES"


def test_nsrr_unscored_and_movement_mapping(tmp_path: Path) -> None:
    path = write_nsrr_xml(tmp_path / "a.xml")
    hypnogram = read_hypnogram(path, mapping=make_mapping(unscored="W", movement="N1"))
    assert hypnogram.stages[13:16].tolist() == [0, 0, 1]


def test_nsrr_gap_between_stage_events_is_unscored(tmp_path: Path) -> None:
    events = [e for e in NSRR_EVENTS if e[1] != "Unscored|9"]
    hypnogram = read_hypnogram(write_nsrr_xml(tmp_path / "gap.xml", events))
    assert hypnogram.stages.tolist() == EXPECTED
    assert read_hypnogram(tmp_path / "gap.xml", mapping=make_mapping(unscored="W")).stages[13] == 0


def test_nsrr_dated_clock_time(tmp_path: Path) -> None:
    events = [("", "Recording Start Time", 0, 60, {"ClockTime": "15.03.02 23.10.05"}),
              ("Stages|Stages", "Wake|0", 0, 60, {})]
    hypnogram = read_hypnogram(write_nsrr_xml(tmp_path / "d.xml", events))
    assert hypnogram.start_time.isoformat() == "2002-03-15T23:10:05"


def test_profusion_matches_the_nsrr_night(tmp_path: Path) -> None:
    path = write_profusion_xml(tmp_path / "shhs1-200001-profusion.xml")
    assert detect_format(path) == "profusion-xml"
    hypnogram = read_hypnogram(path)
    assert hypnogram.stages.tolist() == EXPECTED and hypnogram.start_time is None
    nsrr = read_hypnogram(write_nsrr_xml(tmp_path / "n.xml")).events
    profusion = hypnogram.events
    assert profusion["event"].tolist() == nsrr["event"].tolist()[:4]
    assert profusion.loc[profusion["event"] == "desaturation", "nadir"].item() == 87


@pytest.mark.parametrize(("writer", "fmt", "message"), [
    (lambda p: write_nsrr_xml(p, [("Stages|Stages", "Stage 7 sleep|7", 0, 30, {})]), "nsrr-xml",
     "unknown stage code 7"),
    (lambda p: write_nsrr_xml(p, [("Stages|Stages", "Wake", 0, 30, {})]), "nsrr-xml", "no numeric code"),
    (lambda p: write_nsrr_xml(p, [("Stages|Stages", "Wake|0", 0, "abc", {})]), "nsrr-xml", "not a number"),
    (lambda p: write_nsrr_xml(p, NSRR_EVENTS[:1]), "nsrr-xml", "no Stages"),
    (lambda p: write_profusion_xml(p, [0, 1, "x"]), "profusion-xml", "SleepStage 3"),
    (lambda p: write_profusion_xml(p, []), "profusion-xml", "no SleepStages"),
    (lambda p: p.write_text("<PSGAnnotation><ScoredEvents>"), "nsrr-xml", "malformed XML"),
    (lambda p: write_profusion_xml(p), "nsrr-xml", "expected <PSGAnnotation>"),
])
def test_malformed_xml_raises_input_errors(tmp_path: Path, writer, fmt: str, message: str) -> None:
    path = tmp_path / "bad.xml"
    writer(path)
    with pytest.raises(InputError, match=message):
        read_hypnogram(path, fmt=fmt)
