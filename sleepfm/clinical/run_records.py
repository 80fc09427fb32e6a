"""What a ``sleepfm run`` (or each of its shards) leaves for the cohort report, and the report built
from it — at the end of an unsharded run, or by ``sleepfm run --merge DIR...`` from the folders
of a job array's shards, without recomputing anything.

``records/<id>.json``
    the study's report entry (:class:`~sleepfm.clinical.report.StudyRecord`) and its log-hazard
    per phecode (for the risk evaluation), written as soon as the study is done;
``run-studies.json`` (a shard: ``run-studies.shard-I-of-N.json``)
    the studies the run did, in order, and what the report says about the run (cohort, data,
    checkpoints, risk).

Shards may share one output folder (their names never clash) or each have its own; the merge
checks that every shard of the array is there and names the ones that are not.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from sleepfm import __version__
from sleepfm.cohorts import load_cohort
from sleepfm.config.base import read_yaml, validate
from sleepfm.config.executor import parse_shard, shard_suffix
from sleepfm.config.run import RunConfig
from sleepfm.errors import InputError, SleepfmError, UsageError
from sleepfm.evaluate.diagnosis import SurvivalLabels, evaluate_diagnosis
from sleepfm.interfaces.cohort import Cohort, Study
from sleepfm.json_output import write_json
from sleepfm.labels.tables import read_label_mapping

from .prepare import Notify
from .report import StudyRecord, build_report, write_report

RECORDS = "records"
LISTING = "run-studies"


def write_record(out: Path, record: StudyRecord, log_hazards: dict[str, float] | None,
                 settings: str | None = None) -> Path:
    """Write a study's record as soon as it is finished; ``settings``: :func:`settings_fingerprint`."""
    path = out / RECORDS / f"{record.id}.json"
    write_json(path, {"record": asdict(record), "log_hazards": log_hazards, "settings": settings}, indent=None)
    return path


def settings_fingerprint(config: RunConfig, checkpoints: Sequence[Path]) -> str:
    """What a study's record depends on: the resolved config without the keys that only say where
    or how fast the work runs, and each checkpoint file (path, size, modification time), so that a
    head fine-tuned again into the same folder is not mistaken for the old one."""
    where = {"executor", "scheduler", "shard", "retries", "gpu_wait", "overwrite", "out", "report"}
    settings = {key: value for key, value in config.model_dump(mode="json").items() if key not in where}
    settings["preprocess"].pop("workers", None)
    files = [(str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns)
             for folder in checkpoints for p in sorted(Path(folder).iterdir()) if p.is_file()]
    text = json.dumps([settings, files], sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


def finished_records(out: Path, studies: Sequence[Study], settings: str
                     ) -> dict[str, tuple[StudyRecord, dict[str, float] | None]]:
    """The studies an earlier run with the same ``settings`` finished: their record says ok, names
    the same recording, and every output it lists is still there. A run killed part-way resumes
    with them and redoes only the others."""
    kept = {}
    for study in studies:
        path = out / RECORDS / f"{study.id}.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            record = StudyRecord(**data["record"])
        except (OSError, ValueError, KeyError, TypeError):
            continue  # none, or unreadable: the study is done again
        if (data.get("settings") != settings or record.status != "ok" or record.signal_file != str(study.signal_path)
                or not all((out / output).is_file() for output in record.outputs.values())):
            continue
        record.reused = ["preprocess", "embed", "stage"]
        kept[study.id] = (record, data["log_hazards"])
    return kept


def read_record(out: Path, study: str) -> tuple[StudyRecord, dict[str, float] | None]:
    path = out / RECORDS / f"{study}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return StudyRecord(**data["record"]), data["log_hazards"]
    except FileNotFoundError:
        raise InputError(f"no record of study {study!r}: its shard did not finish it", where=out,
                         fix="rerun that shard (finished studies are reused), then merge again") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"unreadable study record ({exc})", where=path, fix="rerun the shard that wrote it") from None


def write_listing(out: Path, shard: str | None, studies: list[str], run: dict[str, Any]) -> Path:
    path = out / f"{LISTING}{shard_suffix(shard)}.json"
    write_json(path, {"shard": shard, "studies": studies, "run": run}, indent=1)
    return path


def _evaluate_risk(hazards: dict[str, dict[str, float]], cohort: Cohort, data: Path, labels: pd.DataFrame | None,
                   say: Notify) -> dict[str, Any] | None:
    """Harrell's C per outcome of the cohort's outcome tables that is a phecode of the head, over the
    studies with a risk table (``sleepfm.evaluate``; 200 bootstrap resamples for the 95 % CI)."""
    try:
        outcomes = cohort.outcomes(data) if hazards else None
    except SleepfmError as exc:
        say(f"warning: risk evaluation skipped: outcome tables unreadable: {exc}")
        return {"error": " ".join(str(exc).split())}
    if outcomes is None or labels is None:
        return None

    is_event, times = outcomes
    known = set(labels["phecode"])
    phecodes = [str(c) for c in is_event.columns if str(c) in known]
    studies = [s for s in hazards if s in is_event.index]
    if not phecodes or len(studies) < 2:
        say("risk evaluation skipped: it needs two studies with risk tables and outcomes named by phecodes")
        return None
    scores = pd.DataFrame({s: pd.Series(hazards[s]) for s in studies}).T[phecodes]
    survival = SurvivalLabels(is_event.loc[studies, phecodes].astype(float), times.loc[studies, phecodes])
    evaluation = evaluate_diagnosis(scores, survival, samples=200, label_mapping=labels)
    summary = evaluation.summary()
    return {key: summary[key] for key in ("n_studies", "n_outcomes", "n_evaluated", "mean_harrell_c",
                                          "bootstrap_samples", "confidence", "outcomes")}


