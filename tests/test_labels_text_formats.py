"""DREAMS, SLPDB and CSV hypnograms on small files written here; format detection and its errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sleepfm
from sleepfm.errors import InputError, UnknownComponentError, UsageError
from sleepfm.labels import detect_format, read_hypnogram
from sleepfm.labels.csv_tables import write_epoch_csv, write_published_csv
from sleepfm.labels.hypnogram import Hypnogram
from sleepfm.labels.vocabulary import canonical_event, make_mapping

W, N1, N2, N3, R, U = 0, 1, 2, 3, 4, -1
ALL_FORMATS = ("bids-tsv, dreams, dreams-aasm, dreams-rk, edf, edfbrowser, epoch-csv, nsrr-xml, profusion-xml, "
               "published-csv, slpdb")


def _lines(path: Path, *lines: object) -> Path:
    path.write_text("\n".join(map(str, lines)) + "\n")
    return path


# ---------------------------------------------------------------------------------- DREAMS
def test_dreams_rk_codes_and_negatives(tmp_path: Path) -> None:
    path = _lines(tmp_path / "Hypnogram_excerptX.txt", "[Hypnogram]", 5, 4, 3, 2, 1, 0, -1, -2, -3)
    hypnogram = read_hypnogram(path)
    assert hypnogram.epoch_seconds == 5
    assert hypnogram.stages.tolist() == [W, R, N1, N2, N3, N3, U, U, U]
    mapped = read_hypnogram(path, mapping=make_mapping(movement="W", unscored="N2"))
    assert mapped.stages[-3:].tolist() == [W, N2, N2]  # -1 is movement, -2/-3 unknown


def test_dreams_variant_from_header_file_name_or_forced(tmp_path: Path) -> None:
    by_header = _lines(tmp_path / "subject2.txt", "[HypnogramAASM]", 3, 1)
    by_name = _lines(tmp_path / "HypnogramAASM_subject3.txt", "[Hypnogram]", 3, 1)
    plain = _lines(tmp_path / "Hypnogram_x.txt", "[Hypnogram]", 3, 0)
    assert read_hypnogram(by_header).stages.tolist() == [N1, N3]
    assert read_hypnogram(by_name).stages.tolist() == [N1, N3]
    assert read_hypnogram(plain).stages.tolist() == [N1, N3]
    with pytest.raises(InputError, match=r"line 3: '0' is not a DREAMS AASM code \(R&K stage 4"):
        read_hypnogram(plain, fmt="dreams-aasm")
    assert read_hypnogram(by_header, fmt="dreams-rk").stages.tolist() == [N1, N3]
    assert detect_format(by_header) == "dreams"  # forced variants never win auto-detection


def test_dreams_bad_code_names_the_line(tmp_path: Path) -> None:
    path = _lines(tmp_path / "h.txt", "[Hypnogram]", 5, 7)
    with pytest.raises(InputError, match=r"h.txt: line 3: '7' is not a DREAMS RK code"):
        read_hypnogram(path)


# ----------------------------------------------------------------------------------- SLPDB
SLPDB_HEADER = "      Elapsed time  Sample #  Type  Sub Chan  Num\tAux"


def _an_line(seconds: float, aux: str) -> str:
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    stamp = f"{int(hours)}:{int(minutes):02d}:{secs:06.3f}" if hours else f"{int(minutes)}:{secs:06.3f}"
    return f"{stamp:>18} {int(seconds * 250) or 1:>9}     \"    0    0    0\t{aux}"


def test_slpdb_stages_events_gap_and_header(tmp_path: Path) -> None:
    path = _lines(tmp_path / "rec.an", SLPDB_HEADER, _an_line(60, "W"), _an_line(90, "1 HA"),
                  _an_line(120, "2 X LL"), _an_line(180, "4 OA CAA"), _an_line(3600, "R A"), _an_line(3630, "MT"))
    (tmp_path / "rec.hea").write_text("rec 4 250 1000000 0:49:0\nrec.dat 212 200 12 0 0 0 0 ECG\n")
    hypnogram = read_hypnogram(path)
    assert hypnogram.onset == 60 and hypnogram.n_epochs == (3660 - 60) // 30
    assert hypnogram.stages[:5].tolist() == [W, N1, N2, U, N3]  # the 150-s epoch is missing
    assert hypnogram.stages[-2:].tolist() == [R, U]
    assert hypnogram.start_time.strftime("%H:%M:%S") == "00:49:00"
    events = hypnogram.events
    assert events.groupby("onset")["event"].apply(sorted).to_dict() == {
        90.0: ["arousal", "hypopnea"],
        120.0: ["arousal", "limb movement", "limb movement", "obstructive apnea"],
        180.0: ["arousal", "central apnea", "obstructive apnea"],
        3600.0: ["arousal"],
    }
    assert (events["duration"] == 30).all()


@pytest.mark.parametrize(("aux", "message"), [("Q", "unknown stage 'Q'"), ("2 ZZ", "unknown event 'ZZ'"),
                                               ("", "is not an annotation with a stage")])
def test_slpdb_unknown_tokens_are_errors(tmp_path: Path, aux: str, message: str) -> None:
    path = _lines(tmp_path / "rec.an", SLPDB_HEADER, _an_line(0, "W"), _an_line(30, aux))
    with pytest.raises(InputError, match=f"line 3:? {message}"):
        read_hypnogram(path)


# ------------------------------------------------------------------------------------- CSV
def test_published_csv_rows_unknown_and_run_rows(tmp_path: Path) -> None:
    path = _lines(tmp_path / "study.csv", "Start,Stop,StageName,StageNumber,EmbeddingNumber",
                  "0,5,Unknown,-1,0", "5,10,Wake,0,1", "10,15,Stage 1,1,2", "15,30,Stage 2,2,3",
                  "30,35,Stage 3,3,6", "35,40,REM,4,7")
    assert detect_format(path) == "published-csv"
    hypnogram = read_hypnogram(path)
    assert hypnogram.epoch_seconds == 5
    assert hypnogram.stages.tolist() == [U, W, N1, N2, N2, N2, N3, R]
    # The published training code turns Unknown into Wake; the mapping reproduces it.
    assert read_hypnogram(path, mapping=make_mapping(unscored="W")).stages[0] == W


def test_published_csv_readme_style_run_row(tmp_path: Path) -> None:
    path = _lines(tmp_path / "run.csv", "Start,Stop,StageName,StageNumber", "0.0,5190.0,Wake,0")
    hypnogram = read_hypnogram(path)
    assert hypnogram.n_epochs == 5190 // 5 and set(hypnogram.stages.tolist()) == {W}


@pytest.mark.parametrize(("row", "message"), [("0,5,Wake,7", "StageNumber 7 is not -1..4"),
                                              ("0,5,REM,0", "StageName 'REM' contradicts StageNumber 0"),
                                              ("0,x,Wake,0", "Stop is 'x', not a number"),
                                              ("5,5,Wake,0", "the epoch ends before it starts")])
def test_published_csv_errors(tmp_path: Path, row: str, message: str) -> None:
    path = _lines(tmp_path / "bad.csv", "Start,Stop,StageName,StageNumber", row)
    with pytest.raises(InputError, match=f"line 2: {message}"):
        read_hypnogram(path)


def test_published_csv_writer_pads_to_token_zero(tmp_path: Path) -> None:
    hypnogram = Hypnogram(np.array([W, N2, U]), epoch_seconds=30, onset=10)
    path = tmp_path / "labels.csv"
    write_published_csv(hypnogram, path)
    frame = pd.read_csv(path)
    assert list(frame.columns) == ["Start", "Stop", "StageName", "StageNumber", "EmbeddingNumber"]
    assert frame["StageNumber"].tolist() == [-1, -1] + [0] * 6 + [2] * 6 + [-1] * 6
    assert frame["Start"].tolist()[:3] == [0, 5, 10] and frame["EmbeddingNumber"].tolist() == list(range(20))
    assert frame["StageName"].iloc[8] == "Stage 2"
    again = read_hypnogram(path)
    assert again.onset == 0 and again.stages.tolist() == frame["StageNumber"].tolist()


def test_epoch_csv_round_trip(tmp_path: Path) -> None:
    hypnogram = Hypnogram(np.array([W, N1, N2, N3, R, U]), epoch_seconds=30, onset=90)
    path = tmp_path / "night.hypnogram.csv"
    write_epoch_csv(hypnogram, path)
    assert path.read_text().splitlines()[:3] == ["onset,duration,stage", "90,30,W", "120,30,N1"]
    assert detect_format(path) == "epoch-csv"
    again = read_hypnogram(path)
    assert again.onset == 90 and again.stages.tolist() == hypnogram.stages.tolist()


def test_epoch_csv_bad_stage(tmp_path: Path) -> None:
    path = _lines(tmp_path / "h.csv", "onset,stage", "0,W", "30,S5")
    with pytest.raises(InputError, match="line 3: stage 'S5'"):
        read_hypnogram(path)


# ------------------------------------------------------------------------ detection, errors
def test_auto_detection_failure_lists_every_format(tmp_path: Path) -> None:
    path = _lines(tmp_path / "notes.txt", "hello", "world")
    with pytest.raises(InputError) as caught:
        read_hypnogram(path)
    message = str(caught.value)
    assert "\n" not in message and "not a hypnogram format" in message and ALL_FORMATS in message


def test_missing_file_directory_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file not found"):
        read_hypnogram(tmp_path / "absent.edf")
    with pytest.raises(InputError, match="not a file"):
        read_hypnogram(tmp_path)
    path = _lines(tmp_path / "h.txt", "[Hypnogram]", 5)
    with pytest.raises(UnknownComponentError, match=r"no label reader named 'dream'.*did you mean"):
        read_hypnogram(path, fmt="dream")


def test_wrong_explicit_format_is_an_input_error(tmp_path: Path) -> None:
    path = _lines(tmp_path / "h.txt", "[Hypnogram]", 5)
    for fmt in ("edf", "slpdb", "nsrr-xml", "published-csv"):
        with pytest.raises(InputError):
            read_hypnogram(path, fmt=fmt)
    binary = tmp_path / "b.txt"
    binary.write_bytes(b"[Hypnogram]\n\xff\xfe\x00\x01\n")
    with pytest.raises(InputError):
        read_hypnogram(binary)


def test_mapping_names_are_validated() -> None:
    assert make_mapping(unscored="w", movement="r").movement == "REM"
    with pytest.raises(UsageError, match="unscored: 'S4' is not a stage"):
        make_mapping(unscored="S4")


def test_event_vocabulary() -> None:
    assert canonical_event("Obstructive apnea|Obstructive Apnea") == "obstructive apnea"
    assert canonical_event("Arousal resulting from respiratory effort|Arousal (RESP)") == "arousal"
    assert canonical_event("Respiratory effort related arousal|RERA") == "rera"
    assert canonical_event("SpO2 artifact|SpO2 artifact") == "spo2 artefact"
    assert canonical_event("Limb movement - left|Limb Movement (Left)") == "limb movement"
    assert canonical_event("Periodic leg movement - left|PLM (Left)") == "periodic limb movement"
    assert canonical_event("Central Hypopnea") == "central hypopnea"
    assert canonical_event("Lights on") == "lights on" and canonical_event("Body Position") == "body position"


def test_public_api_is_lazy_and_reads(tmp_path: Path) -> None:
    path = _lines(tmp_path / "h.txt", "[Hypnogram]", 5, 5)
    assert sleepfm.read_hypnogram(path).stages.tolist() == [W, W]
