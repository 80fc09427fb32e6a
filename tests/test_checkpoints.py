"""Checkpoint folders: safe and strict loading, sleepfm's format, conversion both ways."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

import sleepfm
from sleepfm.checkpoints import CheckpointMismatchError, convert_checkpoint, load_checkpoint, save_model
from sleepfm.checkpoints.reading import read_weights
from sleepfm.cli.app import main
from sleepfm.errors import CheckpointError, UsageError
from sleepfm.head.staging import LstmStagingHead

from .helpers_models import published_base, small_model


class _Payload:
    """Pickles to a call of os.system: loading it with plain pickle would run the command."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.system, (f"touch {self.marker}",))


def test_a_pickle_that_would_run_code_is_refused_without_running(tmp_path: Path, capsys) -> None:
    folder = published_base(tmp_path / "evil")
    marker = tmp_path / "payload-ran"
    state = torch.load(folder / "best.pt", weights_only=True)
    state["trap"] = _Payload(marker)
    torch.save(state, folder / "best.pt")
    with pytest.raises(CheckpointError, match=r"refused: its pickle asks to call (posix|os)\.system"):
        sleepfm.load_model(folder)
    assert main(["convert-checkpoint", str(folder), str(tmp_path / "out")]) == 1
    assert "refused" in capsys.readouterr().err
    assert not marker.exists(), "the payload must never run"
    assert not (tmp_path / "out").exists()


