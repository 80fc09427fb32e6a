"""``sleepfm qc`` on the real recordings of ../shared/data/psg (read at test time, nothing kept):
DREAMS excerpt3's saturating effort belts, Sleep-EDF's 1-Hz chin EMG envelope, and the 89-signal
Nox A1 header."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from sleepfm.cli.app import main

pytestmark = [pytest.mark.shared, pytest.mark.slow]
PSG = Path("data") / "psg"


def _qc(source: Path, out: Path, *extra: str) -> dict:
    assert main(["qc", str(source), "--out", str(out), *extra]) == 0
    return json.loads((out / f"{source.stem}.qc.json").read_text())


def test_dreams_excerpt3_effort_belts_saturating_at_327_are_clipped(shared: Path, tmp_path: Path) -> None:
    # VAB and VTH sit at ±327.7 for minutes while the header declares ±2900 / ±1300: an amplifier rail.
    report = _qc(shared / PSG / "dreams_cc-by-nc-nd" / "excerpt3.edf", tmp_path, "--no-plot")
    channels = report["channels"]
    assert channels["VAB"]["flags"]["clipping"] > 0.5 and channels["VTH"]["flags"]["clipping"] > 0.2
    # The EEG the model stages with is not called clipped in most of the excerpt.
    assert channels["C3-A1"]["flags"].get("clipping", 0) == 0
    assert report["verdict"] == "degraded" and any(r.startswith("VAB (RESP)") for r in report["reasons"])
    table = pd.read_csv(tmp_path / "excerpt3.qc.csv")
    assert set(table["channel"]) >= {"VAB", "VTH", "C3-A1"} and len(table) == len(set(table["channel"])) * 60


def test_sleep_edf_chin_emg_envelope_is_not_flat(shared: Path, tmp_path: Path) -> None:
    report = _qc(shared / PSG / "sleep-edf" / "SC4001E0-PSG_first300s.edf", tmp_path, "--no-plot")
    emg = report["channels"]["EMG submental"]
    assert emg["modality"] == "EMG" and "flat" not in emg["flags"] and emg["bad_fraction"] == 0
    assert report["verdict"] == "usable"


def test_nox_a1_header_of_89_signals_gives_a_readable_report(shared: Path, tmp_path: Path) -> None:
    report = _qc(shared / PSG / "nox-a1_rsleep" / "subject1.edf", tmp_path)
    assert len(report["channels"]) + len(report["unchecked_channels"]) == 89
    assert report["verdict"] in ("usable", "degraded", "unusable") and report["reasons"]
    assert all(len(reason) < 300 for reason in report["reasons"])
    png = (tmp_path / "subject1.qc.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) < 400_000
    summary = pd.read_csv(tmp_path / "qc_summary.csv")
    assert summary["study"].tolist() == ["subject1"] and summary["rank"].tolist() == [1]
