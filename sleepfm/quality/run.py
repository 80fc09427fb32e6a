"""``sleepfm qc``: recordings or signal stores → per study a flag table, a summary and a heat map,
and ``qc_summary.csv`` over the cohort.

Per study ``<stem>``, in the output folder:

``<stem>.qc.csv``
    one row per checked channel × 30-s epoch with a 0/1 column per check (:func:`epoch_table`);
``<stem>.qc.json``
    per channel its modality and the fraction of epochs each check flagged, per modality the
    fraction of epochs it is usable in, the verdict and its reasons in words;
``<stem>.qc.png``
    the channel × time heat map, with the scored hypnogram above when one is given.

``qc_summary.csv`` lists every study, ranked: usable first, then degraded, then unusable, and
within a verdict by the mean usable fraction of its modalities; failed inputs come last with
their error. EDF/BDF inputs are converted into a temporary store first (the checks then run in
the same pass as the conversion); a store's kept flags are reused when they were computed with
the same checks and thresholds by this version of sleepfm, else the store is read once.
"""

from __future__ import annotations

import shutil
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from sleepfm import registry
from sleepfm.clinical.night import align_scored
from sleepfm.config.base import atomic_write_text, resolved_config_name, save_resolved_config
from sleepfm.config.executor import shard_suffix
from sleepfm.config.quality import QcConfig
from sleepfm.errors import InputError, InputWarning, SleepfmError, UsageError
from sleepfm.execute import Task, execute, plan_workers, select_shard
from sleepfm.json_output import write_json
from sleepfm.labels import read_hypnogram
from sleepfm.quality.assess import CheckSet, assess_store
from sleepfm.quality.flags import QualityFlags
from sleepfm.quality.heatmap import render_heatmap
from sleepfm.quality.summary import VERDICTS, StudyQuality, epoch_table, judge
from sleepfm.read.discover import STORE_SUFFIXES, find_recordings, output_names
from sleepfm.report.hypnogram_plot import write_png
from sleepfm.store.signal_store import SignalStore

Notify = Callable[[str], None]
SUMMARY = "qc_summary.csv"


@dataclass
class QcResult:
    """One input's outcome."""

    source: Path
    stem: str
    quality: StudyQuality | None = None
    outputs: list[Path] | None = None
    error: str | None = None


def open_store(path: Path, config: QcConfig) -> SignalStore:
    """A signal store with modalities: stored ones, or the configured mapper's for published files."""
    store = SignalStore(path)
    if store.published or config.channel_map is not None:
        store.close()
        from sleepfm.preprocessing.convert import ConvertOptions

        mapper = ConvertOptions(channel_mapper=config.channel_mapper, channel_map=config.channel_map).mapper()
        store = SignalStore(path, mapper=mapper)
    return store


def discover(inputs: list[Path]) -> list[Path]:
    """Recordings and signal stores among ``inputs`` by the rule every command shares
    (:mod:`sleepfm.read.discover`: files, folders, patterns); annotation-only files are set
    aside with one warning."""
    found = find_recordings(inputs, also=STORE_SUFFIXES)
    if (note := found.set_aside_note()) is not None:
        warnings.warn(note, InputWarning, stacklevel=2)
    return found.recordings


def run_qc(config: QcConfig, notify: Notify | None = None, *, on_start: Callable[[int], None] | None = None,
           on_done: Callable[[QcResult], None] | None = None) -> list[QcResult]:
    """Check every input (module docstring); a failing input is reported, the others go on."""
    if not config.inputs:
        raise UsageError("no inputs", fix="sleepfm qc RECORDING_OR_STORE... --out DIR")
    if config.out is None:
        raise UsageError("no output folder", fix="pass --out DIR")
    sources = discover(list(config.inputs))
    # Same-stem inputs (x.edf and x.bdf, or two folders' night1.edf) get distinct names, as in
    # stage, risk and run (sleepfm.read.discover.output_names), decided before sharding.
    names = output_names(sources)
    scored = _hypnograms(config, sources)
    CheckSet.from_config(config.quality)  # unknown checks or bad thresholds: refused before any work
    out = Path(config.out).absolute()
    out.mkdir(parents=True, exist_ok=True)
    save_resolved_config(config, out, resolved_config_name(config.shard))
    chosen = select_shard(list(zip(sources, names, strict=True)), config.shard)
    if on_start is not None:
        on_start(len(chosen))
    processes, threads = plan_workers(config.workers, len(chosen), None)
    # Tasks may run on other machines, from another folder: every path they get is absolute.
    given = {"out": out, "channel_map": config.channel_map}
    settings = config.model_copy(update={k: Path(v).absolute() for k, v in given.items() if v is not None})
    tasks = [Task.call(str(source), check_study, Path(source).absolute(), name, settings, threads,
                       scored.get(source)) for source, name in chosen]
    by_key = {str(source): (source, name) for source, name in chosen}
    done: dict[str, QcResult] = {}
    for outcome in execute(tasks, config, workers=processes):
        source, name = by_key[outcome.task.key]
        result = QcResult(source, name)
        if outcome.ok:
            result.quality, result.outputs = outcome.value
        else:
            result.error = outcome.error
        done[name] = result
        if notify is not None:
            notify(_line(result))
        if on_done is not None:
            on_done(result)
    results = [done[name] for _, name in chosen]
    write_summary(out / summary_name(config.shard), results)
    return results


def summary_name(shard: str | None = None) -> str:
    """``qc_summary.csv``; a shard's own (``qc_summary.shard-I-of-N.csv``) in a job array."""
    return SUMMARY.replace(".csv", f"{shard_suffix(shard)}.csv")


