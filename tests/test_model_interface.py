"""The base-model interface inference honours: any registered ``Model`` — not only the built-in
SetTransformer — pretrains, saves, and runs through ``embed``, ``stage`` and ``run``; the generic
embedder gives each item what the model's own forward gives it alone."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from sleepfm import registry
from sleepfm.checkpoints import save_model
from sleepfm.cli.app import main
from sleepfm.clinical.models import CheckpointSet
from sleepfm.embedding.generic import ModelEmbedder
from sleepfm.embedding.runner import Embedder
from sleepfm.errors import CheckpointError
from sleepfm.interfaces.modality import Modality
from sleepfm.interfaces.model import Model
from sleepfm.store.embedding_store import EmbeddingStore

from .helpers_clinical import NIGHT, write_night
from .helpers_models import small_checkpoint, small_model
from .test_train_support import install_tiny, write_signal_cohort


def _items(patch: int, seed: int = 0) -> tuple[torch.Tensor, list[int], list[torch.Tensor | None]]:
    generator = torch.Generator().manual_seed(seed)
    counts = [3, 1, 2, 3, 1]
    channels = torch.randn(sum(counts), 4 * patch, generator=generator)
    tail = torch.tensor([False, False, True, True])
    return channels, counts, [None, tail, None, tail, None]


def _alone(model: Model, channels: torch.Tensor, counts: list[int], masks: list, decomposed: bool) -> list:
    out, start = [], 0
    for count, mask in zip(counts, masks, strict=True):
        x = channels[start: start + count][None]
        start += count
        slots = torch.zeros(1, count, dtype=torch.bool)
        if decomposed:
            out.append(model(x, slots, None if mask is None else mask[None]))
        else:
            real = x.shape[2] if mask is None else int((~mask).sum()) * model.patch_size
            out.append(model(x[:, :, :real], slots))
    return out


@pytest.mark.parametrize("decomposed", [True, False], ids=["decomposed", "plain-forward"])
def test_each_item_is_embedded_as_the_models_forward_embeds_it_alone(decomposed: bool, make_plugin) -> None:
    if decomposed:
        model = small_model()  # the set-transformer, through the generic path instead of its fast one
    else:
        install_tiny(make_plugin)
        torch.manual_seed(0)
        model = registry.create("models", "tiny-encoder", {"patch_size": 64}).eval()
    assert model.decomposed() is decomposed
    channels, counts, masks = _items(model.patch_size)
    with torch.no_grad():
        pooled, sequence = ModelEmbedder(model).embed_stacked(channels, counts, masks)
        alone = _alone(model, channels, counts, masks, decomposed)
    for i, (p, s) in enumerate(alone):
        torch.testing.assert_close(pooled[i], p[0], atol=1e-5, rtol=0)
        torch.testing.assert_close(sequence[i, : s.shape[1]], s[0], atol=1e-5, rtol=0)
        assert not sequence[i, s.shape[1]:].any(), "padded patches are zero rows"
        if masks[i] is not None:
            assert s.shape[1] == 2 or decomposed, "a plain model sees the real patches only"


@pytest.mark.slow
def test_a_plugin_base_model_pretrains_then_embeds_stages_and_runs(tmp_path: Path, make_plugin, capsys) -> None:
    install_tiny(make_plugin)  # "tiny-encoder": a linear patch encoder, deliberately no SetTransformer
    write_signal_cohort(tmp_path / "signals", n_studies=4)
    pretrain = tmp_path / "pretrain"
    assert main(["pretrain", "-o", str(pretrain), "--set", f"data.signals={tmp_path / 'signals'}",
                 "--set", "model.name=tiny-encoder", "--set", "trainer.batch_size=2", "--set", "trainer.max_steps=1",
                 "--set", "data.split.test_fraction=0", "--set", "data.split.validation_fraction=0.25",
                 "--set", "trainer.num_workers=0"]) == 0, capsys.readouterr().err
    assert json.loads((pretrain / "final" / "config.json").read_text())["name"] == "tiny-encoder"

    # embed
    embeddings = tmp_path / "embeddings"
    store = sorted((tmp_path / "signals").glob("*.h5"))[0]
    assert main(["embed", str(store), "--checkpoint", str(pretrain / "final"), "--out", str(embeddings)]) == 0
    with EmbeddingStore(embeddings / store.name) as written:
        tokens = written.tokens(Modality.BAS)
        assert written.embed_dim == 8 and tokens.shape == (2 * 60, 8) and bool((tokens != 0).any())

    # stage and run: the released layout with this base and a staging head for its 8-dim embeddings
    checkpoints = tmp_path / "checkpoints"
    shutil.copytree(pretrain / "final", checkpoints / "model_base")
    head = registry.create("heads", "lstm-staging", {"num_heads": 2, "pooling_head": 2, "num_layers": 1,
                                                     "dim_feedforward": 16, "max_seq_length": 256},
                           given={"embed_dim": 8, "num_classes": 5})
    save_model(head, checkpoints / "model_sleep_staging")
    data = tmp_path / "clinic"
    write_night(data / "night1.edf", NIGHT, hypnogram=data / "night1-hypnogram.edf")
    assert main(["stage", str(data / "night1.edf"), "--checkpoints", str(checkpoints), "--out",
                 str(tmp_path / "staged")]) == 0, capsys.readouterr().err
    stats = json.loads((tmp_path / "staged" / "night1.stats.json").read_text())
    assert stats["recording"]["epochs"] == 20 and sum(stats["predicted"]["stage_minutes"].values()) == 10.0
    assert main(["run", "--plugin", "cohort-edf", "--data", str(data), "--out", str(tmp_path / "run"),
                 "--checkpoints", str(checkpoints)]) == 0, capsys.readouterr().err
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["summary"]["completed"] == 1 and report["studies"][0]["agreement"]["n_epochs"] == 20


def test_a_head_is_not_a_base_model(tmp_path: Path) -> None:
    head = registry.create("heads", "lstm-staging", {"num_heads": 2, "pooling_head": 2},
                           given={"embed_dim": 16, "num_classes": 5})
    from sleepfm.checkpoints import load_checkpoint
    from sleepfm.errors import UsageError

    with pytest.raises(UsageError, match="embedding needs a base model"):
        Embedder(load_checkpoint(save_model(head, tmp_path / "head")))


def test_a_head_for_another_embedding_size_is_refused_at_load_naming_both(tmp_path: Path, capsys) -> None:
    # Before: every study failed late with "unexpected RuntimeError ... report it".
    checkpoints = tmp_path / "checkpoints"
    small_checkpoint(checkpoints / "model_base")  # 16-dim embeddings
    for role, name, folder in (("staging", "lstm-staging", "model_sleep_staging"),
                               ("diagnosis", "coxph-demo", "model_diagnosis")):
        head = registry.create("heads", name, {"num_heads": 2, "pooling_head": 2, "num_layers": 1},
                               given={"embed_dim": 8, "num_classes": 5, "num_covariates": 2}
                               if role == "diagnosis" else {"embed_dim": 8, "num_classes": 5})
        save_model(head, checkpoints / folder)
    edf = write_night(tmp_path / "night.edf", NIGHT[:10])
    assert main(["stage", str(edf), "--checkpoints", str(checkpoints), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert [line for line in err.splitlines() if line.startswith("error:")] == [
        f"error: {checkpoints / 'model_sleep_staging'}: the staging head takes 8-dim embeddings but the base model "
        f"gives 16-dim ones — use the staging head trained on this base model's embeddings (a finetune run on "
        f"`sleepfm embed` outputs of {checkpoints / 'model_base'})"]
    assert not (tmp_path / "out" / "night.hypnogram.csv").exists()
    with pytest.raises(CheckpointError, match="the diagnosis head takes 8-dim embeddings but the base model gives 16"):
        CheckpointSet(checkpoints).require("base", "diagnosis")
