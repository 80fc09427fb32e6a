"""Bad input: each kind gets its own one-line message, a non-zero exit, no output left behind,
and the rest of the batch is still done. A 40-s recording is accepted with a warning."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import pytest

from sleepfm.cli.app import main
from sleepfm.errors import InputError
from sleepfm.read import read_recording
from sleepfm.read.edf_writer import set_header_field, synthetic_recording


def _zero_bytes(path: Path) -> None:
    path.write_bytes(b"")


def _text_file(path: Path) -> None:
    path.write_text("Patient report\nAHI: 12\n")


def _truncated(path: Path) -> None:
    synthetic_recording(path, 20, {"EEG": 100, "ECG": 100})
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 300])  # cut inside the last data record


def _short_header(path: Path) -> None:
    synthetic_recording(path, 20, {"EEG": 100, "ECG": 100})
    path.write_bytes(path.read_bytes()[:600])  # the header alone needs 768 bytes


def _too_many_records(path: Path) -> None:
    synthetic_recording(path, 20, {"EEG": 100, "ECG": 100})
    set_header_field(path, "number of data records", "40")


def _garbage_number(path: Path) -> None:
    synthetic_recording(path, 20, {"EEG": 100, "ECG": 100})
    set_header_field(path, "physical maximum", "12,3.x", signal=1)


def _garbage_record_count(path: Path) -> None:
    synthetic_recording(path, 20, {"EEG": 100, "ECG": 100})
    set_header_field(path, "number of data records", "twenty")


def _annotations_only(path: Path) -> None:
    # An EDF+ with nothing but its annotation channel, like a hypnogram file.
    synthetic_recording(path, 4, {}, edf_plus=True)


def _all_unmapped(path: Path) -> None:
    synthetic_recording(path, 20, {"Light": 1, "Battery": 1, "X Axis": 10})


BAD: dict[str, tuple[Callable[[Path], None], str]] = {
    "zero.edf": (_zero_bytes, r"empty file \(0 bytes\)"),
    "report.edf": (_text_file, r"not an EDF or BDF file \(it starts with 'Patient '"),
    "truncated.edf": (_truncated, r"truncated file: it ends 100 bytes into data record 20 of the 20"),
    "short-header.edf": (_short_header, r"truncated header: the file has 600 bytes, its header alone declares 768"),
    "too-many.edf": (_too_many_records, r"header claims 40 data records but the file holds 20"),
    "garbage.edf": (_garbage_number, r"header field 'physical maximum' of signal 'ECG' is not a number: '12,3.x'"),
    "garbage-count.edf": (_garbage_record_count, r"header field 'number of data records' is not a whole number"),
    "hypnogram.edf": (_annotations_only, r"holds no signal channels, only annotations"),
    "unmapped.edf": (_all_unmapped, r"none of its 3 channels maps to a modality \('Light', 'Battery', 'X Axis'\)"),
}


@pytest.mark.parametrize("name", [n for n in BAD if n != "unmapped.edf"])
def test_reader_refuses_with_a_specific_message(tmp_path: Path, name: str) -> None:
    make, message = BAD[name]
    make(tmp_path / name)
    with pytest.raises(InputError, match=message) as caught:
        read_recording(tmp_path / name)
    assert "\n" not in str(caught.value) and str(tmp_path / name) in str(caught.value)


@pytest.mark.parametrize("name", [n for n in BAD if n != "hypnogram.edf"])
def test_cli_fails_that_study_only(tmp_path: Path, capsys, name: str) -> None:
    make, message = BAD[name]
    make(tmp_path / name)
    good = synthetic_recording(tmp_path / "good.edf", 30, {"C3-M2": 128, "ECG": 128, "Thor": 16, "Chin": 128})
    out = tmp_path / "out"
    assert main(["preprocess", str(tmp_path / name), str(good), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    failures = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(failures) == 1 and name in failures[0]
    assert __import__("re").search(message, " ".join(failures[0].split())), failures[0]
    assert "Traceback" not in err
    # The good study is done; the bad one left nothing, not even a temporary file.
    assert sorted(p.name for p in out.iterdir()) == ["config.resolved.yaml", "good.h5", "manifest.csv"]
    with open(out / "manifest.csv", newline="") as handle:
        rows = {row["output"]: row for row in csv.DictReader(handle)}
    assert rows["good.h5"]["status"] == "done" and rows[Path(name).stem + ".h5"]["status"] == "failed"


def test_a_named_hypnogram_is_set_aside_like_one_in_a_folder(tmp_path: Path, capsys) -> None:
    # One rule for annotation-only files, however they are given: set aside and reported, not failed.
    _annotations_only(tmp_path / "hypnogram.edf")
    good = synthetic_recording(tmp_path / "good.edf", 30, {"C3-M2": 128, "ECG": 128, "Thor": 16, "Chin": 128})
    out = tmp_path / "out"
    assert main(["preprocess", str(tmp_path / "hypnogram.edf"), str(good), "--out", str(out)]) == 0
    assert "1 annotation-only file (hypnograms) set aside" in capsys.readouterr().out
    with open(out / "manifest.csv", newline="") as handle:
        rows = {Path(row["file"]).name: row["status"] for row in csv.DictReader(handle)}
    assert rows == {"good.edf": "done", "hypnogram.edf": "ignored"}


def test_a_40_second_recording_is_stored_with_a_warning(tmp_path: Path, capsys) -> None:
    short = synthetic_recording(tmp_path / "short.edf", 40, {"C3-M2": 256, "ECG": 256, "Thor": 32, "Chin": 256})
    out = tmp_path / "out"
    assert main(["preprocess", str(short), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "short.edf: only 40 s long: stored, but shorter than one 5-minute chunk" in " ".join(err.split())
    assert (out / "short.h5").is_file()
    with open(out / "manifest.csv", newline="") as handle:
        (row,) = list(csv.DictReader(handle))
    assert row["status"] == "done" and "shorter than one 5-minute chunk" in row["warnings"]
    assert row["duration_s"] == "40" and row["modalities"] == "BAS RESP EKG EMG"
