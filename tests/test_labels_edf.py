"""EDF+/BDF+ hypnograms written byte by byte here: TAL parsing, quirks pyedflib refuses, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sleepfm.errors import InputError
from sleepfm.labels import read_hypnogram
from sleepfm.labels.edf_annotations import read_edf_annotations
from sleepfm.labels.vocabulary import make_mapping


def _tal(onset: float, duration: float | None, *texts: str) -> bytes:
    head = f"+{onset:g}" + (f"\x15{duration:g}" if duration is not None else "")
    return (head + "\x14" + "".join(t + "\x14" for t in texts) + "\x00").encode()


def write_edf_plus(path: Path, records: list[list[bytes]], *, annotation_samples: int = 200,
                   bdf: bool = False, record_seconds: float = 0.0, digital_min: str = "-32768",
                   signal: bool = False, declared_records: int | None = None) -> Path:
    """An EDF+C (or BDF+) whose records each hold a time-keeping TAL then ``records[i]``.

    ``signal=True`` adds a 1-sample data signal before the annotations (as PSG files have).
    """
    bps = 3 if bdf else 2
    labels = (["EEG Fpz-Cz"] if signal else []) + ["BDF Annotations" if bdf else "EDF Annotations"]
    ns = len(labels)
    samples = ([1] if signal else []) + [annotation_samples]

    def fields(values: list[str], width: int) -> bytes:
        return b"".join(v.encode().ljust(width)[:width] for v in values)

    header = (
        (b"\xffBIOSEMI" if bdf else b"0       ")
        + b"X M 01-JAN-1970 X".ljust(80)
        + b"Startdate 17-NOV-2003 X X X".ljust(80)
        + b"17.11.0323.05.10"
        + str(256 * (ns + 1)).encode().ljust(8)
        + (b"BDF+C" if bdf else b"EDF+C").ljust(44)
        + str(len(records) if declared_records is None else declared_records).encode().ljust(8)
        + f"{record_seconds:g}".encode().ljust(8)
        + str(ns).encode().ljust(4)
    )
    header += fields(labels, 16) + fields([""] * ns, 80) + fields(["uV"] * ns, 8)
    header += fields(["-100"] * ns, 8) + fields(["100"] * ns, 8)
    header += fields([digital_min] * ns, 8) + fields(["32767"] * ns, 8)
    header += fields([""] * ns, 80) + fields([str(s) for s in samples], 8) + fields([""] * ns, 32)
    assert len(header) == 256 * (ns + 1)
    body = b""
    for index, tals in enumerate(records):
        annotations = _tal(index * record_seconds, None) + b"".join(tals)
        assert len(annotations) <= annotation_samples * bps
        body += (b"\x00" * bps if signal else b"") + annotations.ljust(annotation_samples * bps, b"\x00")
    path.write_bytes(header + body)
    return path


def _sleep_edf_style(tmp_path: Path) -> Path:
    return write_edf_plus(tmp_path / "night-Hypnogram.edf", [[
        _tal(0, 90, "Sleep stage W"), _tal(90, 60, "Sleep stage 1"), _tal(150, 30, "Sleep stage 2"),
        _tal(180, 30, "Sleep stage 3"), _tal(210, 30, "Sleep stage 4"), _tal(240, 60, "Sleep stage R"),
        _tal(300, 30, "Movement time"), _tal(330, 60, "Sleep stage ?"),
    ]])


def test_rk_labels_map_to_aasm_stages(tmp_path: Path) -> None:
    hypnogram = read_hypnogram(_sleep_edf_style(tmp_path))
    # W W W N1 N1 N2 N3(S3) N3(S4) REM REM MT ? ?
    assert hypnogram.stages.tolist() == [0, 0, 0, 1, 1, 2, 3, 3, 4, 4, -1, -1, -1]
    assert hypnogram.start_time.isoformat() == "2003-11-17T23:05:10"
    assert hypnogram.events.empty


def test_movement_and_unscored_are_mapped_separately(tmp_path: Path) -> None:
    path = _sleep_edf_style(tmp_path)
    hypnogram = read_hypnogram(path, mapping=make_mapping(movement="W", unscored="UNS"))
    assert hypnogram.stages[10] == 0 and (hypnogram.stages[11:] == -1).all()
    hypnogram = read_hypnogram(path, mapping=make_mapping(movement="UNS", unscored="N2"))
    assert hypnogram.stages[10] == -1 and (hypnogram.stages[11:] == 2).all()


def test_aasm_labels_events_channels_and_tals_split_across_records(tmp_path: Path) -> None:
    path = write_edf_plus(tmp_path / "scoring.edf", [
        [_tal(0, 30, "Sleep stage W"), _tal(12.5, None, "Lights off@@EEG F4-A1")],
        [_tal(30, 30, "Sleep stage N1"), _tal(60, 30, "Sleep stage N2")],
        # A gap of one epoch (90-120 s) is unscored; one TAL may carry two texts.
        [_tal(120, 30, "Sleep stage N3"), _tal(150, 30, "Sleep stage R", "Arousal")],
        [_tal(170.5, 14.2, "Obstructive Apnea@@Flow"), _tal(180, None, "Lights on")],
    ], record_seconds=1.0)
    hypnogram = read_hypnogram(path)
    assert hypnogram.stages.tolist() == [0, 1, 2, -1, 3, 4]
    events = hypnogram.events
    assert events["event"].tolist() == ["lights off", "arousal", "obstructive apnea", "lights on"]
    assert events["channel"].tolist() == ["EEG F4-A1", "", "Flow", ""]
    # Texts of one TAL share its onset and duration.
    assert events["duration"].tolist() == [0.0, 30.0, pytest.approx(14.2), 0.0]


def test_bdf_plus_with_a_data_signal(tmp_path: Path) -> None:
    path = write_edf_plus(tmp_path / "night.bdf", [[_tal(0, 30, "Sleep stage W")], [_tal(30, 60, "Sleep stage 2")]],
                          bdf=True, signal=True, record_seconds=30.0)
    assert read_hypnogram(path).stages.tolist() == [0, 2, 2]


def test_file_pyedflib_refuses_still_reads(tmp_path: Path) -> None:
    # Digital minimum outside the int16 range (as in DREAMS excerpt3.edf): pyedflib refuses.
    path = write_edf_plus(tmp_path / "odd.edf", [[_tal(0, 60, "Sleep stage W"), _tal(60, 30, "Sleep stage N2")]],
                          digital_min="-264296", signal=True, record_seconds=90.0)
    pyedflib = pytest.importorskip("pyedflib")
    with pytest.raises(OSError):
        pyedflib.EdfReader(str(path))
    assert read_hypnogram(path).stages.tolist() == [0, 0, 2]


def test_record_count_header_larger_than_the_file_is_refused(tmp_path: Path) -> None:
    # The missing records would be missing stages: refused like a truncated recording.
    path = write_edf_plus(tmp_path / "patched.edf", [[_tal(0, 30, "Sleep stage W")]], declared_records=50)
    with pytest.raises(InputError, match="header claims 50 data records but the file holds 1"):
        read_hypnogram(path)


def test_non_30s_epochs_are_inferred(tmp_path: Path) -> None:
    path = write_edf_plus(tmp_path / "twenty.edf", [[_tal(0, 40, "Sleep stage W"), _tal(40, 20, "Sleep stage 2")]])
    hypnogram = read_hypnogram(path)
    assert hypnogram.epoch_seconds == 20 and hypnogram.stages.tolist() == [0, 0, 2]


@pytest.mark.parametrize(("make", "message"), [
    (lambda p: write_edf_plus(p, [[_tal(0, None, "Lights off")]]), "no sleep-stage annotations"),
    (lambda p: write_edf_plus(p, [[b"+0\x14\x14\x00garbage\x00"]]), r"malformed EDF\+ annotation"),
    (lambda p: p.write_bytes(b"not an edf at all"), "not an EDF or BDF file"),
    (lambda p: write_edf_plus(p, [[_tal(0, 30, "Sleep stage W")]])
     and p.write_bytes(p.read_bytes()[:300]), "truncated"),
])
def test_malformed_files_raise_one_line_input_errors(tmp_path: Path, make, message: str) -> None:
    path = tmp_path / "bad.edf"
    make(path)
    with pytest.raises(InputError, match=message) as caught:
        read_hypnogram(path, fmt="edf")
    assert "\n" not in str(caught.value) and str(path) in str(caught.value)


def test_psg_without_annotation_signal_is_refused(tmp_path: Path) -> None:
    path = write_edf_plus(tmp_path / "psg.edf", [[_tal(0, 30, "Sleep stage W")]])
    raw = bytearray(path.read_bytes())
    raw[256:272] = b"EEG C3-A2       "  # the only signal is now a data signal
    raw[244:252] = b"1       "  # of 1-s records
    path.write_bytes(bytes(raw))
    with pytest.raises(InputError, match="no annotation signal"):
        read_edf_annotations(path)
    with pytest.raises(InputError, match="not a hypnogram format"):
        read_hypnogram(path)


def test_onsets_are_relative_to_the_file_start(tmp_path: Path) -> None:
    path = write_edf_plus(tmp_path / "late.edf", [[_tal(600, 60, "Sleep stage W"), _tal(660, 30, "Sleep stage R")]])
    hypnogram = read_hypnogram(path)
    assert hypnogram.onset == 600 and np.array_equal(hypnogram.stages, [0, 0, 4])
