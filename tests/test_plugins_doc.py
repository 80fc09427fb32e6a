"""docs/plugins.md, executed: its map of kinds names files, hooks and tests that exist, and its
head and base model, installed as real plugin distributions, pass the generated tests, train and
embed — so a lab can write either from the page alone."""

from __future__ import annotations

import json
import re
from pathlib import Path

import sleepfm
from sleepfm import hookspecs, registry
from sleepfm.checkpoints import save_model
from sleepfm.cli.app import main
from sleepfm.interfaces.modality import Modality
from sleepfm.registry_records import KINDS

from .conftest import REPO
from .test_components_generated import CONTRACTS, check_component
from .test_train_support import write_embedding_cohort, write_signal_cohort, write_stage_csv

DOC = REPO / "docs" / "plugins.md"


def _block(first_line: str) -> str:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)
    (block,) = [b for b in blocks if b.startswith(first_line)]
    return block


def _map() -> dict[str, list[str]]:
    row = r"^\| `(\w+)` \| `([^`]+)` \| `([^`]+)` \| `(\w+)` \| `(\w+)` \|$"
    rows = re.findall(row, DOC.read_text(encoding="utf-8"), flags=re.MULTILINE)
    return {kind: rest for kind, *rest in rows}


def test_the_map_of_kinds_is_true() -> None:
    table = _map()
    assert set(table) == set(KINDS), "one row per component kind"
    generated = "\n".join(path.read_text(encoding="utf-8") for path in (REPO / "tests").glob("*.py"))
    for kind, (interface, builtins, hook, test) in table.items():
        assert (REPO / interface).is_file(), interface
        assert (REPO / builtins).is_dir(), builtins
        assert hook == f"sleepfm_register_{kind}" and hasattr(hookspecs, hook)
        assert f"def {test}(" in generated and kind in CONTRACTS, test


def test_the_documented_head_passes_the_generated_tests_and_trains(make_plugin, tmp_path: Path) -> None:
    make_plugin("sleepfm-head-mean", _block("# sleepfm_head_mean.py"), module="sleepfm_head_mean")
    assert registry.entry("heads", "mean-staging").plugin.distribution == "sleepfm-head-mean"
    check_component("heads", "mean-staging", tmp_path)

    ids = [f"night{i}" for i in range(4)]
    write_embedding_cohort(tmp_path / "emb", ids)
    (tmp_path / "labels").mkdir()
    for sid in ids:
        write_stage_csv(tmp_path / "labels" / f"{sid}.csv", [0, 1, 2, 3, 4, 2] * 10)
    run = tmp_path / "run"
    assert main(["finetune", "staging", "-o", str(run), "--set", f"data.embeddings={tmp_path / 'emb'}",
                 "--set", f"data.labels={tmp_path / 'labels'}", "--set", "head.name=mean-staging",
                 "--set", "trainer.epochs=1", "--set", "trainer.batch_size=2", "--set", "trainer.num_workers=0",
                 "--set", "data.split.test_fraction=0", "--set", "data.split.validation_fraction=0.25"]) == 0
    saved = json.loads((run / "final" / "config.json").read_text())
    assert saved["name"] == "mean-staging" and (saved["params"]["embed_dim"], saved["params"]["num_classes"]) == (16, 5)


def test_the_documented_base_model_passes_the_generated_tests_and_embeds(make_plugin, tmp_path: Path) -> None:
    make_plugin("sleepfm-model-patch-mean", _block("# sleepfm_model_patch_mean.py"),
                module="sleepfm_model_patch_mean")
    check_component("models", "patch-mean", tmp_path)

    model = registry.create("models", "patch-mean", {"embed_dim": 16})
    checkpoint = save_model(model, tmp_path / "model_base", signal={"sampling_rate": 128.0, "chunk_seconds": 300.0})
    (store,) = write_signal_cohort(tmp_path / "signals", n_studies=1)
    embedded = sleepfm.embed([store], checkpoint=checkpoint)[store.stem]
    assert embedded.tokens[Modality.BAS].shape == (2 * 60, 16) and embedded.pooled[Modality.EMG].shape == (2, 16)
