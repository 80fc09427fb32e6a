"""The one factory: a registered component built from its parameters (``registry.create``).

Every kind is built the same way, whoever calls (a training workflow, the base model building
its tokenizer and poolers, a checkpoint being loaded, ``sleepfm run`` building its cohort):

1. **Data-given parameters.** Some hyper-parameters are decided by the data, not the user: the
   size of the embeddings a head reads, its number of classes, the number of covariates. A
   component declares which of its ``Config`` fields those are in the class attribute
   ``data_given`` (the idea of braindecode's ``EEGModuleMixin``); the interfaces declare the
   usual ones (a head: ``embed_dim`` and ``num_classes``), so a plugin inherits them. The
   caller passes the values as ``given``. A value given for a field the component does not
   declare, a declared field its ``Config`` lacks (``n_classes`` instead of ``num_classes``),
   or a user value that differs from the data's is refused in one line naming both — never
   silently kept at a default.
2. **Inherited defaults.** ``defaults`` (what a parent hands down, such as the base model's
   dropout to its poolers) fill the ``Config`` fields the parameters leave unset.
3. **Validation.** The parameters are checked against ``Config`` (unknown keys refused, with a
   did-you-mean), and the component is built as ``cls(config)``. A component without
   ``Config`` (signal and label readers, channel mappers) takes its parameters as keyword
   arguments of its constructor (the ``table`` channel mapper: ``path``), none for most.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from sleepfm.errors import ConfigError, SleepfmError
from sleepfm.registry_records import KINDS
from sleepfm.validation import close_key, did_you_mean, format_validation_error


def config_model(cls: Any) -> type[BaseModel] | None:
    """The pydantic model of ``cls``'s parameters, or ``None`` for a component without one."""
    model = getattr(cls, "Config", None)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def data_given(cls: Any) -> tuple[str, ...]:
    """The ``Config`` fields of ``cls`` that the data decide (its ``data_given`` declaration)."""
    return tuple(getattr(cls, "data_given", ()) or ())


def declaration_problems(cls: Any, what: str) -> list[str]:
    """What is wrong with ``cls``'s ``data_given`` declaration (empty when nothing is)."""
    model = config_model(cls)
    fields = model.model_fields if model is not None else {}
    return [f"{what} declares the data-given parameter {key!r} but its Config has no such field"
            + (f" (it has {close!r})" if (close := close_key(key, fields)) else "")
            for key in data_given(cls) if key not in fields]


def _what(kind: str, name: str) -> str:
    return f"{KINDS.get(kind, kind)} {name!r}"


def _prefix(key: str | None) -> tuple[str, ...]:
    return (*key.split("."), "params") if key else ("params",)


def fill(cls: Any, kind: str, name: str, params: Mapping[str, Any] | None, *, given: Mapping[str, Any] | None = None,
         defaults: Mapping[str, Any] | None = None, key: str | None = None, error: type[SleepfmError] = ConfigError,
         where: str | Path | None = None, given_by: str = "data") -> dict[str, Any]:
    """``params`` with the data-given values and inherited defaults filled in, conflicts refused."""
    what, prefix = _what(kind, name), ".".join(_prefix(key))
    problems = declaration_problems(cls, what)
    if problems:
        raise error(problems[0], where=where, fix="declare in data_given only fields of its Config")
    declared = data_given(cls)
    out = dict(params or {})
    for field, value in (given or {}).items():
        if field not in declared:
            raise error(f"{what} does not declare the data-given parameter {field!r} this task sets "
                        f"(it declares {', '.join(map(repr, declared)) or 'none'})", where=where,
                        fix=f"give its Config a field {field!r} and list it in data_given")
        if field in out and out[field] != value:
            gives = "the data give" if given_by == "data" else f"the {given_by} gives"
            raise error(f"{prefix}.{field} is {out[field]!r} but {gives} {value!r}", where=where,
                        fix=f"remove {prefix}.{field} (it is set from the {given_by})"
                        + (" or fix the data" if given_by == "data" else ""))
        out[field] = value
    model = config_model(cls)
    fields = model.model_fields if model is not None else {}
    for field, value in (defaults or {}).items():
        if field in fields:
            out.setdefault(field, value)
    return out


def check(cls: Any, kind: str, name: str, params: Mapping[str, Any], *, key: str | None = None,
          without_data: bool = False) -> tuple[list[str], list[str], BaseModel | None]:
    """``(problems, hints, config)`` of ``params`` against ``cls``'s ``Config``.

    ``without_data`` (``sleepfm config validate``, before any data is read): required
    data-given fields may be absent, the data fill them when the component is built.
    """
    prefix = _prefix(key)
    model = config_model(cls)
    if model is None:
        accepted = keyword_parameters(cls)
        unknown = [p for p in params if p not in accepted]
        problems = [f"{'.'.join(prefix)}.{p}: unknown key" for p in unknown]
        hints = [f"did you mean {'.'.join(prefix)}.{close}?" for p in unknown if (close := close_key(p, accepted))]
        return problems, hints, None
    if not model.model_fields and params:
        return [f"{'.'.join(prefix)}: it takes none (got {', '.join(sorted(params))})"], [], None
    try:
        return [], [], model.model_validate(dict(params))
    except ValidationError as exc:
        declared = set(data_given(cls)) if without_data else set()
        kept = [problem for problem, err in zip(format_validation_error(exc, prefix), exc.errors(), strict=True)
                if not (err["type"] == "missing" and err["loc"][:1] and err["loc"][0] in declared)]
        return kept, did_you_mean(exc, model, prefix), None


def keyword_parameters(cls: Any) -> list[str]:
    """The keyword arguments a component without ``Config`` is built with."""
    try:
        signature = inspect.signature(cls)
    except (TypeError, ValueError):
        return []
    return [p.name for p in signature.parameters.values()
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self"]


def build(cls: Any, kind: str, name: str, params: Mapping[str, Any] | None = None, *,
          given: Mapping[str, Any] | None = None, defaults: Mapping[str, Any] | None = None,
          task: str | None = None, key: str | None = None, error: type[SleepfmError] = ConfigError,
          where: str | Path | None = None, given_by: str = "data") -> Any:
    """``cls`` (registered as ``kind``/``name``) built from ``params`` (see the module docstring)."""
    what = _what(kind, name)
    if task is not None and getattr(cls, "task", None) != task:
        raise error(f"{key or KINDS.get(kind, kind)} {name!r} is a {getattr(cls, 'task', None)} component, "
                    f"this workflow needs a {task} one", where=where or (f"{key}.name" if key else None),
                    fix=f"see `sleepfm plugins --kind {kind}`")
    filled = fill(cls, kind, name, params, given=given, defaults=defaults, key=key, error=error, where=where,
                  given_by=given_by)
    problems, hints, config = check(cls, kind, name, filled, key=key)
    if problems:
        raise error(f"invalid parameters for {what}: " + "; ".join(problems), where=where,
                    fix="; ".join(hints) or None)
    try:
        return cls(config) if config is not None else cls(**filled)
    except ValueError as exc:
        raise error(f"cannot build {what}: {exc}", where=where) from None
    except SleepfmError as exc:
        if isinstance(exc, error):
            raise
        # A part built inside this one (a model's tokenizer) failed: report it as this build's error.
        raise error(f"cannot build {what}: {exc.what}", where=where or exc.where, fix=exc.fix) from None
