"""Names resolved on first use: ``"package.module:attribute"`` targets, and the PEP 562 module
attributes built on them (``sleepfm``'s Python API, ``sleepfm.plugin``), so that importing a
module that lists heavy things (torch models) does not import them."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def import_target(target: str) -> Any:
    """The object ``"package.module:attribute.path"`` names, importing its module."""
    module_name, _, path = target.partition(":")
    value: Any = importlib.import_module(module_name)
    for part in path.split("."):
        value = getattr(value, part)
    return value


def lazy_attributes(module: str, namespace: dict[str, Any], targets: Mapping[str, str]
                    ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``module``: each name of ``targets`` is imported on first
    access and kept in ``namespace`` (the module's ``globals()``)."""

    def __getattr__(name: str) -> Any:
        target = targets.get(name)
        if target is None:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        namespace[name] = value = import_target(target)
        return value

    def __dir__() -> list[str]:
        return sorted([*namespace, *targets])

    return __getattr__, __dir__
