"""Training configs: partial overrides keep each workflow's own defaults."""

from __future__ import annotations

from sleepfm.config.training import FinetuneDiagnosisConfig, FinetuneStagingConfig, PretrainConfig


def test_partial_sections_keep_the_workflow_defaults() -> None:
    config = PretrainConfig.model_validate({"trainer": {"max_steps": 10}, "data": {"split": {"seed": 3}},
                                            "scheduler": {"params": {"gamma": 0.5}}, "optimizer": {"lr": 0.1}})
    assert (config.trainer.batch_size, config.trainer.epochs, config.trainer.max_steps) == (128, 2, 10)
    assert config.data.split.train == "pretrain" and config.data.split.seed == 3
    assert config.scheduler.params == {"step_size": 2, "gamma": 0.5}
    assert (config.optimizer.name, config.optimizer.weight_decay, config.optimizer.lr) == ("sgd", 0.0, 0.1)
    staging = FinetuneStagingConfig.model_validate({"loss": {"params": {"normalize": "weights"}}})
    assert staging.loss.params == {"class_weights": [1.0, 4.0, 2.0, 4.0, 3.0], "normalize": "weights"}


def test_naming_another_component_starts_from_its_own_defaults() -> None:
    staging = FinetuneStagingConfig.model_validate({"loss": {"name": "focal"}, "scheduler": {"name": "cosine"}})
    assert staging.loss.params == {} and staging.scheduler.params == {}
    diagnosis = FinetuneDiagnosisConfig.model_validate({"loss": {"params": {"ties": "sorted"}}})
    assert diagnosis.loss.name == "coxph" and diagnosis.trainer.batch_size == 32
