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
    run-state.json                  the ingestion/embedding settings the stores were made with

Re-running the same command resumes: finished signal and embedding stores are reused
(:mod:`sleepfm.clinical.prepare`); staging, evaluation and the report are redone, which is
cheap. When the settings that made the stores changed since, a warning says so and the stores
are still reused unless ``overwrite`` is set. A study that fails is listed in the report with
its step and error, and the others go on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import BaseModel

from sleepfm.config.base import atomic_write_text, save_resolved_config
from sleepfm.config.run import RunConfig
from sleepfm.errors import InputError, SleepfmError, UsageError
from sleepfm.interfaces.cohort import Cohort, Study
from sleepfm.labels.hypnogram import Hypnogram
from sleepfm.labels.vocabulary import make_mapping

from .models import CheckpointSet, StagingRunner
from .prepare import Notify, PrepareSettings, Recording, prepare, recording_info
from .report import StudyRecord, build_report, write_report
from .risk import RiskModel
from .stage import StageOptions, stage_one

STATE_FILE = "run-state.json"


@dataclass
class RunOutcome:
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
    data, out, checkpoints = Path(config.data), Path(config.out), Path(config.checkpoints)  # type: ignore[arg-type]
    if out.exists() and not out.is_dir():
        raise UsageError("--out is a file", where=out, fix="give a folder (it is created if missing)")
    if out.resolve() == data.resolve():
        raise UsageError("--out is the data folder", where=out, fix="write the results to a folder of their own")
    return data, out, checkpoints


def _settings(config: RunConfig) -> PrepareSettings:
    p, e = config.preprocess, config.embed
    return PrepareSettings(reader=p.reader, channel_mapper=p.channel_mapper, channel_map=p.channel_map,
                           workers=p.workers, batch_size=e.batch_size, device=e.device, precision=e.precision,
                           partial_chunk=e.partial_chunk, overwrite=config.overwrite)


def _state(config: RunConfig, checkpoints: CheckpointSet) -> dict[str, Any]:
    return {"preprocess": config.preprocess.model_dump(mode="json"), "embed": config.embed.model_dump(mode="json"),
            "model_base": str(checkpoints.path("base").resolve())}


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
    atomic_write_text(path, json.dumps(state, indent=2) + "\n")


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
                self.model = RiskModel(checkpoints, config.risk.labels, config.embed.device)
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


def _study_record(study: Study) -> StudyRecord:
    return StudyRecord(study.id, study.participant, str(study.signal_path),
                       str(study.hypnogram_path) if study.hypnogram_path else None)


def _stage_study(study: Study, recording: Recording, record: StudyRecord, runner: StagingRunner, config: RunConfig,
                 checkpoints: CheckpointSet, cohort: Cohort, out: Path) -> None:
    from sleepfm.labels import read_hypnogram

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
    from sleepfm.quality.clinical import warnings_for

    record.notes.extend(warnings_for(study.id, record.quality))
    if scored is not None and record.agreement is not None:
        # The night's statistics of both hypnograms over the scored one's window, for the Bland-Altman table.
        from sleepfm.evaluate.agreement import night_figures
        from sleepfm.report.sleep_stats import aligned_stages

        from .night import align_scored

        aligned = align_scored(scored, night.hypnogram.start_time, night.duration)
        reference, predicted = aligned_stages(aligned, night.hypnogram)
        if (reference >= 0).any():
            record.night_figures = dict(zip(("scored", "predicted"), night_figures(reference, predicted),
                                            strict=True))


def _same_night(study: Study, scored: Hypnogram, start: datetime | None, record: StudyRecord,
                accept: bool) -> Hypnogram | None:
    """``scored``, unless it is dated on another night than the recording (sleepfm.cohorts.pairing)."""
    import warnings

    from sleepfm.cohorts.pairing import other_night
    from sleepfm.errors import InputWarning

    problem = other_night(start, scored.start_time)
    if problem is None:
        return scored
    verdict = "used as staging.accept_other_night asks" if accept else "not used"
    record.notes.append(f"scored hypnogram {verdict}: {problem}")
    warnings.warn(f"{study.id}: {study.hypnogram_path}: {problem}; {verdict}", InputWarning, stacklevel=2)
    return scored if accept else None


def _risk_study(study: Study, recording: Recording, record: StudyRecord, risk: _Risk, config: RunConfig,
                out: Path) -> pd.Series | None:
    """Write the study's risk table; returns its log-hazards by phecode (``None`` without age and sex)."""
    from .risk_table import risk_summary, write_risk

    assert risk.model is not None
    person = risk.participant(study)
    if person is None:
        record.notes.append("no age and sex in the demographics: no risk table")
        return None
    table, provenance = risk.model.table(recording, *person, config.risk.encoding)
    csv_path, json_path = write_risk(out / "studies" / study.id, study.id, table, provenance)
    record.outputs["risk"], record.outputs["risk_details"] = str(csv_path.relative_to(out)), str(
        json_path.relative_to(out))
    record.risk_top = risk_summary(table, top=5)
    return table.set_index("phecode")["log_hazard"]


