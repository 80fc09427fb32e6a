"""Workflow configs: every shipped file validates; bad keys and types are named by dotted path."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sleepfm.config import WORKFLOWS, load_config, save_resolved_config
from sleepfm.config.base import apply_overrides, read_yaml
from sleepfm.errors import ConfigError

from .conftest import REPO

CONFIG_FILES = sorted((REPO / "configs").glob("*.yaml"))


def write(tmp_path: Path, data: dict, name: str = "c.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize("path", CONFIG_FILES, ids=lambda p: p.name)
def test_shipped_config_validates(path: Path) -> None:
    config = load_config(path)
    assert config.workflow in WORKFLOWS


def test_every_workflow_has_a_shipped_config() -> None:
    shipped = {read_yaml(p)["workflow"] for p in CONFIG_FILES}
    missing = set(WORKFLOWS) - shipped
    # Training workflows ship their YAML with the components they name (see configs/).
    assert missing <= {"pretrain", "finetune-staging", "finetune-diagnosis"} or not missing


def test_unknown_key_is_named_by_its_dotted_path(tmp_path) -> None:
    path = write(tmp_path, {"workflow": "evaluate", "bootstrap": {"samples": 10, "sample": 5}})
    with pytest.raises(ConfigError, match=r"bootstrap\.sample: unknown key"):
        load_config(path)


def test_wrong_type_is_named_with_the_value(tmp_path) -> None:
    path = write(tmp_path, {"workflow": "preprocess", "workers": "many"})
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "workers: Input should be a valid integer" in str(info.value)
    assert "'many'" in str(info.value) and str(path) in str(info.value)


def test_several_errors_reported_together(tmp_path) -> None:
    path = write(tmp_path, {"workflow": "embed", "batch_size": 0, "layout": "flat", "extra": 1})
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert "batch_size" in message and "layout" in message and "extra: unknown key" in message


def test_missing_and_unknown_workflow(tmp_path) -> None:
    with pytest.raises(ConfigError, match="workflow: required key is missing"):
        load_config(write(tmp_path, {"inputs": []}))
    with pytest.raises(ConfigError, match=r"unknown workflow 'train'.*use one of"):
        load_config(write(tmp_path, {"workflow": "train"}))


def test_file_for_another_workflow_is_refused(tmp_path) -> None:
    with pytest.raises(ConfigError, match=r"this file is for 'embed', not 'preprocess'"):
        load_config(write(tmp_path, {"workflow": "embed"}), workflow="preprocess")


def test_set_overrides_nested_keys_with_yaml_typed_values(tmp_path) -> None:
    path = write(tmp_path, {"workflow": "evaluate", "task": "diagnosis"})
    config = load_config(path, overrides=["bootstrap.samples=50", "tau=3650.5", "diagnosis.embeddings=/data/emb"])
    assert config.bootstrap.samples == 50
    assert config.tau == 3650.5
    assert config.diagnosis.embeddings == Path("/data/emb")


def test_set_beats_cli_beats_file(tmp_path) -> None:
    path = write(tmp_path, {"workflow": "embed", "batch_size": 4})
    assert load_config(path).batch_size == 4
    assert load_config(path, cli={"batch_size": 8}).batch_size == 8
    assert load_config(path, cli={"batch_size": 8}, overrides=["batch_size=32"]).batch_size == 32
    assert load_config(path, cli={"batch_size": None}).batch_size == 4, "options not given do not override"


def test_set_errors(tmp_path) -> None:
    with pytest.raises(ConfigError, match=r"not of the form section\.key=value"):
        apply_overrides({}, ["trainer.epochs"])
    with pytest.raises(ConfigError, match="task is a value, not a section"):
        apply_overrides({"task": "staging"}, ["task.name=x"])
    path = write(tmp_path, {"workflow": "evaluate"})
    with pytest.raises(ConfigError, match=r"bootstrap\.sampels: unknown key"):
        load_config(path, overrides=["bootstrap.sampels=3"])


def test_invalid_yaml_and_missing_file(tmp_path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("workflow: embed\n  batch_size: [\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml:\d+: not valid YAML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")
    listing = tmp_path / "list.yaml"
    listing.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="must hold a mapping"):
        load_config(listing)


def test_shard_must_be_i_of_n(tmp_path) -> None:
    assert load_config(None, workflow="preprocess", overrides=["shard=1/4"]).shard == "1/4"
    with pytest.raises(ConfigError, match="shard: Value error, shard must be I/N"):
        load_config(None, workflow="preprocess", overrides=["shard=4/4"])


def test_component_params_are_validated_against_the_component(tmp_path) -> None:
    from sleepfm.config.training import FinetuneStagingConfig, LossSpec

    data = FinetuneStagingConfig.model_fields["loss"].default.model_dump()
    assert LossSpec.kind == "losses"
    from sleepfm.config.base import validate_components

    config = FinetuneStagingConfig.model_construct(loss=LossSpec(name="focal", params={"gama": 2}))
    problems = [p for p in validate_components(config) if p.startswith("loss")]
    assert problems == ["loss.params.gama: unknown key"]
    config = FinetuneStagingConfig.model_construct(loss=LossSpec(name="focl", params={}))
    problems = [p for p in validate_components(config) if p.startswith("loss")]
    assert len(problems) == 1 and "did you mean 'focal'" in problems[0]
    assert data["name"] == "cross-entropy"


def test_resolved_config_round_trips(tmp_path) -> None:
    config = load_config(None, workflow="embed", overrides=["batch_size=3", "checkpoint=ckpt"])
    path = save_resolved_config(config, tmp_path / "run")
    assert path.name == "config.resolved.yaml"
    again = load_config(path)
    assert again == config
    assert not list((tmp_path / "run").glob("*.tmp")), "written atomically"


def test_naming_another_head_resets_its_params_to_that_heads_defaults() -> None:
    # The shipped file sets lstm-staging's params; switching the head used to keep them
    # ("head.params.pooling_head: unknown key").
    config = load_config(REPO / "configs" / "finetune-staging.yaml", workflow="finetune-staging",
                         overrides=["head.name=transformer-staging"])
    assert config.head.name == "transformer-staging" and config.head.params == {}
    config = load_config(REPO / "configs" / "finetune-staging.yaml", workflow="finetune-staging",
                         overrides=["head.params.d_model=64", "head.name=transformer-staging"])
    assert config.head.params == {"d_model": 64}, "params given with the new name are kept, in any order"
    config = load_config(REPO / "configs" / "finetune-staging.yaml", workflow="finetune-staging",
                         overrides=["head.name=lstm-staging", "head.params.num_layers=2"])
    assert config.head.params["num_layers"] == 2 and config.head.params["pooling_head"] == 4, "same name: merged"


def test_a_misspelt_key_gets_a_did_you_mean() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(None, workflow="finetune-staging", overrides=["trainer.batchsize=4"])
    assert "trainer.batchsize: unknown key" in str(caught.value)
    assert "did you mean trainer.batch_size?" in str(caught.value)
    with pytest.raises(ConfigError, match=r"did you mean head\.params\.num_layers\?"):
        load_config(None, workflow="finetune-staging", overrides=["head.params.num_layer=2"])
    with pytest.raises(ConfigError, match=r"did you mean 'lstm-staging'"):
        load_config(None, workflow="finetune-staging", overrides=["head.name=lstm-stagin"])


def test_config_validate_checks_cohort_and_nested_component_params(tmp_path) -> None:
    path = write(tmp_path, {"workflow": "run", "cohort": {"name": "cohort-edf", "params": {"recursiv": True}}})
    with pytest.raises(ConfigError, match=r"cohort\.params\.recursiv: unknown key"):
        load_config(path)
    path = write(tmp_path, {"workflow": "pretrain", "model": {"name": "set-transformer", "params": {
        "tokenizer": {"name": "cnn-patch", "params": {"kernel": 5}}}}}, name="p.yaml")
    with pytest.raises(ConfigError, match=r"model\.params\.tokenizer\.params\.kernel: unknown key"):
        load_config(path)


@pytest.mark.parametrize("workflow", ["embed", "qc", "run"])
def test_a_bare_off_is_the_quality_mode_off_not_a_boolean(workflow: str) -> None:
    # YAML reads `off` as False; `--set quality.mode=off` must still mean the mode `off`.
    assert load_config(None, workflow=workflow, overrides=["quality.mode=off"]).quality.mode == "off"
    with pytest.raises(ConfigError, match=r"quality\.mode"):
        load_config(None, workflow=workflow, overrides=["quality.mode=on"])
