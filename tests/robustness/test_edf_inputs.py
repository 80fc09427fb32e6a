"""EDF recordings and EDF+ hypnograms that lie about themselves (issue classes 1 and 7):
a size that does not match the header, an undecodable annotation byte, 0 samples per record,
a NUL byte in a label, a recording shorter than one 5-s patch."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from sleepfm.read.edf_writer import set_header_field, synthetic_recording

from .harness import assert_clean_failure, assert_finite, assert_success, mutated_copy, run_inprocess

pytestmark = pytest.mark.shared

PSG_EDF = "sleep-edf/SC4001E0-PSG_first300s.edf"
PSG_BDF = "sleep-edf/SC4001E0-PSG_first300s.bdf"
HYPNOGRAM = "sleep-edf/SC4001EC-Hypnogram.edf"
CHANNELS = {"C3-M2": 128.0, "EKG": 128.0, "Chin": 64.0}


def test_bdf_samples_behind_an_edf_version_field_are_refused_naming_both_sizes(psg: Path, tmp_path: Path) -> None:
    # 24-bit samples read as 16-bit ones gave exit 0 and a signal with correlation 0.008.
    bad = mutated_copy(psg / PSG_BDF, tmp_path / "in" / "bdf-as-edf.edf", {0: b"0       "})
    outcome = run_inprocess(["preprocess", bad, "--out", tmp_path / "out"])
    assert_clean_failure(outcome, contains=["bdf-as-edf.edf", "273600", "182400"], outputs=[tmp_path / "out"])
    assert not list((tmp_path / "out").glob("*.h5"))


def test_bytes_beyond_the_declared_records_are_refused(psg: Path, tmp_path: Path) -> None:
    bad = mutated_copy(psg / PSG_EDF, tmp_path / "in" / "extra.edf", append=bytes(5000))
    outcome = run_inprocess(["preprocess", bad, "--out", tmp_path / "out"])
    assert_clean_failure(outcome, contains=["extra.edf", "187400", "182400"], outputs=[tmp_path / "out"])


def _wake_epochs(csv: Path) -> int:
    return int((pd.read_csv(csv)["stage"] == "W").sum())


@pytest.mark.parametrize("byte", [b"\xff", b"\xc3"])
def test_an_undecodable_annotation_byte_never_drops_epochs_silently(psg: Path, tmp_path: Path, byte: bytes) -> None:
    source = psg / HYPNOGRAM
    first_stage = source.read_bytes().index(b"Sleep stage W")
    bad = mutated_copy(source, tmp_path / "bad.edf", {first_stage + 12: byte})
    outcome = run_inprocess(["hypnogram", bad, "--out", tmp_path / "bad.csv"])
    if outcome.code == 0:  # read leniently: the 8.5-h Wake run must still be there
        assert run_inprocess(["hypnogram", source, "--out", tmp_path / "good.csv"]).code == 0
        assert _wake_epochs(tmp_path / "bad.csv") == _wake_epochs(tmp_path / "good.csv")
    else:  # or refused, naming the byte
        assert_clean_failure(outcome, contains=["bad.edf", f"0x{byte[0]:02x}"], outputs=[tmp_path])
        assert not (tmp_path / "bad.csv").exists()


def test_zero_samples_per_record_is_a_clear_line(tmp_path: Path) -> None:
    path = synthetic_recording(tmp_path / "in" / "zero.edf", 10, CHANNELS)
    set_header_field(path, "samples per data record", "0", signal=1)
    outcome = run_inprocess(["preprocess", path, "--out", tmp_path / "out"])
    assert_clean_failure(outcome, contains=["zero.edf", "'EKG'", "0 samples per data record"],
                         outputs=[tmp_path / "out"])


def test_a_nul_byte_inside_a_label_is_a_clear_line(tmp_path: Path) -> None:
    path = synthetic_recording(tmp_path / "in" / "nul.edf", 10, CHANNELS)
    set_header_field(path, "label", "EK\x00G", signal=1)
    outcome = run_inprocess(["preprocess", path, "--out", tmp_path / "out"])
    assert_clean_failure(outcome, contains=["nul.edf", "NUL"], outputs=[tmp_path / "out"])


def test_labels_padded_with_nul_bytes_read_as_padding(tmp_path: Path) -> None:
    path = synthetic_recording(tmp_path / "in" / "padded.edf", 10, CHANNELS)
    set_header_field(path, "label", "EKG" + "\x00" * 13, signal=1)
    outcome = run_inprocess(["preprocess", path, "--out", tmp_path / "out"])
    assert_success(outcome, outputs=[tmp_path / "out"])
    assert_finite(tmp_path / "out" / "padded.h5")


def test_a_recording_shorter_than_one_patch(tmp_path: Path, compat: Path) -> None:
    path = synthetic_recording(tmp_path / "in" / "short.edf", 2, CHANNELS)
    converted = run_inprocess(["preprocess", path, "--out", tmp_path / "signals"])
    if converted.code != 0:
        assert_clean_failure(converted, contains="short.edf", outputs=[tmp_path / "signals"])
        return
    assert_success(converted, outputs=[tmp_path / "signals"])
    outcome = run_inprocess(["embed", tmp_path / "signals", "--checkpoint", compat / "model_base", "--out",
                             tmp_path / "emb", "--partial-chunk", "pad", "--device", "cpu"])
    assert_clean_failure(outcome, contains=["short.h5", "shorter than one"], outputs=[tmp_path / "emb"])
