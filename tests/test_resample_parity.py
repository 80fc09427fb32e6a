"""Parity: every channel of the reference mixed_rates.edf equals the published converter's float16 output."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

import sleepfm
from sleepfm.read import read_recording
from sleepfm.resample.fast import Resampler

pytestmark = pytest.mark.shared


def test_preprocess_output_equals_the_reference_h5(shared: Path, tmp_path: Path) -> None:
    folder = shared / "reference" / "preprocessing"
    report = sleepfm.preprocess(folder / "mixed_rates.edf", tmp_path, compression="gzip")
    assert [r.status for r in report.results] == ["done"]
    with h5py.File(folder / "mixed_rates.reference.h5") as reference, h5py.File(tmp_path / "mixed_rates.h5") as ours:
        # Same dataset names, the constant channel included; sleepfm adds its quality flags as a group,
        # which the published loader (root-level datasets only) never reads.
        assert sorted(n for n in ours if isinstance(ours[n], h5py.Dataset)) == sorted(reference)
        assert isinstance(ours["sleepfm_quality"], h5py.Group)
        for name in reference:
            assert ours[name].dtype == np.float16 and ours[name].chunks == reference[name].chunks == (38400,)
            np.testing.assert_array_equal(ours[name][:], reference[name][:], err_msg=name)
        # The constant channel really is the published oddity, reproduced, not zeros.
        assert set(np.unique(ours["Flat"][:]).tolist()) == {0.0, np.float16(-1.414)}


def test_each_channel_through_the_resampler_alone(shared: Path) -> None:
    folder = shared / "reference" / "preprocessing"
    with read_recording(folder / "mixed_rates.edf") as rec, h5py.File(folder / "mixed_rates.reference.h5") as ref:
        resampler = Resampler(rec.file_rate, rec.file_samples)
        took_spectral = 0
        for info in rec.channels:
            ours = resampler(rec.read_published(info.index), dtype=np.float16)
            np.testing.assert_array_equal(ours, ref[info.label][:], err_msg=info.label)
            took_spectral += resampler.spectral is not None and resampler.spectral.applies(info.n_samples,
                                                                                            resampler.n_out)
        assert took_spectral == 9  # the 32 Hz and 1 Hz channels
