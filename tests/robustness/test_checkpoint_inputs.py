"""Checkpoint folders as untrusted input (issue classes 6 and 7): weights stay inside their
folder; a best.pt that is not a zip, a non-integer format_version and deeply nested JSON get
one clear line; messages name a component kind in good English."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from .harness import assert_clean_failure, run_inprocess


def _copy(small_model: Path, folder: Path, **changes: object) -> Path:
    shutil.copytree(small_model, folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, **changes}))
    return folder


def _embed(checkpoint: Path, store: Path, out: Path) -> object:
    return run_inprocess(["embed", store, "--checkpoint", checkpoint, "--out", out, "--device", "cpu"])


@pytest.mark.parametrize("where", ["parent", "absolute"])
def test_weights_outside_the_checkpoint_folder_are_refused(where: str, small_model: Path, good_store: Path,
                                                           tmp_path: Path) -> None:
    # The weights out there are valid: only their place is wrong.
    outside = tmp_path / "elsewhere.safetensors"
    shutil.copy(small_model / "weights.safetensors", outside)
    entry = "../elsewhere.safetensors" if where == "parent" else str(outside)
    folder = _copy(small_model, tmp_path / "model", weights=entry)
    outcome = _embed(folder, good_store, tmp_path / "emb")
    assert_clean_failure(outcome, contains=["outside the checkpoint folder", "elsewhere.safetensors"],
                         outputs=[tmp_path / "emb"])


@pytest.mark.parametrize("version", ["1.5", "one", [1], None])
def test_a_format_version_that_is_not_a_whole_number(version: object, small_model: Path, good_store: Path,
                                                      tmp_path: Path) -> None:
    folder = _copy(small_model, tmp_path / "model", format_version=version)
    outcome = _embed(folder, good_store, tmp_path / "emb")
    assert_clean_failure(outcome, contains=["config.json", "format_version"], outputs=[tmp_path / "emb"])


def test_deeply_nested_config_json(small_model: Path, good_store: Path, tmp_path: Path) -> None:
    folder = tmp_path / "model"
    shutil.copytree(small_model, folder)
    (folder / "config.json").write_text('{"params": ' + "[" * 100_000 + "]" * 100_000 + "}")
    outcome = _embed(folder, good_store, tmp_path / "emb")
    assert_clean_failure(outcome, contains=["config.json", "nested"], outputs=[tmp_path / "emb"])


@pytest.mark.shared
@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 not really a zip", b"\x80\x02 some pickle bytes",
                                     b"plain text, no pickle at all"])
def test_a_best_pt_that_is_not_a_zip(content: bytes, compat: Path, good_store: Path, tmp_path: Path) -> None:
    folder = tmp_path / "model_base"
    folder.mkdir()
    shutil.copy(compat / "model_base" / "config.json", folder)
    (folder / "best.pt").write_bytes(content)
    outcome = _embed(folder, good_store, tmp_path / "emb")
    assert_clean_failure(outcome, contains=["best.pt"], outputs=[tmp_path / "emb"])


def test_a_loss_is_called_a_loss(tmp_path: Path, good_store: Path) -> None:
    folder = tmp_path / "loss"
    folder.mkdir()
    save_file({"stray": torch.zeros(2)}, str(folder / "weights.safetensors"))
    (folder / "config.json").write_text(json.dumps({
        "format": "sleepfm-checkpoint", "format_version": 1, "kind": "losses", "name": "cross-entropy",
        "params": {}, "weights": "weights.safetensors"}))
    outcome = run_inprocess(["convert-checkpoint", folder, tmp_path / "out"])
    assert_clean_failure(outcome, contains=["loss 'cross-entropy'"], outputs=[tmp_path])
    assert "losse" not in outcome.stderr
