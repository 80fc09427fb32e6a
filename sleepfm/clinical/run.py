"""``sleepfm run``: a cohort end to end — discover, preprocess, embed, stage, evaluate, risk, report.

Output folder::

    config.resolved.yaml            the configuration this run used
    report.json, report.md|.html    the cohort report (:mod:`sleepfm.clinical.report`)
    signals/<stem>.h5               128 Hz signal stores (+ preprocessing manifest)
    embeddings/<stem>.h5            embedding stores
    studies/<id>/<id>.hypnogram.csv, <id>.png, <id>.stats.json
                                    staging outputs (as ``sleepfm stage`` writes them)
    studies/<id>/<id>.risk.csv, <id>.risk.json
                                    risk outputs, for studies with age and sex
    records/<id>.json               each study's report entry and log-hazards (what --merge reads)
    run-studies.json                the studies this run (a shard: run-studies.shard-I-of-N.json) did
    run-state.json                  the ingestion/embedding settings the stores were made with

Studies go through :mod:`sleepfm.clinical.pipeline` under the configured executor (local:
preprocessing overlaps embedding; dask: one task per study). Re-running the same command
resumes: finished signal and embedding stores are reused; staging, evaluation and the report
are redone, which is cheap. When the settings that made the stores changed since, a warning
says so and the stores are still reused unless ``overwrite`` is set. A study that fails is
listed in the report with its step and error, and the others go on.

With ``shard="I/N"`` a run does its share of the studies and writes their outputs and
records, not the report; ``sleepfm run --merge DIR...`` then builds the cohort report from
the shards' records without recomputing anything (:mod:`sleepfm.clinical.run_records`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import BaseModel

from sleepfm.clinical.night import align_scored
from sleepfm.clinical.risk_table import risk_summary, write_risk
from sleepfm.cohorts.pairing import other_night
from sleepfm.config.base import resolved_config_name, save_resolved_config
from sleepfm.config.executor import select_shard
from sleepfm.config.run import RunConfig
from sleepfm.errors import InputError, InputWarning, SleepfmError, UsageError
from sleepfm.evaluate.agreement import night_figures
from sleepfm.interfaces.cohort import Cohort, Study
from sleepfm.json_output import write_json
from sleepfm.labels import read_hypnogram
from sleepfm.labels.export import parse_formats
from sleepfm.labels.hypnogram import Hypnogram
from sleepfm.labels.vocabulary import make_mapping
from sleepfm.quality.clinical import warnings_for
from sleepfm.report.sleep_stats import aligned_stages

from .models import CheckpointSet, StagingRunner, staging_runner
from .pipeline import OnDone, Pipeline, run_pipeline
from .prepare import Notify, PrepareSettings, Recording, recording_info, summary
from .report import StudyRecord
from .risk import RiskModel, risk_model
from .run_records import finish_report, finished_records, settings_fingerprint, write_listing, write_record
from .stage import StageOptions, stage_one

STATE_FILE = "run-state.json"


@dataclass
class RunOutcome:
    """The studies' records and the report files (none for a shard: its records are merged later)."""

    records: list[StudyRecord]
    report: list[Path]

    @property
    def failed(self) -> list[StudyRecord]:
        return [r for r in self.records if r.status != "ok"]


def _check_paths(config: RunConfig) -> tuple[Path, Path, Path]:
    missing = [name for name in ("data", "out", "checkpoints") if getattr(config, name) is None]
    if missing:
        raise UsageError(f"no {', '.join('--' + m for m in missing)} given",
                         fix="sleepfm run --plugin COHORT --data DIR --out DIR --checkpoints DIR")
    data, out, checkpoints = (Path(p).absolute() for p in (config.data, config.out, config.checkpoints))  # type: ignore[arg-type]
    if out.exists() and not out.is_dir():
        raise UsageError("--out is a file", where=out, fix="give a folder (it is created if missing)")
    if out.resolve() == data.resolve():
        raise UsageError("--out is the data folder", where=out, fix="write the results to a folder of their own")
    return data, out, checkpoints


def _settings(config: RunConfig) -> PrepareSettings:
    p, e = config.preprocess, config.embed
    return PrepareSettings(reader=p.reader, channel_mapper=p.channel_mapper, channel_map=p.channel_map,
                           workers=p.workers, batch_size=e.batch_size, device=e.device, precision=e.precision,
                           partial_chunk=e.partial_chunk, overwrite=config.overwrite, scale=p.scale,
                           scale_clip=p.scale_clip, quality=config.quality)


