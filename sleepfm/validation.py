"""pydantic validation errors as one-line ``dotted.path: message`` problems, and did-you-mean
hints for misspelt keys.

Used by the config loader (:mod:`sleepfm.config.base`), the component factory
(:mod:`sleepfm.factory`) and the checkpoint reader: every place that validates user-given
keys against a pydantic model words its problems the same way.
"""

from __future__ import annotations

import difflib
import types
from collections.abc import Iterable, Mapping
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError


def dotted(loc: Iterable[Any]) -> str:
    """``("trainer", "batch_size")`` → ``"trainer.batch_size"``; list indices as ``[i]``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _describe(err: Mapping[str, Any]) -> str:
    path = dotted(err.get("loc", ()))
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


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model an annotation holds (``Model``, ``Model | None``, ``list[Model]``), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) in (Union, types.UnionType, list, tuple, dict) or get_args(annotation):
        for arg in get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
    return None


def keys_at(model: type[BaseModel], loc: Iterable[Any]) -> list[str]:
    """The keys the section at ``loc`` of ``model`` accepts ([] when it is not a model section)."""
    current = model
    for part in loc:
        if isinstance(part, int):
            continue  # an index into a list of models: same model
        field = current.model_fields.get(str(part))
        if field is None:
            return []
        inner = _model_in(field.annotation)
        if inner is None:
            return []
        current = inner
    return list(current.model_fields)


def close_key(key: str, known: Iterable[str]) -> str | None:
    """The known key closest to a misspelt one (``batchsize`` → ``batch_size``), if any is close."""
    known = list(known)
    by_plain = {k.replace("_", "").replace("-", "").lower(): k for k in known}
    plain = key.replace("_", "").replace("-", "").lower()
    if plain in by_plain:
        return by_plain[plain]
    match = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    return match[0] if match else None


def did_you_mean(exc: ValidationError, model: type[BaseModel], prefix: tuple[Any, ...] = ()) -> list[str]:
    """``did you mean a.b.batch_size?`` for each unknown key of ``exc`` that is close to a known one."""
    hints = []
    for err in exc.errors():
        loc = tuple(err.get("loc", ()))
        if err.get("type") != "extra_forbidden" or not loc:
            continue
        guess = close_key(str(loc[-1]), keys_at(model, loc[:-1]))
        if guess is not None:
            hints.append(f"did you mean {dotted((*prefix, *loc[:-1], guess))}?")
    return hints
