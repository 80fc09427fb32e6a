"""Cohort adapters: how a study collection names its recordings, hypnograms and tables.

Built in: ``cohort-edf`` (:mod:`sleepfm.cohorts.edf_folder`), a folder of EDF/BDF files with
hypnograms found by a naming rule. Cohort packages (``sleepfm-cohort-shhs``,
``sleepfm-cohort-sleepedf`` in ``plugins_contrib/``) register more; ``sleepfm run --plugin
NAME`` uses them. :func:`load_cohort` builds one by name with its parameters.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sleepfm import registry
from sleepfm.config.run import CohortSpec
from sleepfm.interfaces.cohort import Cohort, Study


def available_cohorts() -> list[str]:
    """Names of the registered cohort adapters, sorted."""
    return registry.names("cohorts")


def cohort_class(name: str) -> type[Cohort]:
    """The adapter class registered as ``name``; an unknown name fails with one line naming the others."""
    return CohortSpec(name=name).component()


def load_cohort(name: str, params: Mapping[str, Any] | None = None) -> Cohort:
    """Build the cohort adapter ``name`` from its parameters, validated against its ``Config``."""
    cohort_class(name)  # an unknown name is refused naming the installed ones
    return registry.create("cohorts", name, params, key="cohort")


__all__ = ["Cohort", "Study", "available_cohorts", "cohort_class", "load_cohort"]
