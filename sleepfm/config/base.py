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

from sleepfm import factory, registry
from sleepfm.errors import ConfigError, UnknownComponentError, disk_full
from sleepfm.file_modes import make_shareable
from sleepfm.limits import check_structure
from sleepfm.validation import did_you_mean, dotted, format_validation_error

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
        return registry.get(self.kind, self.name)

    def create(self, key: str, **options: Any) -> Any:
        """Build the component (:func:`sleepfm.registry.create`); ``key`` is where the config names it."""
        return registry.create(self.kind, self.name, self.params, key=key, **options)


class WorkflowConfig(ConfigModel):
    """Base of the per-workflow models; ``workflow`` says which one a YAML file is for."""

    workflow: str


# ---------------------------------------------------------------------------- loading
def read_yaml(path: Path) -> dict[str, Any]:
    """Parse a YAML (or JSON) config file into a dict, with one-line errors."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError("config file not found", where=path, fix="check the path given to --config")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except RecursionError:
        raise ConfigError("not a config: nested too deeply to read", where=path) from None
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
    check_structure(data, where=path, error=ConfigError)  # before anything copies the expanded tree
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
    except RecursionError:
        raise ConfigError(f"--set {key}: the value is nested too deeply to read") from None
    check_structure(value, where=f"--set {key}", error=ConfigError)
    return key.split("."), value


def apply_overrides(data: dict[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """Return a copy of ``data`` with the ``section.key=value`` overrides laid over it.

    The overrides form one layer (applied in order among themselves) merged onto ``data`` by
    :func:`merge`: ``--set head.name=other`` starts that head from its own defaults unless
    ``--set head.params...`` is given too.
    """
    layer: dict[str, Any] = {}
    for item in overrides:
        path, value = parse_override(item)
        source = f"--set {item}"
        _section(data, path, source=source, create=False)
        _section(layer, path, source=source, create=True)[path[-1]] = value
    return merge(data, layer)


def set_path(data: dict[str, Any], path: list[str], value: Any, *, source: str) -> None:
    """Set ``data[a][b][c] = value`` for ``path`` ``[a, b, c]``, creating sections on the way."""
    _section(data, path, source=source, create=True)[path[-1]] = value


def _section(data: dict[str, Any], path: list[str], *, source: str, create: bool) -> dict[str, Any]:
    """The section holding ``path[-1]``; refuses a path through a value. Without ``create``,
    only checks the sections that exist (and returns an empty dict where they stop)."""
    node = data
    for i, part in enumerate(path[:-1]):
        child = node.get(part)
        if child is None:
            if not create:
                return {}
            child = node[part] = {}
        if not isinstance(child, dict):
            where = ".".join(path[: i + 1])
            what = f"{where} is a value, not a section, so {'.'.join(path)} cannot be set"
            raise ConfigError(what, where=source)
        node = child
    return node


def merge(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """Recursive dict merge: sections merge and values of ``update`` win, except that a section
    naming another component (``name``) than ``base``'s replaces it whole, so the new component
    (head, loss, scheduler, cohort, ...) starts from its own defaults, not the old one's params."""
    if _renames(base, update):
        return _deep_copy(update)
    out = _deep_copy(base)
    for key, value in update.items():
        current = out.get(key)
        if isinstance(value, Mapping) and isinstance(current, dict):
            out[key] = merge(current, value)
        else:
            out[key] = _deep_copy(value)
    return out


def _renames(base: Mapping[str, Any], update: Mapping[str, Any]) -> bool:
    return "name" in base and "name" in update and update["name"] != base["name"]


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
        raise ConfigError("invalid configuration: " + "; ".join(format_validation_error(exc)), where=where,
                          fix="; ".join(did_you_mean(exc, model)) or None) from None
    hints: list[str] = []
    problems = validate_components(config, hints=hints)
    if problems:
        raise ConfigError("invalid configuration: " + "; ".join(problems), where=where, fix="; ".join(hints) or None)
    return config


def validate_components(config: BaseModel, prefix: tuple[Any, ...] = (), hints: list[str] | None = None) -> list[str]:
    """Check every :class:`ComponentSpec` in ``config`` (lists of them too), nested ones in component
    params included: the name is registered and the params fit the component's ``Config``
    (data-given fields may be absent: the data fill them). Returns the problems as
    ``dotted.path: message`` strings (empty when all is well); did-you-mean hints are appended to
    ``hints``.
    """
    problems: list[str] = []
    for field_name in type(config).model_fields:
        value = getattr(config, field_name)
        loc = (*prefix, field_name)
        if isinstance(value, ComponentSpec) and value.kind:
            problems.extend(_check_spec(value, loc, hints))
        elif isinstance(value, BaseModel):
            problems.extend(validate_components(value, loc, hints))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, ComponentSpec) and item.kind:
                    problems.extend(_check_spec(item, (*loc, index), hints))
    return problems


def _check_spec(spec: ComponentSpec, loc: tuple[Any, ...], hints: list[str] | None) -> list[str]:
    try:
        component = spec.component()
    except UnknownComponentError as exc:
        return [f"{dotted((*loc, 'name'))}: {exc}"]
    problems = factory.declaration_problems(component, f"{dotted((*loc, 'name'))} {spec.name!r}")
    found, suggested, params = factory.check(component, spec.kind, spec.name, spec.params,
                                             key=dotted(loc), without_data=True)
    problems.extend(found)
    if hints is not None:
        hints.extend(suggested)
    if params is not None:
        problems.extend(validate_components(params, (*loc, "params"), hints))
    return problems


# ---------------------------------------------------------------------------- saving
def dump_yaml(config: BaseModel) -> str:
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` via a temporary file in the same folder and a rename."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` via a temporary file in the same folder and a rename; returns
    ``path``. The file gets the permissions a plain ``open()`` would give it (not ``mkstemp``'s
    owner-only 0600)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        make_shareable(tmp)
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if (full := disk_full(exc, path.parent)) is not None:
            raise full from None
        raise
    return path


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
