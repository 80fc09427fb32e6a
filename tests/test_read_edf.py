"""The ``edf`` reader on synthetic files: layout, values, units, BDF, EDF+C/D, the MNE fallback."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

import numpy as np
import pyedflib
import pytest

import sleepfm
from sleepfm import registry
from sleepfm.errors import InputError
from sleepfm.read import read_recording
from sleepfm.read.edf import EdfRecording
from sleepfm.read.edf_writer import SignalSpec, set_header_field, synthetic_recording, write_edf
from sleepfm.read.units import normalise_unit, published_scale


def test_mixed_rates_are_read_per_channel_at_their_own_rate(tmp_path: Path) -> None:
    start = datetime(2021, 3, 4, 23, 15, 30)
    path = synthetic_recording(tmp_path / "n.edf", 60, {"C3-M2": 256, "Thor": 32, "SpO2": 1},
                               edf_plus=True, start=start)
    with read_recording(path) as rec:
        assert isinstance(rec, EdfRecording) and rec.backend == "pyedflib" and rec.kind == "EDF+C"
        assert [c.label for c in rec.channels] == ["C3-M2", "Thor", "SpO2"]  # annotations excluded
        assert [c.rate for c in rec.channels] == [256, 32, 1]
        assert [c.n_samples for c in rec.channels] == [256 * 60, 32 * 60, 60]
        assert [c.unit for c in rec.channels] == ["µV", "µV", "%"]
        assert rec.duration == 60 and rec.start_time == start
        assert rec.file_rate == 256 and rec.file_samples == 256 * 60
        reference = pyedflib.EdfReader(str(path))
        try:
            for info in rec.channels:
                digital, physical = (reference.readSignal(info.index, digital=d) for d in (True, False))
                np.testing.assert_array_equal(rec.read_digital(info.index), digital)
                np.testing.assert_allclose(rec.read(info.index), physical, rtol=1e-12, atol=1e-9)
        finally:
            reference.close()
        signals = list(rec.iter_signals())
        assert len(signals) == 3 and signals[2][1].shape == (60,)


def test_values_come_back_within_one_quantisation_step(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    data = rng.uniform(-200, 200, 10 * 128)
    write_edf(tmp_path / "v.edf", [SignalSpec("EEG", 128, data, physical_min=-250, physical_max=250)])
    with read_recording(tmp_path / "v.edf") as rec:
        step = 500 / 65535
        assert np.abs(rec.read(0) - data).max() <= step / 2 + 1e-9


def test_published_values_are_mne_scaled(tmp_path: Path) -> None:
    path = synthetic_recording(tmp_path / "p.edf", 10, {"EEG": 100, "ECG": 100, "Pos": 1},
                               units={"ECG": "mV", "Pos": ""})
    with read_recording(path) as rec:
        assert [rec.published_scale(i) for i in range(3)] == [1e-6, 1e-3, 1.0]
        np.testing.assert_array_equal(rec.read_published(0), rec.read(0) * 1e-6)
        out = np.empty(rec.channels[1].n_samples)
        assert rec.read_published(1, out=out) is out


def test_bdf_24_bit_samples_sign_extend(tmp_path: Path) -> None:
    data = np.linspace(-1000, 1000, 20 * 64)
    path = write_edf(tmp_path / "b.bdf", [SignalSpec("EEG", 64, data), SignalSpec("EMG", 16, data[::4])],
                     bdf=True, edf_plus=True)
    with read_recording(path) as rec:
        assert rec.kind == "BDF+C" and rec.backend == "pyedflib"
        digital = rec.read_digital(0)
        assert digital.dtype == np.int32 and digital.min() < -8_000_000 and digital.max() > 8_000_000
        reference = pyedflib.EdfReader(str(path))
        try:
            np.testing.assert_array_equal(digital, reference.readSignal(0, digital=True))
        finally:
            reference.close()
        assert np.abs(rec.read(0) - data).max() < 1e-3


@pytest.mark.parametrize(
    ("written", "normal"),
    [("uV", "µV"), ("UV", "µV"), ("µV", "µV"), ("μV", "µV"), ("mV", "mV"), ("MV", "mV"), ("V", "V"),
     ("DegC", "°C"), ("Â°", "°"), ("%", "%"), ("BPM", "bpm"), ("", ""), ("cmH2O", "cmH2O"), ("weird", "weird")],
)
def test_units_are_normalised(written: str, normal: str) -> None:
    assert normalise_unit(written) == normal


def test_published_scale_follows_mne_not_our_spelling() -> None:
    # MNE does not recognise an upper-case "UV": it leaves the numbers unscaled.
    assert published_scale("uV") == 1e-6 and published_scale("UV") == 1.0 and published_scale("mV") == 1e-3


def test_files_pyedflib_refuses_fall_back_to_mne_with_a_debug_log(tmp_path: Path, caplog) -> None:
    data = np.linspace(-100, 100, 10 * 50)
    path = write_edf(tmp_path / "wide.edf", [SignalSpec("EEG", 50, data, physical_min=-200, physical_max=200),
                                             SignalSpec("ECG", 50, data)])
    # Digital limits beyond 16 bits (as in DREAMS excerpt3): pyedflib refuses, MNE reads.
    set_header_field(path, "digital minimum", "-65536", signal=0)
    set_header_field(path, "digital maximum", "65535", signal=0)
    with caplog.at_level(logging.DEBUG, logger="sleepfm"), read_recording(path) as rec:
        assert rec.backend == "mne"
        gain = 400 / 131071
        np.testing.assert_allclose(rec.read(0), rec.read_digital(0) * gain + (-200 + 65536 * gain), rtol=1e-12)
    assert any("pyedflib refused" in r.message and "MNE" in r.message for r in caplog.records)


def test_edf_plus_d_gaps_are_filled_with_the_last_sample(tmp_path: Path) -> None:
    data = np.arange(6 * 4, dtype=float)
    path = write_edf(tmp_path / "d.edf", [SignalSpec("EEG", 4, data, physical_min=-1, physical_max=30)],
                     record_onsets=[0, 1, 2, 5, 6, 7])
    with read_recording(path) as rec:
        assert rec.kind == "EDF+D" and rec.gaps == [(3.0, 2.0)] and rec.duration == 8
        values = np.round(rec.read(0))
        assert values.shape == (32,)
        np.testing.assert_array_equal(values[:12], np.arange(12))
        np.testing.assert_array_equal(values[12:20], 11)  # the gap holds the last sample
        np.testing.assert_array_equal(values[20:], np.arange(12, 24))


def test_edf_plus_d_without_gaps_reads_like_edf_plus_c(tmp_path: Path) -> None:
    path = synthetic_recording(tmp_path / "c.edf", 5, {"EEG": 10}, record_onsets=[0, 1, 2, 3, 4])
    with read_recording(path) as rec:
        assert rec.kind == "EDF+D" and rec.gaps == [] and rec.channels[0].n_samples == 50


def test_python_api_and_registry(tmp_path: Path) -> None:
    path = synthetic_recording(tmp_path / "a.EDF", 2, {"EEG": 10})  # any case of the extension
    assert "edf" in registry.names("readers")
    with sleepfm.read_recording(path) as rec:
        assert rec.channels[0].label == "EEG"
    (tmp_path / "x.xyz").write_text("x")
    with pytest.raises(InputError, match=r"no signal reader for '.xyz'.*\.bdf, \.edf"):
        read_recording(tmp_path / "x.xyz")
    with pytest.raises(InputError, match="file not found"):
        read_recording(tmp_path / "missing.edf")
