"""One bad file never stops a batch (issue 10.2): in ``embed`` and ``preprocess`` a malformed input
fails alone, with one line naming it, the others complete, and the exit code says some failed.
(``stage`` and ``run`` are held to the same in tests/test_stage_cli.py and tests/test_run_cli.py.)"""

from __future__ import annotations

import csv
from pathlib import Path

import h5py
import numpy as np
import pytest

from sleepfm.read.edf_writer import synthetic_recording
from tests.helpers_models import SMALL_CHUNK, STUDY, small_checkpoint, write_study

from .harness import assert_quiet, leftovers, mutated_copy, run_sleepfm

BROKEN_STORES = {
    "rate": lambda f: f.attrs.__setitem__("sampling_rate", "fast"),
    "modality": lambda f: f["Thor"].attrs.__setitem__("modality", "XYZ"),
    "notes": lambda f: f.attrs.__setitem__("notes", "{not json"),
    "strings": lambda f: (f.__delitem__("EKG"), f.create_dataset("EKG", data=np.array([b"abc"] * 4096)),
                          f["EKG"].attrs.__setitem__("modality", "EKG")),
}


@pytest.mark.slow
@pytest.mark.parametrize("workers", ["1", "2"])
def test_embed_fails_each_malformed_store_alone(tmp_path: Path, workers: str) -> None:
    checkpoint = small_checkpoint(tmp_path / "model")
    folder = tmp_path / "h5"
    for name in ("good1", "good2", *BROKEN_STORES):
        write_study(folder / f"{name}.h5", STUDY, 3 * SMALL_CHUNK)
    for name, damage in BROKEN_STORES.items():
        with h5py.File(folder / f"{name}.h5", "a") as handle:
            damage(handle)
    out = tmp_path / "out"
    outcome = run_sleepfm(["embed", folder, "--checkpoint", checkpoint, "--out", out, "--workers", workers])
    assert outcome.code == 1, outcome.describe()
    assert_quiet(outcome)
    named = {name: [line for line in outcome.error_lines if f"{name}.h5" in line] for name in BROKEN_STORES}
    assert all(len(lines) == 1 for lines in named.values()), outcome.describe()
    assert sorted(p.name for p in out.glob("*.h5")) == ["good1.h5", "good2.h5"] and not leftovers([out])
    assert f"{len(BROKEN_STORES)} of {len(BROKEN_STORES) + 2} studies were not embedded" in outcome.error_lines[-1]


@pytest.mark.slow
def test_preprocess_fails_each_malformed_recording_alone(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    montage = {"C3-M2": 256.0, "ECG": 256.0, "Chin": 256.0, "Thor": 32.0}
    good = [synthetic_recording(folder / f"good{i}.edf", 60, montage, seed=i) for i in range(2)]
    mutated_copy(good[0], folder / "cut.edf", truncate=1000)
    mutated_copy(good[0], folder / "header.edf", {252: b"xx  "})  # number of signals
    (folder / "text.edf").write_text("not a recording at all")
    out = tmp_path / "out"
    outcome = run_sleepfm(["preprocess", folder, "--out", out, "--workers", "2"])
    assert outcome.code == 1 and len(outcome.error_lines) == 3, outcome.describe()
    assert_quiet(outcome)
    for name in ("cut.edf", "header.edf", "text.edf"):
        assert sum(name in line for line in outcome.error_lines) == 1, outcome.describe()
    with open(out / "manifest.csv", newline="") as handle:
        statuses = {Path(row["file"]).name: row["status"] for row in csv.DictReader(handle)}
    assert statuses == {"good0.edf": "done", "good1.edf": "done", "cut.edf": "failed", "header.edf": "failed",
                        "text.edf": "failed"}
    assert not leftovers([out])