def test_mismatch_error_shows_missing_unexpected_and_shapes_as_a_table(tmp_path: Path, capsys) -> None:
    folder = published_base(tmp_path / "base")
    state = torch.load(folder / "best.pt", weights_only=True)
    weights = state["state_dict"]
    del weights["module.layer_norm.bias"]
    weights["module.extra.weight"] = torch.zeros(3, 2)
    weights["module.positional_encoding.pe"] = torch.zeros(1, 256, 128)
    torch.save(state, folder / "best.pt")
    with pytest.raises(CheckpointMismatchError) as caught:
        sleepfm.load_model(folder)
    error = caught.value
    assert error.missing == ["layer_norm.bias"] and error.unexpected == ["extra.weight"]
    assert error.mismatched == [("positional_encoding.pe", (1, 128, 128), (1, 256, 128))]
    lines = error.table.splitlines()
    assert lines[0].split() == ["key", "model", "expects", "checkpoint", "has"]
    assert any(line.split() == ["layer_norm.bias", "(128,)", "missing"] for line in lines)
    assert any(line.split() == ["extra.weight", "unexpected", "(3,", "2)"] for line in lines)
    assert any(line.split() == ["positional_encoding.pe", "(1,", "128,", "128)", "(1,", "256,", "128)"]
               for line in lines)
    assert "1 missing, 1 unexpected, 1 of another shape" in error.message and "\n" not in error.message
    # On the command line: the table on stderr, then the one-line error.
    assert main(["convert-checkpoint", str(folder), str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "positional_encoding.pe" in err and "(1, 256, 128)" in err
    assert err.strip().splitlines()[-1].startswith("error:") and "Traceback" not in err


def test_weights_of_another_network_get_a_hint(tmp_path: Path) -> None:
    folder = published_base(tmp_path / "base")
    head = LstmStagingHead(LstmStagingHead.test_config())
    torch.save({f"module.{k}": v for k, v in head.state_dict().items()}, folder / "best.pt")
    with pytest.raises(CheckpointMismatchError, match="looks like a staging"):
        load_checkpoint(folder)


def test_module_prefix_is_optional_and_training_checkpoints_load(tmp_path: Path) -> None:
    folder = published_base(tmp_path / "base")
    reference = sleepfm.load_model(folder).state_dict()
    published = torch.load(folder / "best.pt", weights_only=True)["state_dict"]
    bare = {k.removeprefix("module."): v for k, v in published.items()}
    (folder / "best.pt").unlink()
    torch.save({"epoch": 3, "state_dict": bare, "optim_dict": {}, "temperature": 0.5}, folder / "checkpoint.pt")
    loaded = load_checkpoint(folder)
    assert loaded.source == "published" and not loaded.module.training
    assert all(torch.equal(reference[k], v) for k, v in loaded.module.state_dict().items())


def test_our_format_is_config_json_plus_safetensors(tmp_path: Path) -> None:
    model = small_model()
    folder = save_model(model, tmp_path / "ours", signal={"sampling_rate": 128.0, "chunk_seconds": 8.0})
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "weights.safetensors"]
    config = json.loads((folder / "config.json").read_text())
    assert (config["format"], config["kind"], config["name"]) == ("sleepfm-checkpoint", "models", "set-transformer")
    assert config["params"]["tokenizer"] == {"name": "cnn-patch", "params": {"channels": [4, 8, 16]}}
    loaded = load_checkpoint(tmp_path / "ours" / "weights.safetensors")
    assert loaded.signal["chunk_seconds"] == 8.0 and isinstance(loaded.module, type(model))
    x, mask = model.example_inputs()
    with torch.no_grad():
        assert all(torch.equal(a, b) for a, b in zip(model(x, mask), loaded.module(x, mask), strict=True))
    with pytest.raises(UsageError, match="not empty"):
        save_model(model, folder)


def test_convert_round_trip_published_to_ours_to_published(tmp_path: Path, capsys) -> None:
    source = published_base(tmp_path / "published")
    assert main(["convert-checkpoint", str(source), str(tmp_path / "ours")]) == 0
    assert "→" in capsys.readouterr().out
    assert main(["convert-checkpoint", str(tmp_path / "ours"), str(tmp_path / "back")]) == 0
    before = torch.load(source / "best.pt", weights_only=True)["state_dict"]
    after = torch.load(tmp_path / "back" / "best.pt", weights_only=True)["state_dict"]
    assert list(before) == list(after)
    assert all(torch.equal(before[k], after[k]) and before[k].dtype == after[k].dtype for k in before)
    assert json.loads((tmp_path / "back" / "config.json").read_text()) == json.loads(
        (source / "config.json").read_text())


def test_our_own_model_exports_to_the_published_layout(tmp_path: Path) -> None:
    head = LstmStagingHead(LstmStagingHead.Config(num_classes=4))
    save_model(head, tmp_path / "ours")
    convert_checkpoint(tmp_path / "ours", tmp_path / "published")
    config = json.loads((tmp_path / "published" / "config.json").read_text())
    assert config["model"] == "SleepEventLSTMClassifier" and config["model_params"]["num_classes"] == 4
    assert set(read_weights(tmp_path / "published" / "best.pth")) == set(head.state_dict())
    assert next(iter(torch.load(tmp_path / "published" / "best.pth", weights_only=True))).startswith("module.")
    assert load_checkpoint(tmp_path / "published").name == "lstm-staging"
    # A network the published classes cannot express stays in our format.
    save_model(small_model(), tmp_path / "small")
    with pytest.raises(CheckpointError, match="published code cannot build"):
        convert_checkpoint(tmp_path / "small", tmp_path / "nope", to="published")


def test_bad_folders_fail_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        load_checkpoint(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match=r"no config\.json"):
        load_checkpoint(tmp_path / "empty")
    folder = published_base(tmp_path / "base")
    (folder / "config.json").write_text(json.dumps({"model": "SleepFMv9"}))
    with pytest.raises(CheckpointError, match="cannot build"):
        load_checkpoint(folder)
    (folder / "config.json").write_text(json.dumps({"model": "SetTransformer", "embed_dim": "big"}))
    with pytest.raises(CheckpointError, match="embed_dim"):
        load_checkpoint(folder)
    (folder / "config.json").write_text(json.dumps({"model": "SetTransformer", "pooling_head": 8}))
    (folder / "best.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match=r"not a readable PyTorch checkpoint"):
        load_checkpoint(folder)


def test_published_folders_load_and_convert_unchanged(shared: Path, tmp_path: Path) -> None:
    compat = shared / "reference" / "sleepfm-compat"
    for name, weights in (("model_base", "best.pt"), ("model_sleep_staging", "best.pth"),
                          ("model_diagnosis", "best.pth")):
        convert_checkpoint(compat / name, tmp_path / name / "ours")
        convert_checkpoint(tmp_path / name / "ours", tmp_path / name / "back")
        before = read_weights(compat / name / weights)
        after = torch.load(tmp_path / name / "back" / weights, weights_only=True)
        after = after.get("state_dict", after)
        assert [k.removeprefix("module.") for k in after] == list(before)
        assert all(torch.equal(before[k.removeprefix("module.")], v) for k, v in after.items())