def _state(config: RunConfig, checkpoints: CheckpointSet) -> dict[str, Any]:
    return {"preprocess": config.preprocess.model_dump(mode="json"), "embed": config.embed.model_dump(mode="json"),
            "quality": config.quality.model_dump(mode="json"), "model_base": str(checkpoints.path("base").resolve())}


def _check_state(out: Path, state: dict[str, Any], overwrite: bool, say: Notify) -> None:
    path = out / STATE_FILE
    previous = None
    if path.is_file():
        try:
            previous = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            previous = None
    if previous is not None and previous != state and not overwrite:
        changed = sorted(k for k in state if previous.get(k) != state[k])
        say(f"warning: {', '.join(changed)} changed since the stores in {out} were made; finished studies are "
            "reused as they are — add --set overwrite=true to redo them")
        return
    write_json(path, state)


class _Risk:
    """Whether and how this run computes risk tables (``risk.enabled``)."""

    def __init__(self, config: RunConfig, cohort: Cohort, data: Path, checkpoints: CheckpointSet) -> None:
        self.model: RiskModel | None = None
        self.demographics: pd.DataFrame | None = None
        self.reason = ""
        mode = config.risk.enabled
        if mode == "off":
            self.reason = "risk.enabled is off"
            return
        problems = []
        try:
            demographics = cohort.demographics(data)
        except SleepfmError as exc:
            demographics = None
            problems.append(f"demographics unreadable: {exc}")
        if demographics is None and not problems:
            problems.append(f"cohort {config.cohort.name!r} found no demographics (age, sex)")
        if not checkpoints.has("diagnosis"):
            problems.append("the checkpoints folder has no model_diagnosis/")
        if not problems:
            try:
                self.model = risk_model(checkpoints, config.risk.labels, config.embed.device)
            except SleepfmError as exc:
                problems.append(str(exc))
        if problems:
            if mode == "on":
                raise InputError("risk.enabled is on, but " + "; ".join(problems))
            self.model, self.reason = None, "; ".join(problems)
            return
        self.demographics = demographics.set_index("Study ID") if demographics is not None else None

    def describe(self) -> dict[str, Any]:
        return {"computed": self.model is not None, "reason": self.reason or None,
                "labels": str(self.model.labels_path) if self.model is not None else None}

    def participant(self, study: Study) -> tuple[float, str] | None:
        if self.demographics is None or study.id not in self.demographics.index:
            return None
        row = self.demographics.loc[study.id]
        if pd.isna(row["age"]) or row["sex"] not in ("M", "F"):
            return None
        return float(row["age"]), str(row["sex"])


def _stage_study(study: Study, recording: Recording, record: StudyRecord, runner: StagingRunner, config: RunConfig,
                 checkpoints: CheckpointSet, out: Path) -> None:
    info = recording_info(recording)
    record.duration_s, record.start_time = info.duration, info.start_time.isoformat() if info.start_time else None
    record.modalities, record.modalities_missing = info.modalities, info.missing
    scored = None
    if study.hypnogram_path is not None:
        reader = study.label_reader or "auto"
        mapping = make_mapping(unscored=config.staging.unscored, movement=config.staging.movement)
        try:
            scored = read_hypnogram(study.hypnogram_path, fmt=reader, mapping=mapping)
        except SleepfmError as exc:
            record.notes.append(f"scored hypnogram not used: {' '.join(str(exc).split())}")
        else:
            scored = _same_night(study, scored, info.start_time, record, config.staging.accept_other_night)
        if scored is not None:
            counts = scored.events["event"].value_counts()
            record.scored_events = {str(name): int(n) for name, n in sorted(counts.items())}
    options = StageOptions(detail_5s=config.staging.detail_5s, plot=config.staging.plots,
                           formats=tuple(config.staging.formats))
    night, outputs = stage_one(recording, runner, scored, options, checkpoints, title=study.id)
    record.notes.extend(outputs.notes)
    folder = out / "studies" / study.id
    for kind, path in outputs.write(folder, study.id).items():
        record.outputs[kind] = str(path.relative_to(out))
    counts = night.hypnogram.counts()
    record.stage_counts = {name: counts[name] for name in ("W", "N1", "N2", "N3", "REM")}
    predicted = outputs.stats["predicted"]
    record.stage_minutes = {k: v for k, v in predicted["stage_minutes"].items() if k != "UNS"}
    record.statistics = {k: v for k, v in predicted.items() if k not in ("stage_minutes",)}
    record.agreement = outputs.stats["agreement"]
    record.quality = outputs.stats["quality"]

    record.notes.extend(warnings_for(study.id, record.quality))
    if scored is not None and record.agreement is not None:
        # The night's statistics of both hypnograms over the scored one's window, for the Bland-Altman table.


        aligned = align_scored(scored, night.hypnogram.start_time, night.duration)
        reference, predicted = aligned_stages(aligned, night.hypnogram)
        if (reference >= 0).any():
            record.night_figures = dict(zip(("scored", "predicted"), night_figures(reference, predicted),
                                            strict=True))


