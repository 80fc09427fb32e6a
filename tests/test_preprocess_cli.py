"""``sleepfm channels`` and the command-line surface of ``sleepfm preprocess``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sleepfm.cli.app import main
from sleepfm.read.edf_writer import synthetic_recording

MONTAGE = {"C3-M2": 256.0, "EOG(L)": 256.0, "ECG": 256.0, "Chin": 256.0, "Thor": 32.0, "SpO2": 1.0, "Pos": 1.0}


def test_channels_lists_label_rate_unit_modality_and_rule(tmp_path: Path, capsys) -> None:
    path = synthetic_recording(tmp_path / "n.edf", 10, MONTAGE)
    assert main(["channels", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"# {path}: 7 channels"
    rows = {line.split("\t")[0]: line.split("\t") for line in lines[2:]}
    assert rows["EOG(L)"] == ["EOG(L)", "EOG(L)", "256", "µV", "BAS", "bas:eog[EOG]"]
    assert rows["SpO2"][2:5] == ["1", "%", "RESP"]
    assert rows["Pos"][4] == "unmapped" and "body position" in rows["Pos"][5]


def test_channels_json_with_another_mapper_and_on_a_store(tmp_path: Path, capsys) -> None:
    path = synthetic_recording(tmp_path / "n.edf", 10, MONTAGE)
    table = tmp_path / "groups.json"
    table.write_text(json.dumps({"BAS": ["C3-M2"], "EKG": ["ECG"], "RESP": [], "EMG": []}))
    assert main(["channels", str(path), "--channel-map", str(table), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)[str(path)]
    assert [(r["name"], r["modality"]) for r in rows if r["modality"]] == [("C3-M2", "BAS"), ("ECG", "EKG")]
    assert main(["channels", str(path), "--mapper", "emg", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)[str(path)]
    assert [r["name"] for r in rows if r["modality"]] == ["Chin"]
    assert main(["preprocess", str(path), "--out", str(tmp_path / "out")]) == 0
    capsys.readouterr()
    assert main(["channels", str(tmp_path / "out" / "n.h5"), "--json"]) == 0
    stored = {r["name"]: r for r in json.loads(capsys.readouterr().out)[str(tmp_path / "out" / "n.h5")]}
    assert stored["Thor"]["modality"] == "RESP" and stored["Thor"]["original_rate"] == 32
    assert stored["Thor"]["rate"] == 128 and stored["Thor"]["rule"] == "resp:effort[THOR]"


def test_channels_reports_unreadable_files_and_goes_on(tmp_path: Path, capsys) -> None:
    good = synthetic_recording(tmp_path / "n.edf", 10, MONTAGE)
    (tmp_path / "bad.edf").write_bytes(b"")
    assert main(["channels", str(tmp_path / "bad.edf"), str(good)]) == 1
    captured = capsys.readouterr()
    assert "empty file (0 bytes)" in captured.err and "7 channels" in captured.out


def test_preprocess_usage_errors(tmp_path: Path, capsys) -> None:
    assert main(["preprocess", "--out", str(tmp_path)]) == 2
    assert "no input files or folders given" in capsys.readouterr().err
    assert main(["preprocess", str(tmp_path / "missing"), "--out", str(tmp_path)]) == 2
    assert "input not found" in capsys.readouterr().err
    assert main(["preprocess", str(tmp_path), "--out", str(tmp_path / "o"), "--executor", "spark"]) == 2
    assert "executor" in capsys.readouterr().err
    assert main(["preprocess", str(tmp_path), "--out", str(tmp_path / "o"), "--channel-map", "nope.json"]) == 1
    assert "channel map not found" in capsys.readouterr().err


@pytest.mark.shared
def test_channels_maps_a_published_file_by_its_names(shared: Path, capsys) -> None:
    path = shared / "reference" / "preprocessing" / "mixed_rates.reference.h5"
    assert main(["channels", str(path), "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)[str(path)]}
    assert rows["SpO2"]["modality"] == "RESP" and rows["SpO2"]["rate"] == 128 and rows["Flat"]["modality"] is None
