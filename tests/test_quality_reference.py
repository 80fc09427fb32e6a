"""The foreign-data warning: reference statistics of embeddings, the comparison of one recording
with them, and ``sleepfm calibrate-reference`` → ``sleepfm stage`` with a lab's own nights."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sleepfm.cli.app import main
from sleepfm.errors import InputError
from sleepfm.interfaces.modality import Modality
from sleepfm.quality.reference import REFERENCE_NAME, Reference, find_reference, foreign_line
from sleepfm.store.embedding_store import write_embeddings

from .helpers_clinical import COMPAT, NIGHT, START, write_night


def _embeddings(path: Path, shift: float, seed: int, chunks: int = 40, missing: list[int] | None = None) -> Path:
    rng = np.random.default_rng(seed)
    pooled = {m: (rng.standard_normal((chunks, 16)) + shift).astype(np.float32) for m in (Modality.BAS, Modality.EKG)}
    tokens = {m: np.repeat(v, 60, axis=0) for m, v in pooled.items()}
    attrs = {"chunks_missing": {"BAS": missing}} if missing else {}
    return write_embeddings(path, tokens, pooled, attrs)


def test_reference_tells_a_like_night_from_a_foreign_one(tmp_path: Path) -> None:
    nights = [_embeddings(tmp_path / f"ref{i}.h5", 0.0, i) for i in range(3)]
    reference = Reference.build(nights, source="test")
    assert set(reference.modalities) == {"BAS", "EKG"} and reference.modalities["BAS"]["embeddings"] == 120 * 60
    path = reference.save(tmp_path)
    assert path.name == REFERENCE_NAME and find_reference([tmp_path / "elsewhere", tmp_path])[1] == path
    loaded = Reference.load(path)
    like = loaded.compare(_embeddings(tmp_path / "like.h5", 0.0, 10))
    assert not like["foreign"] and like["modalities"]["BAS"]["outside_fraction"] < 0.2
    assert foreign_line("like", like) is None
    foreign = loaded.compare(_embeddings(tmp_path / "far.h5", 2.0, 11))
    assert foreign["foreign"] and foreign["foreign_modalities"] == ["BAS", "EKG"]
    line = foreign_line("far", foreign)
    assert line is not None and line.startswith("far: unlike the nights") and "sleepfm finetune staging" in line
    # Chunks where quality masking left BAS no channel are zeros: they are not judged.
    masked = loaded.compare(_embeddings(tmp_path / "masked.h5", 0.0, 12, missing=list(range(30))))
    assert masked["modalities"]["BAS"]["embeddings"] == 10 * 60


def test_a_file_that_is_not_a_reference_is_refused_in_one_line(tmp_path: Path) -> None:
    (tmp_path / REFERENCE_NAME).write_text(json.dumps({"format": "something else"}))
    with pytest.raises(InputError, match="not a sleepfm reference statistics file"):
        find_reference([tmp_path])


def _checkpoints(shared: Path, folder: Path) -> Path:
    """The compat checkpoints, linked into a folder the test may write reference statistics into."""
    for name in ("model_base", "model_sleep_staging"):
        (folder / name).mkdir(parents=True)
        for item in (shared / COMPAT / name).iterdir():
            (folder / name / item.name).symlink_to(item)
    return folder


@pytest.mark.shared
@pytest.mark.slow
def test_calibrate_then_stage_flags_a_foreign_recording(shared: Path, tmp_path: Path, capsys) -> None:
    checkpoints = _checkpoints(shared, tmp_path / "checkpoints")
    lab = tmp_path / "lab"
    lab.mkdir()
    for seed in (0, 1):
        write_night(lab / f"n{seed}.edf", NIGHT, hypnogram=lab / f"n{seed}-hyp.edf", seed=seed)
    assert main(["calibrate-reference", str(lab / "n0.edf"), str(lab / "n1.edf"), "--checkpoints", str(checkpoints),
                 "--hypnogram", str(lab / "n0-hyp.edf"), "--hypnogram", str(lab / "n1-hyp.edf"),
                 "--device", "cpu"]) == 0
    text = capsys.readouterr().out
    assert "κ" in text and "reference of 2 night(s)" in text
    saved = json.loads((checkpoints / "model_base" / REFERENCE_NAME).read_text())
    assert [Path(n["file"]).name for n in saved["nights"]] == ["n0.edf", "n1.edf"]
    assert all("kappa" in n for n in saved["nights"]) and saved["modalities"]["BAS"]["nights"] == 2

    new = tmp_path / "new"
    new.mkdir()
    write_night(new / "like.edf", NIGHT, seed=2)
    _foreign_night(new / "odd.edf")
    assert main(["stage", str(new / "like.edf"), str(new / "odd.edf"), "--checkpoints", str(checkpoints), "--out",
                 str(tmp_path / "out"), "--device", "cpu", "--no-plot"]) == 0
    err = capsys.readouterr().err
    warnings = [line for line in err.splitlines() if "unlike the nights the model was calibrated on" in line]
    assert len(warnings) == 1 and warnings[0].startswith("warning: odd:")
    like = json.loads((tmp_path / "out" / "like.stats.json").read_text())["quality"]
    odd = json.loads((tmp_path / "out" / "odd.stats.json").read_text())["quality"]
    assert like["foreign_data"]["checked"] and not like["foreign_data"]["foreign"]
    assert odd["foreign_data"]["foreign"] and odd["foreign_data"]["reference"].endswith(REFERENCE_NAME)
    assert like["verdict"] == "usable" and like["masked_fraction"] == 0


def _foreign_night(path: Path) -> None:
    """A recording unlike the lab's: every channel a random walk (other equipment, other filters)."""
    from sleepfm.demo.physiology import Traits
    from sleepfm.demo.synth import CHANNELS, synthesize_signals, write_psg

    signals = synthesize_signals(np.asarray(NIGHT), Traits(), np.random.default_rng(5))
    rng = np.random.default_rng(6)
    for channel in CHANNELS:
        walk = np.cumsum(rng.standard_normal(signals[channel.label].size))
        low, high = channel.physical_range
        walk = (walk - walk.mean()) / (np.abs(walk).max() + 1e-9)
        signals[channel.label] = (low + high) / 2 + walk * (high - low) / 3
    write_psg(path, signals, start=START, patient="x", male=False)