def finish_report(out: Path, run: dict[str, Any], records: list[StudyRecord], hazards: dict[str, dict[str, float]],
                  cohort: Cohort, data: Path, labels: pd.DataFrame | None, fmt: str, say: Notify) -> list[Path]:
    """Evaluate, build and write the cohort report into ``out``; returns its files."""

    about = {"cohort": run["cohort"], "data": run["data"], "out": str(out), "checkpoints": run["checkpoints"],
             "sleepfm_version": __version__, "created": datetime.now().isoformat(timespec="seconds"),
             "config": run["config"], "risk": run["risk"]}
    report = build_report(about, records, risk_evaluation=_evaluate_risk(hazards, cohort, data, labels, say))
    return write_report(out, report, records, fmt)


# ---------------------------------------------------------------------------- merge
def _listings(folders: list[Path]) -> list[tuple[Path, dict[str, Any]]]:
    found = []
    for folder in folders:
        if not folder.is_dir():
            raise UsageError("not a folder", where=folder, fix="give the --out folders of the run's shards")
        paths = sorted(folder.glob(f"{LISTING}*.json"))
        if not paths:
            raise InputError(f"no {LISTING}*.json: not the output folder of a sleepfm run", where=folder,
                             fix="give the --out folders of the run's shards")
        for path in paths:
            try:
                found.append((folder, json.loads(path.read_text(encoding="utf-8"))))
            except ValueError as exc:
                raise InputError(f"unreadable ({exc})", where=path, fix="rerun the shard that wrote it") from None
    return found


def _in_order(listings: list[tuple[Path, dict[str, Any]]]) -> list[tuple[Path, str]]:
    """Every study with its folder, in the order of the unsharded run (shards interleave)."""
    shards = {listing["shard"]: (folder, listing) for folder, listing in listings}
    if None in shards:
        folder, listing = shards[None]
        return [(folder, study) for study in listing["studies"]]
    totals = {parse_shard(shard)[1] for shard in shards}
    if len(totals) != 1:
        raise UsageError(f"the folders hold shards of different splits ({', '.join(sorted(shards))})",
                         fix="merge the shards of one job array")
    total = totals.pop()
    missing = [f"{i}/{total}" for i in range(total) if f"{i}/{total}" not in shards]
    if missing:
        raise InputError(f"shard {', '.join(missing)} of the run is missing", fix="run it (or give its folder), "
                         "then merge again")
    parts = [shards[f"{i}/{total}"] for i in range(total)]
    order = []
    for k in range(max(len(listing["studies"]) for _, listing in parts)):
        order += [(folder, listing["studies"][k]) for folder, listing in parts if k < len(listing["studies"])]
    return order


def _moved(record: StudyRecord, source: Path, out: Path) -> StudyRecord:
    """``record`` with its output paths relative to ``out`` instead of its shard's folder."""
    if source.resolve() != out.resolve():
        record.outputs = {kind: os.path.relpath(source / path, out) for kind, path in record.outputs.items()}
    return record


def merge_runs(folders: list[Path], out: Path | None = None, *, notify: Notify | None = None
               ) -> tuple[list[StudyRecord], list[Path]]:
    """The cohort report of the shards in ``folders``, written into ``out`` (default: the first
    folder); returns the records and the report files."""

    say = notify or (lambda _: None)
    folders = [Path(f).absolute() for f in folders]
    out = Path(out).absolute() if out is not None else folders[0]
    listings = _listings(folders)
    order = _in_order(listings)
    first, listing = listings[0]
    run = listing["run"]
    config = validate(RunConfig, read_yaml(first / run["config"]), where=str(first / run["config"]))
    assert isinstance(config, RunConfig)
    cohort = load_cohort(config.cohort.name, config.cohort.params)
    records, hazards = [], {}
    for folder, study in order:
        record, values = read_record(folder, study)
        records.append(_moved(record, folder, out))
        if values is not None:
            hazards[study] = values
    computed = run["risk"].get("computed")
    labels = read_label_mapping(Path(run["risk"]["labels"]), ordered=True) if computed else None
    say(f"merging {len(records)} studies from {len(listings)} shard{'s' * (len(listings) != 1)}")
    out.mkdir(parents=True, exist_ok=True)
    return records, finish_report(out, run, records, hazards, cohort, Path(run["data"]), labels, config.report.format,
                                  say)
