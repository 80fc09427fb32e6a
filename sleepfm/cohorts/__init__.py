"""Cohort adapters: how a study collection names its recordings, hypnograms and tables.

Built in: ``cohort-edf`` (:mod:`sleepfm.cohorts.edf_folder`), a folder of EDF/BDF files with
hypnograms found by a naming rule. Cohort packages (``sleepfm-cohort-shhs``,
``sleepfm-cohort-sleepedf`` in ``plugins_contrib/``) register more; ``sleepfm run --plugin
NAME`` uses them. :func:`load_cohort` builds one by name with its parameters.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from sleepfm.config.base import format_validation_error
from sleepfm.errors import ConfigError, UnknownComponentError, UsageError
from sleepfm.interfaces.cohort import Cohort, Study


def available_cohorts() -> list[str]:
    """Names of the registered cohort adapters, sorted."""
    from sleepfm import registry

    return registry.names("cohorts")


def cohort_class(name: str) -> type[Cohort]:
    """The adapter class registered as ``name``; an unknown name fails with one line naming the others."""
    from sleepfm import registry

    try:
        return registry.get("cohorts", name)
    except UnknownComponentError:
        available = ", ".join(available_cohorts()) or "none"
        raise UsageError(
            f"unknown cohort {name!r}; available cohorts: {available}",
            fix="install its package (e.g. pip install sleepfm-cohort-shhs) or pick one of those",
        ) from None


def load_cohort(name: str, params: Mapping[str, Any] | None = None) -> Cohort:
    """Build the cohort adapter ``name`` from its parameters, validated against its ``Config``."""
    cls = cohort_class(name)
    params = dict(params or {})
    try:
        config = cls.Config.model_validate(params)
    except ValidationError as exc:
        if not cls.Config.model_fields:
            raise ConfigError(f"cohort {name!r} takes no parameters (got {', '.join(sorted(params))})",
                              where="cohort.params") from None
        problems = "; ".join(format_validation_error(exc, ("cohort", "params")))
        raise ConfigError(f"invalid parameters for cohort {name!r}: {problems}") from None
    return cls(config)


__all__ = ["Cohort", "Study", "available_cohorts", "cohort_class", "load_cohort"]
