"""``sleepfm checkpoints check DIR``: what a checkpoints folder holds, whether each model loads, what is
missing, and which commands it serves — on the release-layout folder of ../shared and broken copies."""

from __future__ import annotations

import shutil
from pathlib import Path

from sleepfm.cli.app import main
from sleepfm.clinical.checkpoint_check import check_checkpoints

from .helpers_clinical import COMPAT


def _copy(shared: Path, tmp_path: Path, *roles: str) -> Path:
    folder = tmp_path / "checkpoints"
    for role in roles:
        shutil.copytree(shared / COMPAT / role, folder / role)
    return folder


def test_the_release_layout_is_complete(shared: Path, capsys) -> None:
    assert main(["checkpoints", "check", str(shared / COMPAT)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("model_base           ✓ set-transformer (published format), embed_dim 128")
    assert "1065 outputs" in lines[2] and lines[2].endswith("parameters: loads")
    assert lines[3].startswith("label_mapping.csv    ✓ sleepfm's copy of the released phecode table, 1,065")
    assert lines[4] == f"{shared / COMPAT}: usable by stage, run, risk"


def test_a_missing_head_is_named_with_what_needs_it(shared: Path, tmp_path: Path, capsys) -> None:
    folder = _copy(shared, tmp_path, "model_base", "model_sleep_staging")
    assert main(["checkpoints", "check", str(folder)]) == 0  # stage and run still work
    out = capsys.readouterr().out
    assert "model_diagnosis      – missing: needed by risk" in out and out.endswith("usable by stage, run\n")


def test_broken_weights_and_a_head_of_another_width_fail_the_check(shared: Path, tmp_path: Path, capsys) -> None:
    folder = _copy(shared, tmp_path, "model_base", "model_sleep_staging", "model_diagnosis")
    (folder / "model_diagnosis" / "best.pth").write_bytes(b"not a checkpoint")
    result = check_checkpoints(folder)
    assert result.part("model_diagnosis").status == "broken" and "does not load" in \
        result.part("model_diagnosis").detail
    assert result.usable_by == ["stage", "run"] and not result.ok
    assert main(["checkpoints", "check", str(folder)]) == 1
    assert "fix the lines marked ✗" in capsys.readouterr().out

    # A head fine-tuned on another base model (the demo's 64-dim one, here a 128-dim head on a small base).
    import torch

    from sleepfm.checkpoints import save_model
    from sleepfm.embedding.set_transformer import SetTransformer

    torch.manual_seed(0)
    small = SetTransformer.from_config(SetTransformer.test_config()).eval()
    shutil.rmtree(folder / "model_base")
    save_model(small, folder / "model_base")
    staging = check_checkpoints(folder).part("model_sleep_staging")
    assert staging.status == "broken" and "takes 128-dim embeddings but the base model gives 16-dim" in staging.detail


def test_a_head_in_the_wrong_folder_and_a_missing_folder(shared: Path, tmp_path: Path, capsys) -> None:
    folder = tmp_path / "checkpoints"
    shutil.copytree(shared / COMPAT / "model_base", folder / "model_base")
    shutil.copytree(shared / COMPAT / "model_diagnosis", folder / "model_sleep_staging")
    part = check_checkpoints(folder).part("model_sleep_staging")
    assert part.status == "broken" and "holds a diagnosis head (coxph-demo), not a staging head" in part.detail
    assert main(["checkpoints", "check", str(tmp_path / "absent")]) == 1
    assert "checkpoints folder not found" in capsys.readouterr().err
