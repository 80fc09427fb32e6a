"""``sleepfm embed`` end to end on a small synthetic store, and its one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sleepfm.cli.app import main
from sleepfm.interfaces.modality import Modality
from sleepfm.store.embedding_store import EmbeddingStore

from .conftest import REPO
from .helpers_models import SMALL_CHUNK, SMALL_STEPS, STUDY, channel_table, small_checkpoint, write_study


def test_embed_a_folder_end_to_end(tmp_path: Path, capsys) -> None:
    checkpoint = small_checkpoint(tmp_path / "model")
    (tmp_path / "signals" / "site").mkdir(parents=True)
    write_study(tmp_path / "signals" / "a.h5", STUDY, 3 * SMALL_CHUNK)
    write_study(tmp_path / "signals" / "site" / "b.h5", {k: v for k, v in STUDY.items() if v != Modality.EKG},
                2 * SMALL_CHUNK + 100)
    config = tmp_path / "embed.yaml"
    config.write_text(yaml.safe_dump({"workflow": "embed", "batch_size": 2}))
    code = main(["embed", str(tmp_path / "signals"), "--checkpoint", str(checkpoint), "--out", str(tmp_path / "out"),
                 "--config", str(config), "--set", "partial_chunk=pad", "--device", "cpu"])
    assert code == 0
    text = capsys.readouterr().out
    assert "✓ a: 3 chunks" in text and "✓ b: 3 chunks" in text and "no EKG" in text and "embedded 2 studies" in text
    resolved = yaml.safe_load((tmp_path / "out" / "config.resolved.yaml").read_text())
    assert resolved["batch_size"] == 2 and resolved["partial_chunk"] == "pad" and resolved["device"] == "cpu"
    with EmbeddingStore(tmp_path / "out" / "b.h5") as store:
        assert store.missing == [Modality.EKG] and store.attrs["n_chunks"] == 3
        assert store.padded_tokens == SMALL_STEPS - 1 and store.tokens(Modality.BAS).shape == (3 * SMALL_STEPS, 16)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.h5", "b.h5", "config.resolved.yaml"]
    # Embedding into a folder inside the inputs: a re-run does not take its own outputs for inputs.
    for _ in range(2):
        assert main(["embed", str(tmp_path / "signals"), "--checkpoint", str(checkpoint), "--out",
                     str(tmp_path / "signals" / "emb")]) == 0
    assert "embedded 2 studies" in capsys.readouterr().out


def test_published_files_and_layout_from_the_command_line(tmp_path: Path, capsys) -> None:
    checkpoint = small_checkpoint(tmp_path / "model")
    write_study(tmp_path / "night.hdf5", STUDY, 2 * SMALL_CHUNK, published=True)
    table = channel_table(tmp_path / "groups.json", STUDY)
    code = main(["embed", str(tmp_path / "night.hdf5"), "--checkpoint", str(checkpoint), "--out",
                 str(tmp_path / "emb"), "--channel-map", str(table), "--layout", "published"])
    assert code == 0
    captured = capsys.readouterr()
    assert "assuming 128 Hz" in captured.err
    assert (tmp_path / "emb" / "night.hdf5").is_file() and (tmp_path / "emb_5min_agg" / "night.hdf5").is_file()


@pytest.mark.slow  # a fresh interpreter importing torch: a few seconds
def test_a_study_shorter_than_a_chunk_is_one_line_not_a_crash(tmp_path: Path) -> None:
    checkpoint = small_checkpoint(tmp_path / "model")
    write_study(tmp_path / "nap.h5", STUDY, SMALL_CHUNK // 2)
    result = subprocess.run(
        [sys.executable, "-m", "sleepfm", "embed", str(tmp_path / "nap.h5"), "--checkpoint", str(checkpoint),
         "--out", str(tmp_path / "out")], capture_output=True, text=True, cwd=REPO, timeout=120)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 1 and len(lines) == 1, result.stderr
    assert "4 s long, shorter than one 8 s chunk" in lines[0] and "--partial-chunk pad" in lines[0]
    assert "Traceback" not in result.stderr and not (tmp_path / "out" / "nap.h5").exists()


def test_usage_problems_exit_2(tmp_path: Path, capsys) -> None:
    checkpoint = small_checkpoint(tmp_path / "model")
    write_study(tmp_path / "a.h5", STUDY, SMALL_CHUNK)
    assert main(["embed", str(tmp_path / "a.h5"), "--checkpoint", str(checkpoint)]) == 2
    assert "no output folder" in capsys.readouterr().err
    assert main(["embed", str(tmp_path / "a.h5"), "--checkpoint", str(checkpoint), "--out", str(tmp_path / "o"),
                 "--layout", "nested"]) == 2
    err = capsys.readouterr().err
    assert "layout" in err and "Traceback" not in err
    assert main(["embed", str(tmp_path / "a.h5"), str(tmp_path / "a.h5"), "--checkpoint", str(checkpoint),
                 "--out", str(tmp_path / "o")]) == 2
    assert "same output" in capsys.readouterr().err
    write_study(tmp_path / "published.hdf5", STUDY, SMALL_CHUNK, published=True)
    assert main(["embed", str(tmp_path / "published.hdf5"), "--checkpoint", str(checkpoint), "--out",
                 str(tmp_path / "o"), "--set", "channel_mapper=no-such-mapper"]) == 2
    err = capsys.readouterr().err
    # Refused when the config is validated, before any file is opened.
    assert "channel_mapper" in err and "no channel mapper named 'no-such-mapper'" in err


def test_a_rerun_keeps_what_was_embedded_with_the_same_settings(tmp_path: Path, capsys) -> None:
    checkpoint = small_checkpoint(tmp_path / "model")
    for name in ("a", "b"):
        write_study(tmp_path / "signals" / f"{name}.h5", STUDY, 2 * SMALL_CHUNK)
    out = tmp_path / "emb"
    argv = ["embed", str(tmp_path / "signals"), "--checkpoint", str(checkpoint), "--out", str(out), "--quiet"]
    assert main(argv) == 0
    (out / "b.h5").unlink()  # as if the run had been killed before b was written
    first = (out / "a.h5").stat().st_mtime_ns
    capsys.readouterr()
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "1 of 2 studies already embedded with these settings" in captured.err and "embedded 1 study" in captured.out
    assert (out / "a.h5").stat().st_mtime_ns == first and (out / "b.h5").is_file()
    # Other settings, or --overwrite, redo them.
    assert main([*argv, "--quality", "off"]) == 0
    assert "embedded 2 studies" in capsys.readouterr().out
    assert main([*argv, "--quality", "off", "--overwrite"]) == 0
    assert "embedded 2 studies" in capsys.readouterr().out
