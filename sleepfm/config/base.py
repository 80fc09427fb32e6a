"""Configuration machinery shared by every workflow.

A workflow config is a pydantic model (the single source of truth for its keys, types and
defaults). It is built from, in increasing priority: the model's defaults, a YAML file
(``--config``), options given on the command line, and ``--set section.key=value``
overrides. Unknown keys and wrong types are refused with the dotted path of the key.
Every run writes the resolved config beside its outputs (:func:`save_resolved_config`).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, ClassVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sleepfm.errors import ConfigError, disk_full

RESOLVED_CONFIG_NAME = "config.resolved.yaml"


class ConfigModel(BaseModel):
    """Base of every sleepfm config model: workflow configs, their sections, and the
    hyper-parameters (``Config``) of every registered component.

    Unknown keys are errors and values are validated on assignment too.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True, protected_namespaces=())


class ComponentSpec(ConfigModel):
    """A registry component chosen by name, with its hyper-parameters.

    The one way a config names a component (a model, head, loss, cohort, or a model's
    tokenizer and poolers): subclasses fix :attr:`kind`. ``params`` is checked against the
    component's own ``Config`` model when the whole config is validated
    (:func:`validate_components`), so a misspelt hyper-parameter is reported as
    ``head.params.hiden_size`` before any training starts.
    """

    kind: ClassVar[str] = ""
    name: str
    params: dict[str, Any] = Field(default_factory=dict)

    def component(self) -> Any:
        """The registered component this spec names (raises naming the registered ones)."""
        from sleepfm import registry

        return registry.get(self.kind, self.name)


class WorkflowConfig(ConfigModel):
    """Base of the per-workflow models; ``workflow`` says which one a YAML file is for."""

    workflow: str


# ---------------------------------------------------------------------------- errors
def _dotted(loc: Iterable[Any]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _describe(err: Mapping[str, Any]) -> str:
    path = _dotted(err.get("loc", ()))
    kind = err.get("type", "")
    if kind == "extra_forbidden":
        return f"{path}: unknown key"
    if kind == "missing":
        return f"{path}: required key is missing"
    message = str(err.get("msg", "invalid value"))
    if "input" in err and kind not in ("model_type", "dict_type"):
        value = err["input"]
        shown = repr(value) if not isinstance(value, dict | list) else type(value).__name__
        if len(shown) > 60:
            shown = shown[:57] + "..."
        message += f" (got {shown})"
    return f"{path}: {message}"


def format_validation_error(exc: ValidationError, prefix: tuple[Any, ...] = ()) -> list[str]:
    """One ``dotted.path: message`` string per pydantic error."""
    return [_describe({**err, "loc": (*prefix, *err["loc"])}) for err in exc.errors()]


# ---------------------------------------------------------------------------- loading
def read_yaml(path: Path) -> dict[str, Any]:
    """Parse a YAML (or JSON) config file into a dict, with one-line errors."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError("config file not found", where=path, fix="check the path given to --config")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"not valid YAML: {problem}", where=where) from None
    except UnicodeDecodeError:
        raise ConfigError("not a text file", where=path, fix="configs are UTF-8 YAML") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError("a config file must hold a mapping of keys to values", where=path)
    return data


def parse_override(item: str) -> tuple[list[str], Any]:
    """Split ``"a.b.c=value"`` into ``(["a", "b", "c"], value)``; the value is read as YAML."""
    key, sep, raw = item.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise ConfigError(
            f"--set {item!r} is not of the form section.key=value",
            fix="e.g. --set trainer.epochs=3",
        )
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key.split("."), value


def apply_overrides(data: dict[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """Return a copy of ``data`` with each ``section.key=value`` applied in order."""
    result = _deep_copy(data)
    for item in overrides:
        path, value = parse_override(item)
        set_path(result, path, value, source=f"--set {item}")
    return result


def set_path(data: dict[str, Any], path: list[str], value: Any, *, source: str) -> None:
    node = data
    for i, part in enumerate(path[:-1]):
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            where = ".".join(path[: i + 1])
            what = f"{where} is a value, not a section, so {'.'.join(path)} cannot be set"
            raise ConfigError(what, where=source)
        node = child
    node[path[-1]] = value


def merge(base: dict[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """Recursive dict merge: sections merge, values of ``update`` win."""
    out = _deep_copy(base)
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = _deep_copy(value)
    return out


def _deep_copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value


def validate(
    model: type[WorkflowConfig], data: Mapping[str, Any], *, where: str | Path | None = None
) -> WorkflowConfig:
    """Validate ``data`` against ``model`` and its components' own configs."""
    try:
        config = model.model_validate(dict(data))
    except ValidationError as exc:
        raise ConfigError("invalid configuration: " + "; ".join(format_validation_error(exc)), where=where) from None
    problems = validate_components(config)
    if problems:
        raise ConfigError("invalid configuration: " + "; ".join(problems), where=where)
    return config


def validate_components(config: BaseModel, prefix: tuple[Any, ...] = ()) -> list[str]:
    """Check every :class:`ComponentSpec` in ``config``: the name is registered, the params fit.

    Returns the problems as ``dotted.path: message`` strings (empty when all is well).
    """
    from sleepfm.errors import UnknownComponentError

    problems: list[str] = []
    for field_name in type(config).model_fields:
        value = getattr(config, field_name)
        loc = (*prefix, field_name)
        if isinstance(value, ComponentSpec) and value.kind:
            try:
                component = value.component()
            except UnknownComponentError as exc:
                problems.append(f"{_dotted((*loc, 'name'))}: {exc}")
                continue
            config_model = getattr(component, "Config", None)
            if isinstance(config_model, type) and issubclass(config_model, BaseModel):
                try:
                    config_model.model_validate(value.params)
                except ValidationError as exc:
                    problems.extend(format_validation_error(exc, (*loc, "params")))
        elif isinstance(value, BaseModel):
            problems.extend(validate_components(value, loc))
    return problems


# ---------------------------------------------------------------------------- saving
def dump_yaml(config: BaseModel) -> str:
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if (full := disk_full(exc, path.parent)) is not None:
            raise full from None
        raise


def resolved_config_name(shard: str | None = None) -> str:
    """``config.resolved.yaml``; a shard's own (``config.resolved.shard-I-of-N.yaml``), so that the
    shards of a job array writing into one folder do not overwrite each other's."""
    if shard is None:
        return RESOLVED_CONFIG_NAME
    from sleepfm.config.executor import shard_suffix

    return RESOLVED_CONFIG_NAME.replace(".yaml", f"{shard_suffix(shard)}.yaml")


def save_resolved_config(config: BaseModel, out_dir: Path, name: str = RESOLVED_CONFIG_NAME) -> Path:
    """Write the fully resolved config (defaults included) as YAML into ``out_dir``."""
    path = Path(out_dir) / name
    atomic_write_text(path, dump_yaml(config))
    return path
