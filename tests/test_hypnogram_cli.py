"""`sleepfm hypnogram`: any supported hypnogram → 30-s epoch CSV; one-line errors, no partial output."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from sleepfm.cli.app import main

from .test_cli import run_cli
from .test_labels_nsrr_xml import write_nsrr_xml


def _error_line(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    return lines[0]


@pytest.mark.shared
def test_hmc_to_csv_with_events_stats_and_plot(shared: Path, tmp_path: Path, capsys) -> None:
    source = shared / "data/psg/hmc/SN001_sleepscoring.edf"
    out = tmp_path / "SN001.csv"
    code = main(["hypnogram", str(source), "--out", str(out), "--events", str(tmp_path / "events.csv"),
                 "--stats", str(tmp_path / "stats.json"), "--plot", str(tmp_path / "SN001.png")])
    assert code == 0
    assert "854 epochs of 30 s" in capsys.readouterr().out
    frame = pd.read_csv(out)
    assert list(frame.columns) == ["onset", "duration", "clock_time", "stage"] and len(frame) == 854
    assert frame["clock_time"].iloc[:3].tolist() == ["2001-01-01T23:59:30", "2001-01-02T00:00:00",
                                                     "2001-01-02T00:00:30"]  # header start 23:59:30
    assert frame["stage"].value_counts().to_dict() == {"N2": 430, "W": 151, "REM": 141, "N1": 109, "N3": 23}
    assert frame["onset"].iloc[-1] == 853 * 30 and (frame["duration"] == 30).all()
    events = pd.read_csv(tmp_path / "events.csv")
    assert events["event"].tolist() == ["lights off", "lights on"]
    stats = json.loads((tmp_path / "stats.json").read_text())
    # Lights off at 33.43 s and on at 25,618.74 s keep epochs 1-853 (middles 45 s … 25,605 s).
    assert stats["time_in_bed"] == 853 / 2 and stats["total_sleep_time"] == (109 + 430 + 23 + 141) / 2
    assert (tmp_path / "SN001.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.shared
def test_dreams_5s_epochs_fold_to_30s(shared: Path, tmp_path: Path) -> None:
    out = tmp_path / "excerpt3.csv"
    assert main(["hypnogram", str(shared / "data/psg/dreams_cc-by-nc-nd/Hypnogram_excerpt3.txt"),
                 "--out", str(out)]) == 0
    frame = pd.read_csv(out)
    assert len(frame) == 60 and frame["onset"].iloc[1] == 30
    assert set(frame["stage"]) <= {"W", "N1", "N2", "N3"}


def test_nsrr_xml_with_mapping_and_events(tmp_path: Path) -> None:
    source = write_nsrr_xml(tmp_path / "study-nsrr.xml")
    out, events = tmp_path / "h.csv", tmp_path / "e.csv"
    assert main(["hypnogram", str(source), "--out", str(out), "--events", str(events)]) == 0
    stages = pd.read_csv(out)["stage"].tolist()
    assert stages[9:16] == ["N3", "N3", "REM", "REM", "UNS", "UNS", "UNS"]
    table = pd.read_csv(events)
    assert table.loc[table["event"] == "desaturation", "nadir"].item() == 87
    assert main(["hypnogram", str(source), "--out", str(out), "--unscored", "W", "--movement", "n1"]) == 0
    assert pd.read_csv(out)["stage"].tolist()[13:16] == ["W", "W", "N1"]


def test_forced_format(tmp_path: Path) -> None:
    source = tmp_path / "h.txt"
    source.write_text("[Hypnogram]\n" + "3\n" * 6 + "1\n" * 6)
    out = tmp_path / "h.csv"
    assert main(["hypnogram", str(source), "--format", "dreams-aasm", "--out", str(out)]) == 0
    assert pd.read_csv(out)["stage"].tolist() == ["N1", "N3"]


@pytest.mark.parametrize(("make", "args", "code", "message"), [
    (None, [], 1, "file not found"),
    ("[Hypnogram]\n5\n", ["--format", "nope"], 2, "no label reader named 'nope'"),
    ("[Hypnogram]\n5\n9\n", [], 1, "line 3: '9' is not a DREAMS RK code"),
    ("just some notes\n", [], 1, "not a hypnogram format sleepfm recognises — supported formats: bids-tsv, dreams"),
    ("[Hypnogram]\n5\n", ["--unscored", "S4"], 2, "unscored: 'S4' is not a stage"),
])
def test_bad_input_one_line_and_no_output(tmp_path: Path, capsys, make, args, code, message) -> None:
    source = tmp_path / "in.txt"
    if make is not None:
        source.write_text(make)
    out = tmp_path / "out.csv"
    out.write_text("previous result\n")
    assert main(["hypnogram", str(source), "--out", str(out), "--events", str(tmp_path / "ev.csv"), *args]) == code
    assert message in _error_line(capsys)
    assert out.read_text() == "previous result\n"  # untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["out.csv"] + (["in.txt"] if make else []))


def test_output_over_input_is_refused(tmp_path: Path, capsys) -> None:
    source = tmp_path / "h.txt"
    source.write_text("[Hypnogram]\n5\n")
    assert main(["hypnogram", str(source), "--out", str(source)]) == 2
    assert "an output path is the input file" in _error_line(capsys)
    assert source.read_text() == "[Hypnogram]\n5\n"


def test_console_script_error_is_one_line(tmp_path: Path) -> None:
    result = run_cli("hypnogram", str(tmp_path / "missing.edf"), "--out", str(tmp_path / "o.csv"))
    assert result.returncode == 1 and result.stderr.strip().count("\n") == 0
    assert "missing.edf: file not found" in result.stderr and not (tmp_path / "o.csv").exists()


def test_lights_options_bound_the_statistics(tmp_path: Path, capsys) -> None:
    source = write_nsrr_xml(tmp_path / "study-nsrr.xml")  # starts 22:47:30, 20 epochs
    out, stats = tmp_path / "h.csv", tmp_path / "s.json"
    assert main(["hypnogram", str(source), "--out", str(out), "--stats", str(stats),
                 "--lights-off", "22:48:30", "--lights-on", "480"]) == 0
    figures = json.loads(stats.read_text())
    # Epochs 2-15 (60-480 s): W N1 N1 N2 N2 N2 N2 N3 N3 R R ? ? MT → 14 epochs, 10 asleep.
    assert figures["time_in_bed"] == 7.0 and figures["total_sleep_time"] == 5.0
    assert figures["sleep_onset_latency"] == 0.5 and figures["stage_minutes"]["UNS"] == 1.5
    assert main(["hypnogram", str(source), "--out", str(out), "--lights-off", "60"]) == 2
    assert "add --stats" in _error_line(capsys)


def test_output_folder_is_refused(tmp_path: Path, capsys) -> None:
    source = tmp_path / "h.txt"
    source.write_text("[Hypnogram]\n5\n")
    assert main(["hypnogram", str(source), "--out", str(tmp_path)]) == 2
    assert "is a folder" in _error_line(capsys)
