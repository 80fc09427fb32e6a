"""The Python faces of ``sleepfm run``, ``stage`` and ``risk`` (``sleepfm.run_cohort``,
``sleepfm.stage``, ``sleepfm.risk``): the same pipelines and files as the commands."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from sleepfm.clinical.night import epoch_frame
from sleepfm.clinical.prepare import PrepareSettings
from sleepfm.clinical.risk import risk_recordings
from sleepfm.clinical.run import run_cohort as run
from sleepfm.clinical.stage import stage_recordings
from sleepfm.cohorts import load_cohort
from sleepfm.config.demographics import check_age, check_sex
from sleepfm.config.run import resolve_run_config
from sleepfm.labels.hypnogram import Hypnogram, Stage

from .night import StagedNight
from .prepare import Notify


def run_cohort(plugin: str, data: str | Path, out: str | Path, checkpoints: str | Path, *,
               config: str | Path | None = None, overrides: Iterable[str] = (),
               notify: Notify | None = None) -> dict[str, Any]:
    """Run a cohort as ``sleepfm run`` does and return the report (the contents of ``report.json``).

    >>> report = sleepfm.run_cohort("cohort-shhs", "shhs/", "run/", "checkpoints/")  # doctest: +SKIP
    >>> report["overall"]["pooled"]["kappa"]                                        # doctest: +SKIP
    """

    cli = {"cohort": {"name": plugin}, "data": str(data), "out": str(out), "checkpoints": str(checkpoints)}
    resolved = resolve_run_config(Path(config) if config else None, cli=cli, overrides=list(overrides),
                                  cohort_defaults=lambda spec: load_cohort(spec.name, spec.params).default_config())
    outcome = run(resolved, cohort=load_cohort(resolved.cohort.name, resolved.cohort.params), notify=notify)
    if not outcome.report:  # a shard: the report comes from sleepfm run --merge
        return {"shard": resolved.shard, "studies": [asdict(record) for record in outcome.records]}
    return json.loads(outcome.report[0].read_text(encoding="utf-8"))


@dataclass(frozen=True)
class _Outcome:
    """A recording the API worked on: ``files`` written into the ``out`` folder the caller gave
    (none without one), or why it failed. The intermediate signal and embedding stores live in
    ``work=`` when given, else in a temporary folder removed before the call returns."""

    key: str
    source: Path
    files: list[Path] = field(default_factory=list)
    failed_step: str | None = None
    error: str | None = None
    #: What the command line would have shown as warnings (signal quality, data unlike the model's).
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class StagedRecording(_Outcome):
    """What :func:`stage` returns per recording: the staged night, or why it failed."""

    night: StagedNight | None = None
    statistics: dict[str, Any] | None = None

    @property
    def hypnogram(self) -> Hypnogram | None:
        """The predicted 30-s hypnogram."""
        return self.night.hypnogram if self.night is not None else None

    @property
    def stages(self) -> list[str]:
        """The predicted stage of each 30-s epoch (W, N1, N2, N3, REM)."""
        return [] if self.night is None else [Stage(int(c)).name for c in self.night.hypnogram.stages]

    @property
    def probabilities(self) -> pd.DataFrame | None:
        """One row per 30-s epoch: onset, duration, clock time, stage and ``p_W`` … ``p_REM``."""

        return None if self.night is None else epoch_frame(self.night.hypnogram, self.night.probabilities_30s)


@dataclass(frozen=True)
class RiskRecording(_Outcome):
    """What :func:`risk` returns per recording: its risk table, or why it failed."""

    table: pd.DataFrame | None = None
    provenance: dict[str, Any] | None = None

    @property
    def hazards(self) -> pd.Series | None:
        """Log-hazard by phecode (relative CoxPH scores, not probabilities)."""
        return None if self.table is None else self.table.set_index("phecode")["log_hazard"]


def _with_workers(options: dict[str, Any], workers: int | None) -> dict[str, Any]:
    if workers is None:
        return options
    from dataclasses import replace


    return {**options, "settings": replace(options.get("settings") or PrepareSettings(), workers=workers)}


def stage(recordings: Sequence[str | Path] | str | Path, checkpoints: str | Path, out: str | Path | None = None, *,
          workers: int | None = None, **options: Any) -> list[StagedRecording]:
    """Stage recordings as ``sleepfm stage`` does and return each night; with ``out`` its files are
    written there too. Keyword options as :func:`sleepfm.clinical.stage.stage_recordings`
    (``hypnograms=[...]``, ``staging_head=``, ``work=``, ``execution=``, ...); ``workers``
    recordings are preprocessed at once in worker processes (safe from an unguarded script).

    >>> (night,) = sleepfm.stage("night1.edf", "checkpoints/")       # doctest: +SKIP
    >>> night.statistics["predicted"]["total_sleep_time"], night.stages[:3]  # doctest: +SKIP
    """

    items = [recordings] if isinstance(recordings, str | Path) else list(recordings)
    done = stage_recordings([Path(p) for p in items], Path(checkpoints), Path(out) if out is not None else None,
                            **_with_workers(options, workers))
    return [StagedRecording(r.key, r.source, r.result.files, warnings=r.result.warnings, night=r.result.night,
                            statistics=r.result.statistics)
            if r.ok else StagedRecording(r.key, r.source, failed_step=r.failed_step, error=r.error) for r in done]


def risk(recordings: Sequence[str | Path] | str | Path, checkpoints: str | Path, out: str | Path | None = None, *,
         age: float, sex: str, workers: int | None = None, **options: Any) -> list[RiskRecording]:
    """Risk tables as ``sleepfm risk`` does, returned per recording; with ``out`` the files are
    written there too. Keyword options as :func:`sleepfm.clinical.risk.risk_recordings`."""

    items = [recordings] if isinstance(recordings, str | Path) else list(recordings)
    done = risk_recordings([Path(p) for p in items], Path(checkpoints), Path(out) if out is not None else None,
                           age=check_age(age, option="age"), sex=check_sex(sex, option="sex"),
                           **_with_workers(options, workers))
    return [RiskRecording(r.key, r.source, r.result.files, warnings=r.result.warnings, table=r.result.table,
                          provenance=r.result.provenance)
            if r.ok else RiskRecording(r.key, r.source, failed_step=r.failed_step, error=r.error) for r in done]