def _same_night(study: Study, scored: Hypnogram, start: datetime | None, record: StudyRecord,
                accept: bool) -> Hypnogram | None:
    """``scored``, unless it is dated on another night than the recording (sleepfm.cohorts.pairing)."""
    import warnings


    problem = other_night(start, scored.start_time)
    if problem is None:
        return scored
    verdict = "used as staging.accept_other_night asks" if accept else "not used"
    record.notes.append(f"scored hypnogram {verdict}: {problem}")
    warnings.warn(f"{study.id}: {study.hypnogram_path}: {problem}; {verdict}", InputWarning, stacklevel=2)
    return scored if accept else None


def _risk_study(study: Study, recording: Recording, record: StudyRecord, model: RiskModel,
                person: tuple[float, str] | None, config: RunConfig, out: Path) -> pd.Series | None:
    """Write the study's risk table; returns its log-hazards by phecode (``None`` without age and sex)."""

    if person is None:
        record.notes.append("no age and sex in the demographics: no risk table")
        return None
    table, provenance = model.table(recording, *person, config.risk.encoding)
    csv_path, json_path = write_risk(out / "studies" / study.id, study.id, table, provenance)
    record.outputs["risk"], record.outputs["risk_details"] = str(csv_path.relative_to(out)), str(
        json_path.relative_to(out))
    record.risk_top = risk_summary(table, top=5)
    return table.set_index("phecode")["log_hazard"]


def _record_of(study: Study, recording: Recording) -> tuple[StudyRecord, dict[str, float] | None]:
    """A finished (or failed) study's record and its log-hazards."""
    if recording.ok:
        result: RunStudyResult = recording.result
        record, hazards = result.record, result.log_hazards
    else:
        record, hazards = study_record(study), None
        record.fail(recording.failed_step or "prepare", recording.error or "failed")
    record.reused = list(recording.reused)
    return record, hazards


@dataclass(frozen=True)
class RunStudyResult:
    record: StudyRecord
    log_hazards: dict[str, float] | None = None


@dataclass(frozen=True)
class RunAnalysis:
    """``sleepfm run``'s own step on one prepared study: staging, evaluation against its scored
    hypnogram, risk (:class:`~sleepfm.clinical.pipeline.Analysis`; runs wherever the study does)."""

    config: RunConfig
    out: Path
    checkpoints: CheckpointSet
    risk: bool = False
    labels: Path | None = None  # the phecode table risk found (absolute: workers may run elsewhere)
    step: str = "stage"

    def __call__(self, recording: Recording) -> RunStudyResult:
        """``recording.context``: ``(study, (age, sex) or None)``."""
        study, person = recording.context
        record = study_record(study)
        runner = staging_runner(self.checkpoints.path("staging"), self.config.embed.device)
        _stage_study(study, recording, record, runner, self.config, self.checkpoints, self.out)
        hazards = None
        if self.risk:
            model = risk_model(self.checkpoints, self.labels, self.config.embed.device)
            try:
                values = _risk_study(study, recording, record, model, person, self.config, self.out)
            except Exception as exc:  # noqa: BLE001 - the staging stands; the risk step failed
                record.fail("risk", exc)
            else:
                hazards = None if values is None else {str(k): float(v) for k, v in values.items()}
        return RunStudyResult(record, hazards)


