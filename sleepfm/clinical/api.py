"""The Python faces of ``sleepfm run``, ``stage`` and ``risk`` (``sleepfm.run_cohort``,
``sleepfm.stage``, ``sleepfm.risk``): the same pipelines and files as the commands."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from sleepfm.cohorts import load_cohort
from sleepfm.config.demographics import check_age, check_sex
from sleepfm.config.run import resolve_run_config

from .prepare import Notify, Recording


def run_cohort(plugin: str, data: str | Path, out: str | Path, checkpoints: str | Path, *,
               config: str | Path | None = None, overrides: Iterable[str] = (),
               notify: Notify | None = None) -> dict[str, Any]:
    """Run a cohort as ``sleepfm run`` does and return the report (the contents of ``report.json``).

    >>> report = sleepfm.run_cohort("cohort-shhs", "shhs/", "run/", "checkpoints/")  # doctest: +SKIP
    >>> report["overall"]["pooled"]["kappa"]                                        # doctest: +SKIP
    """
    from .run import run_cohort as run

    cli = {"cohort": {"name": plugin}, "data": str(data), "out": str(out), "checkpoints": str(checkpoints)}
    resolved = resolve_run_config(Path(config) if config else None, cli=cli, overrides=list(overrides),
                                  cohort_defaults=lambda spec: load_cohort(spec.name, spec.params).default_config())
    outcome = run(resolved, cohort=load_cohort(resolved.cohort.name, resolved.cohort.params), notify=notify)
    return json.loads(outcome.report[0].read_text(encoding="utf-8"))


def stage(recordings: Sequence[str | Path] | str | Path, checkpoints: str | Path, out: str | Path,
          **options: Any) -> list[Recording]:
    """Stage recordings as ``sleepfm stage`` does; keyword options as
    :func:`sleepfm.clinical.stage.stage_recordings` (``hypnograms=[...]``, ``staging_head=``, ...)."""
    from .stage import stage_recordings

    items = [recordings] if isinstance(recordings, str | Path) else list(recordings)
    return stage_recordings([Path(p) for p in items], Path(checkpoints), Path(out), **options)


def risk(recordings: Sequence[str | Path] | str | Path, checkpoints: str | Path, out: str | Path, *, age: float,
         sex: str, **options: Any) -> list[Recording]:
    """Risk tables as ``sleepfm risk`` does; keyword options as :func:`sleepfm.clinical.risk.risk_recordings`."""
    from .risk import risk_recordings

    items = [recordings] if isinstance(recordings, str | Path) else list(recordings)
    return risk_recordings([Path(p) for p in items], Path(checkpoints), Path(out), age=check_age(age, option="age"),
                           sex=check_sex(sex, option="sex"), **options)