def check_study(source: Path, name: str, config: QcConfig, threads: int, scored: Any
                ) -> tuple[StudyQuality, list[Path]]:
    """One study's checks and files (a task: it may run in a worker process or on a dask worker)."""
    checks = CheckSet.from_config(config.quality)
    work = Path(tempfile.mkdtemp(prefix=".sleepfm-work-", dir=config.out))
    try:
        return _one(source, name, config, checks, work, threads, scored)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _line(result: QcResult) -> str:
    if result.quality is None:
        return f"error: {result.error}"
    quality = result.quality
    if not quality.reasons:
        return f"{result.stem}: {quality.verdict}"
    more = f" (+{len(quality.reasons) - 1} more)" if len(quality.reasons) > 1 else ""
    return f"{result.stem}: {quality.verdict}: {quality.reasons[0]}{more}"


def _hypnograms(config: QcConfig, sources: list[Path]) -> dict[Path, Any]:
    if not config.hypnograms:
        return {}

    if len(config.hypnograms) != len(sources):
        raise UsageError(f"{len(config.hypnograms)} --hypnogram for {len(sources)} inputs",
                         fix="give one --hypnogram per input, in the same order")
    return {source: read_hypnogram(path, fmt=config.hypnogram_format)
            for source, path in zip(sources, config.hypnograms, strict=True)}


def _one(source: Path, name: str, config: QcConfig, checks: CheckSet, work: Path, threads: int,
         scored: Any) -> tuple[StudyQuality, list[Path]]:
    store_path = source if source.suffix.lower() in STORE_SUFFIXES else _convert(source, name, config, work, threads)
    try:
        with open_store(store_path, config) as store:
            # Flags kept by preprocess with these very checks and thresholds are reused: the same
            # computation on the same stored samples. Any other store is checked now, in one read.
            flags = store.quality_flags() if config.channel_map is None else None
            wanted = [c.name for c in store.channels if checks.wants(c)]
            if flags is None or not flags.made_with(checks.config) or set(wanted) != set(flags.channels):
                flags = assess_store(store, checks)
            channels, start, duration = list(store.channels), store.start_time, store.duration
    finally:
        if store_path != source:
            store_path.unlink(missing_ok=True)
    return write_study(Path(config.out or "."), source, flags, channels, config, start, duration, scored, name)


def _convert(source: Path, name: str, config: QcConfig, work: Path, threads: int) -> Path:
    from sleepfm.preprocessing.convert import ConvertOptions, convert_file

    target = work / f"{name}.h5"
    options = ConvertOptions(threads=threads, reader=config.reader, channel_mapper=config.channel_mapper,
                             channel_map=config.channel_map, quality=config.quality)
    result = convert_file(source, target, options)
    if result.status != "done":
        raise InputError(result.error.removeprefix(f"{source}: "), where=source)
    return target


def write_study(out: Path, source: Path, flags: QualityFlags, channels: list, config: QcConfig, start: str,
                duration: float, scored: Any = None, stem: str | None = None) -> tuple[StudyQuality, list[Path]]:
    """Judge one study and write its three files, named ``stem`` (default: the source's)."""

    quality = judge(flags, channels, config.quality)
    stem = stem or source.stem
    table = epoch_table(flags, channels, start)
    written = [out / f"{stem}.qc.csv", out / f"{stem}.qc.json"]
    atomic_write_text(written[0], table.to_csv(index=False))
    meanings = {name: _meaning(name) for name in flags.checks}
    document = {"file": str(source), "duration_s": round(duration, 3), "start_time": start or None,
                **quality.as_dict(), "checks": meanings, "config": config.quality.model_dump(mode="json")}
    write_json(written[1], document, ensure_ascii=False)
    if config.plot:

        start_time = _parse_time(start)
        aligned = None
        if scored is not None:

            aligned = align_scored(scored, start_time, duration)
        png = render_heatmap(flags, channels, quality, title=source.name, start_time=start_time, scored=aligned)
        written.append(write_png(png, out / f"{stem}.qc.png"))
    return quality, written


def _meaning(check: str) -> str:
    """What a flag of ``check`` means (its ``meaning``, else its registered description)."""

    try:
        entry = registry.entry("quality_checks", check)
    except SleepfmError:
        return ""
    return getattr(entry.load(), "meaning", "") or entry.description


def _parse_time(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text) if text else None
    except ValueError:
        return None


def write_summary(path: Path, results: list[QcResult]) -> Path:
    """``qc_summary.csv``: studies ranked by verdict (module docstring)."""
    rows = []
    for result in results:
        row: dict[str, Any] = {"study": result.stem, "file": str(result.source)}
        if result.quality is not None:
            quality = result.quality
            row.update({"verdict": quality.verdict, "usable_fraction": round(quality.usable_fraction, 4),
                        **{f"{m}_usable": v["usable_fraction"] if v["channels"] else None
                           for m, v in quality.modalities.items()},
                        "reasons": "; ".join(quality.reasons), "error": ""})
        else:
            row.update({"verdict": "failed", "usable_fraction": None, "reasons": "", "error": result.error})
        rows.append(row)
    order = {v: i for i, v in enumerate((*VERDICTS, "failed"))}
    frame = pd.DataFrame(rows)
    if not frame.empty:
        frame["_order"] = frame["verdict"].map(order)
        frame = frame.sort_values(["_order", "usable_fraction", "study"], ascending=[True, False, True],
                                  na_position="last").drop(columns="_order")
        frame.insert(0, "rank", range(1, len(frame) + 1))
    atomic_write_text(path, frame.to_csv(index=False))
    return path
