"""``sleepfm embed`` reproduces what the published embedding step wrote for the reference
recording (../shared/reference/sleepfm-compat/embeddings_mixed_rates.npz) to ≤ 1e-4."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

import sleepfm
from sleepfm.cli.app import main

pytestmark = pytest.mark.shared
MODALITIES = ("BAS", "RESP", "EKG", "EMG")


def test_mixed_rates_reference(shared: Path, tmp_path: Path, capsys) -> None:
    reference = shared / "reference"
    code = main(["embed", str(reference / "preprocessing" / "mixed_rates.reference.h5"), "--checkpoint",
                 str(reference / "sleepfm-compat" / "model_base"), "--channel-map",
                 str(reference / "channel_groups.json"), "--out", str(tmp_path / "out")])
    assert code == 0
    assert "assuming 128 Hz" in capsys.readouterr().err  # the published converter stores no rate
    with np.load(reference / "sleepfm-compat" / "embeddings_mixed_rates.npz") as expected, \
            h5py.File(tmp_path / "out" / "mixed_rates.reference.h5") as ours:
        for modality in MODALITIES:
            for level in ("5s", "5min"):
                theirs = expected[f"{modality}/{level}"]
                mine = ours[f"{level}/{modality}"][()]
                assert mine.shape == theirs.shape and np.abs(mine - theirs).max() <= 1e-4, (modality, level)
        channels = ours.attrs["channels"]
    # The channels the published run used (README of the reference folder).
    assert '"BAS": ["EEG1", "EEG2", "EEG3", "EOG-L", "EOG-R"]' in channels and '"EMG": ["EMG", "Leg"]' in channels


def test_python_api_returns_the_same_arrays_in_the_published_layout(shared: Path, tmp_path: Path) -> None:
    reference = shared / "reference"
    results = sleepfm.embed(reference / "preprocessing" / "mixed_rates.reference.h5",
                            reference / "sleepfm-compat" / "model_base", tmp_path / "emb",
                            channel_map=reference / "channel_groups.json", layout="published", batch_size=1)
    study = results["mixed_rates.reference"]
    with np.load(reference / "sleepfm-compat" / "embeddings_mixed_rates.npz") as expected:
        for modality in MODALITIES:
            assert np.abs(study.tokens[modality] - expected[f"{modality}/5s"]).max() <= 1e-4
            with h5py.File(tmp_path / "emb_5min_agg" / "mixed_rates.reference.hdf5") as handle:
                assert np.abs(handle[modality][()] - expected[f"{modality}/5min"]).max() <= 1e-4
