"""Workflow configurations: pydantic models, YAML loading, ``--set`` overrides.

``WORKFLOWS`` maps the ``workflow:`` key of a YAML file to its model.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from sleepfm.config.base import (
    RESOLVED_CONFIG_NAME,
    ComponentSpec,
    ConfigModel,
    WorkflowConfig,
    apply_overrides,
    merge,
    read_yaml,
    save_resolved_config,
    validate,
)
from sleepfm.config.embed import EmbedConfig
from sleepfm.config.evaluate import EvaluateConfig
from sleepfm.config.preprocess import PreprocessConfig
from sleepfm.config.quality import QcConfig
from sleepfm.config.run import RunConfig
from sleepfm.config.training import FinetuneDiagnosisConfig, FinetuneStagingConfig, PretrainConfig
from sleepfm.errors import ConfigError

WORKFLOWS: dict[str, type[WorkflowConfig]] = {
    "preprocess": PreprocessConfig,
    "embed": EmbedConfig,
    "pretrain": PretrainConfig,
    "finetune-staging": FinetuneStagingConfig,
    "finetune-diagnosis": FinetuneDiagnosisConfig,
    "evaluate": EvaluateConfig,
    "run": RunConfig,
    "qc": QcConfig,
}


def workflow_of(data: Mapping[str, Any], *, where: str | Path | None = None) -> type[WorkflowConfig]:
    name = data.get("workflow")
    if name is None:
        raise ConfigError(
            "workflow: required key is missing",
            where=where,
            fix=f"start the file with `workflow: <one of {', '.join(WORKFLOWS)}>`",
        )
    if name not in WORKFLOWS:
        raise ConfigError(f"workflow: unknown workflow {name!r}", where=where, fix=f"use one of {', '.join(WORKFLOWS)}")
    return WORKFLOWS[name]


def load_config(
    path: Path | None = None,
    *,
    workflow: str | None = None,
    cli: Mapping[str, Any] | None = None,
    overrides: Iterable[str] = (),
) -> WorkflowConfig:
    """Resolve a workflow config: defaults < ``path`` < ``cli`` values < ``--set`` overrides.

    ``workflow`` names the expected workflow (a command's own); a file for another one is
    refused. ``cli`` holds command-line options the user actually gave (``None`` values are
    ignored), as a nested mapping of config keys.
    """
    data: dict[str, Any] = read_yaml(path) if path is not None else {}
    where = str(path) if path is not None else "command line"
    if workflow is not None:
        declared = data.get("workflow", workflow)
        if declared != workflow:
            raise ConfigError(
                f"workflow: this file is for {declared!r}, not {workflow!r}",
                where=where,
                fix=f"pass a {workflow} config (see configs/)",
            )
        data["workflow"] = workflow
    if cli:
        data = merge(data, _drop_none(cli))
    data = apply_overrides(data, overrides)
    model = workflow_of(data, where=where)
    return validate(model, data, where=where)


def _drop_none(values: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, Mapping):
            nested = _drop_none(value)
            if nested:
                out[key] = nested
        elif value is not None and value != ():
            out[key] = list(value) if isinstance(value, tuple) else value
    return out


__all__ = [
    "RESOLVED_CONFIG_NAME",
    "WORKFLOWS",
    "ComponentSpec",
    "ConfigModel",
    "EmbedConfig",
    "EvaluateConfig",
    "FinetuneDiagnosisConfig",
    "FinetuneStagingConfig",
    "PreprocessConfig",
    "PretrainConfig",
    "QcConfig",
    "WorkflowConfig",
    "load_config",
    "save_resolved_config",
    "workflow_of",
]