def _evaluate_risk(hazards: dict[str, pd.Series], cohort: Cohort, data: Path, risk: _Risk,
                   say: Notify) -> dict[str, Any] | None:
    """Harrell's C per outcome of the cohort's outcome tables that is a phecode of the head, over the
    studies with a risk table (``sleepfm.evaluate``; 200 bootstrap resamples for the 95 % CI)."""
    try:
        outcomes = cohort.outcomes(data) if hazards else None
    except SleepfmError as exc:
        say(f"warning: risk evaluation skipped: outcome tables unreadable: {exc}")
        return {"error": " ".join(str(exc).split())}
    if outcomes is None or risk.model is None:
        return None
    from sleepfm.evaluate.diagnosis import SurvivalLabels, evaluate_diagnosis

    is_event, times = outcomes
    known = set(risk.model.labels["phecode"])
    phecodes = [str(c) for c in is_event.columns if str(c) in known]
    studies = [s for s in hazards if s in is_event.index]
    if not phecodes or len(studies) < 2:
        say("risk evaluation skipped: it needs two studies with risk tables and outcomes named by phecodes")
        return None
    scores = pd.DataFrame({s: hazards[s] for s in studies}).T[phecodes]
    labels = SurvivalLabels(is_event.loc[studies, phecodes].astype(float), times.loc[studies, phecodes])
    evaluation = evaluate_diagnosis(scores, labels, samples=200, label_mapping=risk.model.labels)
    summary = evaluation.summary()
    return {key: summary[key] for key in ("n_studies", "n_outcomes", "n_evaluated", "mean_harrell_c",
                                          "bootstrap_samples", "confidence", "outcomes")}

def run_cohort(config: RunConfig, *, cohort: Cohort, notify: Notify | None = None) -> RunOutcome:
    """Run ``config`` with the adapter ``cohort`` (module docstring)."""
    say = notify or (lambda _: None)
    data, out, root = _check_paths(config)
    from sleepfm.labels.export import parse_formats

    parse_formats(config.staging.formats)  # an unknown format is refused before any work
    studies = cohort.discover(data)
    if not studies:
        raise InputError(f"no studies found by cohort {config.cohort.name!r}", where=data,
                         fix="check --plugin and the file naming the adapter expects (docs/run.md)")
    checkpoints = CheckpointSet(root, {"staging": config.staging_head, "diagnosis": config.diagnosis_head}
                                ).require("base", "staging")
    risk = _Risk(config, cohort, data, checkpoints)
    runner = StagingRunner(checkpoints.path("staging"), config.embed.device)
    out.mkdir(parents=True, exist_ok=True)
    adapter_config = getattr(cohort, "config", None)
    if isinstance(adapter_config, BaseModel):
        # The adapter's own defaults are part of what this run did: record them too.
        config.cohort.params = adapter_config.model_dump(mode="json")
    save_resolved_config(config, out)
    _check_state(out, _state(config, checkpoints), config.overwrite, say)
    say(f"{len(studies)} studies found by {config.cohort.name}, "
        f"{sum(s.hypnogram_path is not None for s in studies)} with a scored hypnogram")

    records = [_study_record(s) for s in studies]
    hazards: dict[str, pd.Series] = {}
    recordings = [Recording(s.id, s.signal_path) for s in studies]
    prepare(recordings, out, checkpoints.path("base"), _settings(config), say)
    for study, recording, record in zip(studies, recordings, records, strict=True):
        record.reused = list(recording.reused)
        if not recording.ok:
            record.fail(recording.failed_step or "prepare", recording.error or "failed")
            continue
        try:
            _stage_study(study, recording, record, runner, config, checkpoints, cohort, out)
        except Exception as exc:  # noqa: BLE001 - one study's failure is reported, the run goes on
            record.fail("stage", exc)
            continue
        if risk.model is not None:
            try:
                if (values := _risk_study(study, recording, record, risk, config, out)) is not None:
                    hazards[study.id] = values
            except Exception as exc:  # noqa: BLE001
                record.fail("risk", exc)
    say(f"stage: {sum(r.stage_counts is not None for r in records)} studies staged, "
        f"{sum(r.agreement is not None for r in records)} evaluated against their scored hypnogram")

    from sleepfm import __version__

    run = {"cohort": config.cohort.name, "data": str(data), "out": str(out), "checkpoints": str(root),
           "sleepfm_version": __version__, "created": datetime.now().isoformat(timespec="seconds"),
           "config": "config.resolved.yaml", "risk": risk.describe()}
    report = build_report(run, records, risk_evaluation=_evaluate_risk(hazards, cohort, data, risk, say))
    return RunOutcome(records, write_report(out, report, records, config.report.format))
