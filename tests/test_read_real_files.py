"""Every EDF/BDF in ../shared/data/psg reads as its README describes, or is refused in one line.

The DREAMS file is CC BY-NC-ND: it is read here, in place, and converted only into tmp_path.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sleepfm.cli.app import main
from sleepfm.errors import InputError
from sleepfm.read import read_recording

pytestmark = pytest.mark.shared

# From ../shared/data/psg/README.md: channel count, rates (Hz) the README names, duration (s).
EXPECTED = {
    "sleep-edf/SC4001E0-PSG_first300s.edf": (7, {100.0, 1.0}, 300.0),
    "sleep-edf/SC4001E0-PSG_first300s.bdf": (7, {100.0, 1.0}, 300.0),
    "dreams_cc-by-nc-nd/excerpt3.edf": (20, {50.0, 1.0}, 1800.0),
    "nox-a1_rsleep/subject1.edf": (89, {200.0, 75.0, 25.0, 20.0, 3.0, 1.0, 100.0}, 120.0),
}
# Annotation-only EDF+ files (hypnograms): no signal channel to read.
REFUSED = ("sleep-edf/SC4001EC-Hypnogram.edf", "hmc/SN001_sleepscoring.edf")


def _psg_files(shared: Path) -> list[str]:
    root = shared / "data" / "psg"
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.suffix.lower() in (".edf", ".bdf"))


def test_the_readme_covers_every_file(shared: Path) -> None:
    assert _psg_files(shared) == sorted([*EXPECTED, *REFUSED])


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_reads_with_the_readme_counts_rates_and_duration(shared: Path, name: str) -> None:
    count, rates, duration = EXPECTED[name]
    with read_recording(shared / "data" / "psg" / name) as rec:
        assert len(rec.channels) == count
        assert rates <= {c.rate for c in rec.channels}
        assert rec.duration == duration
        assert all(c.n_samples == c.rate * duration for c in rec.channels)
        # One channel of each rate reads in full, at its own rate.
        for rate in rates:
            info = next(c for c in rec.channels if c.rate == rate)
            assert rec.read(info.index).shape == (info.n_samples,)


def test_the_quirky_files_take_the_mne_fallback(shared: Path) -> None:
    psg = shared / "data" / "psg"
    with read_recording(psg / "dreams_cc-by-nc-nd/excerpt3.edf") as rec:
        units = {c.label: c.unit for c in rec.channels}
        assert rec.backend == "mne" and units["ECG"] == "mV" and units["C3-A1"] == "µV"  # written MV, UV
    with read_recording(psg / "nox-a1_rsleep/subject1.edf") as rec:
        assert rec.backend == "mne" and any("Ã©" in c.label for c in rec.channels)  # labels as MNE decodes them
    with read_recording(psg / "sleep-edf/SC4001E0-PSG_first300s.bdf") as rec:
        assert rec.backend == "pyedflib" and rec.kind == "BDF"


@pytest.mark.parametrize("name", REFUSED)
def test_hypnogram_files_are_refused_in_one_line(shared: Path, name: str) -> None:
    with pytest.raises(InputError, match="holds no signal channels, only annotations") as caught:
        read_recording(shared / "data" / "psg" / name)
    assert "\n" not in str(caught.value)


@pytest.mark.slow
def test_preprocess_the_whole_folder(shared: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    # The two hypnograms (Sleep-EDF, HMC) are annotation-only EDF+ files: set aside, not failed.
    assert main(["preprocess", str(shared / "data" / "psg"), "--out", str(out), "--workers", "2"]) == 0
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    assert not [line for line in captured.err.splitlines() if line.startswith("error:")]
    assert "4 converted, 0 already done, 0 failed, 2 annotation-only files (hypnograms) set aside" in captured.out
    assert sorted(p.name for p in out.glob("*.h5")) == [
        "SC4001E0-PSG_first300s.bdf.h5", "SC4001E0-PSG_first300s.edf.h5", "excerpt3.h5", "subject1.h5"]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_values_are_mnes_bit_for_bit(shared: Path, name: str) -> None:
    # What the published converter's resampling starts from: MNE's float64 values, every
    # channel brought to the file's highest rate.
    import mne

    from sleepfm.resample.published import fft_upsample

    path = shared / "data" / "psg" / name
    raw = (mne.io.read_raw_bdf if path.suffix == ".bdf" else mne.io.read_raw_edf)(path, preload=True,
                                                                                  verbose="error")
    with read_recording(path) as rec:
        for info in rec.channels:
            ours = rec.read_published(info.index)
            if ours.shape[0] != rec.file_samples:
                ours = fft_upsample(ours, rec.file_samples)
            np.testing.assert_array_equal(ours, raw.get_data(picks=[info.index])[0], err_msg=info.label)
