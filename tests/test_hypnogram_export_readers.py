"""Each built-in export read by a reader that is not sleepfm's: MNE and pyedflib for EDF+, pandas for
the BIDS TSV and its sidecar, yasa for its table (when installed), the NSRR XML against the NSRR
terms Luna remaps, and ``sleepfm hypnogram --to`` choosing writers by name and by file name."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sleepfm.cli.app import main
from sleepfm.labels.export import render_formats, write_files

from .helpers_hypnograms import STAGES, START, night

AASM = {-1: "Sleep stage ?", 0: "Sleep stage W", 1: "Sleep stage N1", 2: "Sleep stage N2", 3: "Sleep stage N3",
        4: "Sleep stage R"}
ONSETS = 60.0 + 30.0 * np.arange(len(STAGES))


def _export(tmp_path: Path, formats: list[str]) -> dict[str, Path]:
    files = render_formats(night(), "night", formats)
    return {p.name: p for p in write_files(tmp_path, files)}


def test_edf_plus_read_by_mne_and_pyedflib(tmp_path: Path) -> None:
    import mne
    import pyedflib

    path = _export(tmp_path, ["edf"])["night.hypnogram.edf"]
    annotations = mne.read_annotations(path)
    np.testing.assert_allclose(annotations.onset, ONSETS)
    np.testing.assert_allclose(annotations.duration, 30.0)
    assert list(annotations.description) == [AASM[s] for s in STAGES]
    reader = pyedflib.EdfReader(str(path))
    try:
        onsets, durations, texts = reader.readAnnotations()
        assert reader.getStartdatetime() == START and reader.signals_in_file == 0
    finally:
        reader.close()
    np.testing.assert_allclose(onsets, ONSETS)
    np.testing.assert_allclose(durations, 30.0)
    assert list(texts) == [AASM[s] for s in STAGES]
    header = path.read_bytes()[:256]
    assert header[192:197] == b"EDF+C" and header[236:244].strip() == b"1" and header[244:252].strip() == b"0"


def test_bids_tsv_and_sidecar_read_by_pandas(tmp_path: Path) -> None:
    written = _export(tmp_path, ["bids"])
    table = pd.read_csv(written["night_hypnogram.tsv"], sep="\t")
    assert table.columns.tolist() == ["onset", "duration", "stage"]
    # Runs merged: expanding them gives one stage per epoch again.
    names = {-1: "Unscored", 0: "Wake", 1: "N1", 2: "N2", 3: "N3", 4: "REM"}
    expanded = [stage for _, row in table.iterrows() for stage in [row["stage"]] * round(row["duration"] / 30)]
    assert expanded == [names[s] for s in STAGES]
    np.testing.assert_allclose(table["onset"], 60.0 + np.concatenate([[0], np.cumsum(table["duration"])[:-1]]))
    sidecar = json.loads(written["night_hypnogram.json"].read_text())
    assert sidecar["Scorer"] == "sleepfm" and sidecar["ScorerType"] == "automatic"
    assert sidecar["Provenance"] == {"checkpoint": "model_sleep_staging"}
    assert sidecar["EpochLength"] == 30.0 and set(sidecar["stage"]["Levels"]) == set(names.values())
    assert sidecar["onset"]["Units"] == "s" and sidecar["RecordingStartTime"] == START.isoformat()


def test_nsrr_xml_uses_the_terms_luna_remaps(tmp_path: Path) -> None:
    import xml.etree.ElementTree as ET

    root = ET.parse(_export(tmp_path, ["nsrr"])["night-nsrr.xml"]).getroot()
    assert root.tag == "PSGAnnotation" and root.findtext("EpochLength") == "30"
    events = root.findall("ScoredEvents/ScoredEvent")
    assert events[0].findtext("EventConcept") == "Recording Start Time"
    assert events[0].findtext("ClockTime") == "01.03.24 22.30.00"
    stages = events[1:]
    luna = {"Wake|0", "Stage 1 sleep|1", "Stage 2 sleep|2", "Stage 3 sleep|3", "REM sleep|5", "Unscored|9"}
    assert {e.findtext("EventType") for e in stages} == {"Stages|Stages"}
    assert {e.findtext("EventConcept") for e in stages} <= luna
    starts = [float(e.findtext("Start")) for e in stages]
    durations = [float(e.findtext("Duration")) for e in stages]
    assert starts[0] == 60.0 and all(a + d == b for a, d, b in zip(starts, durations, starts[1:], strict=False))
    assert sum(durations) == 30.0 * len(STAGES)


def test_yasa_table_loads_as_a_yasa_hypnogram(tmp_path: Path) -> None:
    yasa = pytest.importorskip("yasa", reason="yasa is a dev extra (Python >= 3.11)")
    table = pd.read_csv(_export(tmp_path, ["yasa"])["night.yasa.csv"])
    proba = table[["WAKE", "N1", "N2", "N3", "REM"]]
    hyp = yasa.Hypnogram(table["stage"].tolist(), n_stages=5, freq="30s", start=table["time"].iloc[0], proba=proba)
    names = {-1: "UNS", 0: "WAKE", 1: "N1", 2: "N2", 3: "N3", 4: "REM"}
    assert hyp.hypno.tolist() == [names[s] for s in STAGES]
    assert hyp.start == pd.Timestamp(START) + pd.Timedelta(seconds=60)
    np.testing.assert_allclose(hyp.proba.to_numpy(), night().probabilities, atol=5e-6)
    np.testing.assert_allclose(hyp.as_events()["onset"] + 60.0, ONSETS)


def test_yasa_table_without_yasa_has_its_documented_layout(tmp_path: Path) -> None:
    table = pd.read_csv(_export(tmp_path, ["yasa"])["night.yasa.csv"])
    assert table.columns.tolist() == ["epoch", "onset", "duration", "time", "stage", "WAKE", "N1", "N2", "N3", "REM"]
    assert set(table["stage"]) <= {"WAKE", "N1", "N2", "N3", "REM", "UNS"}
    # yasa.Hypnogram(proba=...) requires rows summing to 1 (numpy.allclose).
    assert np.allclose(table[["WAKE", "N1", "N2", "N3", "REM"]].sum(axis=1), 1.0, rtol=1e-5, atol=1e-8)


def test_edfbrowser_list_has_its_export_layout(tmp_path: Path) -> None:
    lines = _export(tmp_path, ["edfbrowser"])["night_annotations.txt"].read_text().splitlines()
    assert lines[0] == "Onset,Duration,Annotation"
    assert lines[1] == "+60.0000000,30,Sleep stage ?" and lines[2] == "+90.0000000,30,Sleep stage W"
    assert len(lines) == len(STAGES) + 1


def test_hypnogram_command_picks_the_writer(tmp_path: Path, capsys) -> None:
    source = tmp_path / "h.txt"
    source.write_text("[HypnogramAASM]\n" + "5\n" * 6 + "3\n" * 6 + "2\n" * 12 + "4\n" * 6)
    for out, to, reader in [("a.hypnogram.edf", None, "edf"), ("b_hypnogram.tsv", None, "bids-tsv"),
                            ("c.yasa.csv", None, "epoch-csv"), ("d.xml", None, "nsrr-xml"),
                            ("e.txt", "edfbrowser", "edfbrowser"), ("f.dat", "bids", "bids-tsv")]:
        args = ["hypnogram", str(source), "--out", str(tmp_path / out)] + (["--to", to] if to else [])
        assert main(args) == 0, capsys.readouterr().err
        from sleepfm.labels import read_hypnogram

        assert read_hypnogram(tmp_path / out, fmt=reader).stages.tolist() == [0, 1, 2, 2, 4], out
    assert (tmp_path / "b_hypnogram.json").is_file() and (tmp_path / "f.json").is_file()
    assert main(["hypnogram", str(source), "--out", str(tmp_path / "g.dat")]) == 2
    assert "cannot tell the hypnogram format" in capsys.readouterr().err
    assert main(["hypnogram", str(source), "--out", str(tmp_path / "g.csv"), "--to", "vendor"]) == 2
    assert "no hypnogram writer named 'vendor'" in capsys.readouterr().err
    assert not (tmp_path / "g.dat").exists() and not (tmp_path / "g.csv").exists()