def study_record(study: Study) -> StudyRecord:
    return StudyRecord(study.id, study.participant, str(study.signal_path),
                       str(study.hypnogram_path) if study.hypnogram_path else None)


def run_cohort(config: RunConfig, *, cohort: Cohort, notify: Notify | None = None,
               on_start: Any = None, on_done: OnDone | None = None) -> RunOutcome:
    """Run ``config`` with the adapter ``cohort`` (module docstring). ``on_start(n)`` gets the
    number of studies to do, ``on_done`` each study as it finishes (for progress)."""
    say = notify or (lambda _: None)
    data, out, root = _check_paths(config)

    parse_formats(config.staging.formats)  # an unknown format is refused before any work
    studies = cohort.discover(data)
    if not studies:
        raise InputError(f"no studies found by cohort {config.cohort.name!r}", where=data,
                         fix="check --plugin and the file naming the adapter expects (docs/run.md)")
    replace = {role: Path(p).absolute() if p is not None else None
               for role, p in (("staging", config.staging_head), ("diagnosis", config.diagnosis_head))}
    checkpoints = CheckpointSet(root, replace).require("base", "staging")
    risk = _Risk(config, cohort, data, checkpoints)
    if not (config.executor == "dask" and config.embed.device == "cuda"):
        staging_runner(checkpoints.path("staging"), config.embed.device)  # loads, or fails before any work
    out.mkdir(parents=True, exist_ok=True)
    adapter_config = getattr(cohort, "config", None)
    if isinstance(adapter_config, BaseModel):
        # The adapter's own defaults are part of what this run did: record them too.
        config.cohort.params = adapter_config.model_dump(mode="json")
    save_resolved_config(config, out, resolved_config_name(config.shard))
    _check_state(out, _state(config, checkpoints), config.overwrite, say)
    mine = select_shard(studies, config.shard)
    shard = f"; shard {config.shard}: {len(mine)} of them" if config.shard else ""
    say(f"{len(studies)} studies found by {config.cohort.name}, "
        f"{sum(s.hypnogram_path is not None for s in studies)} with a scored hypnogram{shard}")

    labels = risk.model.labels_path.absolute() if risk.model is not None else None
    analysis = RunAnalysis(config, out, checkpoints, risk=risk.model is not None, labels=labels)
    # A record is written as soon as its study is finished; a rerun with the same settings keeps
    # the finished ones as they are, so a run killed part-way resumes where it stopped.
    settings = settings_fingerprint(config, [checkpoints.path(role) for role in ("base", "staging", "diagnosis")
                                             if checkpoints.has(role)])
    kept = {} if config.overwrite else finished_records(out, mine, settings)
    if kept:
        say(f"{len(kept)} of {len(mine)} studies finished by an earlier run with these settings: kept as they are")
    todo = [s for s in mine if s.id not in kept]
    if on_start is not None:
        on_start(len(todo))
    by_id = {s.id: s for s in todo}
    done = dict(kept)

    def finished(recording: Recording) -> None:
        done[recording.key] = _record_of(by_id[recording.key], recording)
        write_record(out, *done[recording.key], settings)
        if on_done is not None:
            on_done(recording)

    pipeline = Pipeline(out, checkpoints.path("base"), _settings(config), analysis)
    recordings = [Recording(s.id, s.signal_path, context=(s, risk.participant(s) if risk.model else None))
                  for s in todo]
    recordings = run_pipeline(recordings, pipeline, config, workers=config.preprocess.workers, on_done=finished)
    if recordings:
        for line in summary(recordings):
            say(line)
    records = [done[s.id][0] for s in mine]
    hazards = {s.id: done[s.id][1] for s in mine if done[s.id][1] is not None}
    say(f"stage: {sum(r.stage_counts is not None for r in records)} studies staged, "
        f"{sum(r.agreement is not None for r in records)} evaluated against their scored hypnogram")
    run = {"cohort": config.cohort.name, "data": str(data), "checkpoints": str(root),
           "config": resolved_config_name(config.shard), "risk": risk.describe()}
    write_listing(out, config.shard, [s.id for s in mine], run)
    if config.shard is not None:
        return RunOutcome(records, [])
    table = risk.model.labels if risk.model is not None else None
    return RunOutcome(records, finish_report(out, run, records, hazards, cohort, data, table, config.report.format,
                                             say))
