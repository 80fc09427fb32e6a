"""``registry.create``, the one factory: data-given parameters declared once and filled or
refused, inherited defaults, validation with did-you-mean, and the same rules for every kind."""

from __future__ import annotations

from pathlib import Path

import pytest

from sleepfm import registry
from sleepfm.cli.app import main
from sleepfm.cohorts import load_cohort
from sleepfm.embedding.set_transformer import PoolerSpec, SetTransformer, TokenizerSpec
from sleepfm.errors import CheckpointError, ConfigError

from .test_train_support import write_embedding_cohort, write_stage_csv

HEADS = '''
import torch
from sleepfm.plugin import ConfigModel, Head, hookimpl


class Renamed(ConfigModel):
    embed_dim: int = 16
    n_classes: int = 7


class Undeclared(ConfigModel):
    embed_dim: int = 16
    num_classes: int = 7


class _Base(Head):
    task = "staging"

    def __init__(self, config):
        super().__init__()
        self.config = config
        self.fc = torch.nn.Linear(config.embed_dim, 7)

    def forward(self, x, mask, covariates=None):
        return self.fc(x.mean(1)), mask.all(1)


class RenamedHead(_Base):
    """Names its class count n_classes: the data cannot set it."""
    Config = Renamed


class UndeclaredHead(_Base):
    """Declares only embed_dim as data-given."""
    Config = Undeclared
    data_given = ("embed_dim",)


@hookimpl
def sleepfm_register_heads(register):
    register("renamed-head", RenamedHead)
    register("undeclared-head", UndeclaredHead)
'''


def test_a_head_whose_config_lacks_a_declared_field_is_refused_at_build(make_plugin) -> None:
    make_plugin("sleepfm-odd-heads", HEADS)
    with pytest.raises(ConfigError) as caught:
        registry.create("heads", "renamed-head", given={"embed_dim": 16, "num_classes": 5}, key="head")
    message = str(caught.value)
    assert "'num_classes'" in message and "'n_classes'" in message and "\n" not in message


def test_a_head_that_does_not_declare_what_the_task_gives_is_refused(make_plugin) -> None:
    make_plugin("sleepfm-odd-heads", HEADS)
    with pytest.raises(ConfigError, match="does not declare the data-given parameter 'num_classes'"):
        registry.create("heads", "undeclared-head", given={"embed_dim": 16, "num_classes": 5}, key="head")


def test_finetune_refuses_a_head_with_n_classes_before_training(tmp_path: Path, make_plugin, capsys) -> None:
    # Before the factory, such a head silently kept n_classes=7 and trained on 5 stages.
    make_plugin("sleepfm-odd-heads", HEADS)
    ids = [f"n{i}" for i in range(4)]
    write_embedding_cohort(tmp_path / "emb", ids)
    (tmp_path / "labels").mkdir()
    for sid in ids:
        write_stage_csv(tmp_path / "labels" / f"{sid}.csv", [0, 1, 2, 3, 4, 2] * 10)
    code = main(["finetune", "staging", "-o", str(tmp_path / "run"), "--set", f"data.embeddings={tmp_path / 'emb'}",
                 "--set", f"data.labels={tmp_path / 'labels'}", "--set", "head.name=renamed-head"])
    err = capsys.readouterr().err
    assert code == 2 and "num_classes" in err and "n_classes" in err
    assert not (tmp_path / "run" / "final").exists()


def test_data_given_values_fill_the_config_and_a_conflict_names_both() -> None:
    head = registry.create("heads", "lstm-staging", {"num_heads": 2, "pooling_head": 2},
                           given={"embed_dim": 16, "num_classes": 5}, key="head")
    assert (head.config.embed_dim, head.config.num_classes) == (16, 5)
    with pytest.raises(ConfigError) as caught:
        registry.create("heads", "lstm-staging", {"embed_dim": 64}, given={"embed_dim": 16, "num_classes": 5},
                        key="head")
    assert "head.params.embed_dim is 64 but the data give 16" in str(caught.value)


def test_covariate_heads_declare_num_covariates() -> None:
    assert "num_covariates" in registry.get("heads", "coxph-demo").data_given
    assert "num_covariates" not in registry.get("heads", "coxph").data_given


def test_a_model_part_setting_the_models_embedding_size_is_refused_in_one_line() -> None:
    # Before, the tokenizer's own embed_dim silently won and the model failed later with a ValueError.
    config = SetTransformer.test_config().model_copy(
        update={"tokenizer": TokenizerSpec(name="cnn-patch", params={"channels": [4, 8, 16], "embed_dim": 32})})
    with pytest.raises(ConfigError, match=r"tokenizer\.params\.embed_dim is 32 but the model gives 16"):
        SetTransformer(config)


def test_the_models_dropout_is_inherited_unless_a_part_sets_its_own() -> None:
    config = SetTransformer.test_config().model_copy(update={
        "dropout": 0.25,
        "temporal_pooler": PoolerSpec(name="attention", params={"num_heads": 2, "dim_feedforward": 32,
                                                                "dropout": 0.0})})
    model = SetTransformer(config)
    assert model.spatial_pooling.config.dropout == 0.25 and model.temporal_pooling.config.dropout == 0.0


def test_unknown_params_are_refused_with_a_did_you_mean() -> None:
    with pytest.raises(ConfigError) as caught:
        registry.create("losses", "cross-entropy", {"label_smothing": 0.1}, key="loss")
    message = str(caught.value)
    assert "loss.params.label_smothing: unknown key" in message
    assert "did you mean loss.params.label_smoothing?" in message


def test_components_without_config_take_keyword_parameters(tmp_path: Path) -> None:
    table = tmp_path / "map.json"
    table.write_text('{"BAS": ["C3"]}')
    mapper = registry.create("channel_mappers", "table", {"path": table})
    assert mapper.assign(["C3"])[0].modality.value == "BAS"
    with pytest.raises(ConfigError, match=r"params\.path: unknown key"):
        registry.create("channel_mappers", "rules", {"path": table})
    assert registry.create("readers", "edf").extensions


def test_cohorts_are_built_by_the_same_factory() -> None:
    cohort = load_cohort("cohort-edf", {"recursive": False})
    assert cohort.config.recursive is False
    with pytest.raises(ConfigError) as caught:
        load_cohort("cohort-edf", {"recursiv": False})
    assert "cohort.params.recursiv: unknown key" in str(caught.value)
    assert "did you mean cohort.params.recursive?" in str(caught.value)


def test_checkpoint_loading_reports_bad_params_as_a_checkpoint_error(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="invalid parameters for model 'set-transformer'"):
        registry.create("models", "set-transformer", {"embed_dim": "big"}, error=CheckpointError,
                        where=tmp_path / "config.json")


def test_a_component_of_another_task_is_refused() -> None:
    with pytest.raises(ConfigError, match="loss 'coxph' is a diagnosis component, this workflow needs a staging one"):
        registry.create("losses", "coxph", task="staging", key="loss")
