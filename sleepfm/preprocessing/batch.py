"""The preprocessing batch: find inputs, skip finished studies, run the rest, keep a manifest.

* **Resume.** ``DIR/<stem>.h5`` exists only once complete (written under a temporary name,
  then renamed), so an existing sleepfm store is skipped; ``--overwrite`` redoes it. A
  file of that name that is not a complete sleepfm store is redone, with a warning.
  Temporary files of killed runs on this host are deleted at start.
* **Failures.** A bad study becomes a failed manifest row and a line at the end; the rest
  of the batch runs on.
* **Parallelism.** ``workers`` is the number of CPU cores to use. Several studies run in
  worker processes (one study per process, :mod:`sleepfm.execute`); when there are fewer
  studies than workers the spare cores become threads inside each study, so one study with
  ``--workers 2`` runs in this process on two threads. ``executor="dask"`` submits one task
  per study to a dask.distributed cluster: a LocalCluster of ``workers`` processes, or the
  scheduler at ``scheduler`` (e.g. one started by dask-jobqueue on SLURM).
* **Shards.** ``shard="I/N"`` takes every N-th input from the I-th (0-based) of the sorted
  list, so the tasks of a job array split a cohort without talking to each other.
* **Interrupts and full disks.** Ctrl-C ends the workers within seconds; the manifest keeps
  the studies that finished and no temporary file is left. A study that does not fit on the
  disk fails alone with "no space left on device".
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import h5py

from sleepfm.config import RESOLVED_CONFIG_NAME
from sleepfm.config.base import dump_yaml
from sleepfm.config.preprocess import PreprocessConfig
from sleepfm.errors import InputError, UsageError
from sleepfm.execute import Task, execute, plan_workers, select_shard
from sleepfm.preprocessing.convert import ConvertOptions, StudyResult, convert_file
from sleepfm.preprocessing.manifest import Manifest, manifest_name
from sleepfm.read.discover import find_recordings, output_names
from sleepfm.store.compression import Compression
from sleepfm.store.signal_store import FORMAT, SignalStore
from sleepfm.store.signal_writer import remove_stale_temporaries, write_text_atomically

log = logging.getLogger(__name__)

Job = tuple[Path, Path]
OnResult = Callable[[StudyResult], None]


@dataclass
class BatchReport:
    """What a batch did: one result per input file of this shard, and where the manifest is."""

    out: Path
    manifest: Path
    results: list[StudyResult] = field(default_factory=list)

    @property
    def failures(self) -> list[StudyResult]:
        return [r for r in self.results if r.status == "failed"]

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)


# ---------------------------------------------------------------------------- inputs
def discover(inputs: list[Path]) -> tuple[list[Path], list[Path]]:
    """``(recordings, annotation-only files set aside)`` among files, folders and glob patterns
    (:func:`sleepfm.read.discover.find_recordings`: the rule every command shares)."""

    found = find_recordings(inputs)
    return found.recordings, found.annotations


def assign_outputs(files: list[Path], out: Path) -> list[Job]:
    """``(input, out/<name>.h5)`` pairs, one distinct output per input
    (:func:`sleepfm.read.discover.output_names`: ``x.h5``; ``x.edf.h5`` beside ``x.bdf.h5``;
    ``a__x.edf.h5`` for inputs that still clash). Decided over the whole input list, before
    sharding, so every shard of a job array agrees on them."""

    return [(source, out / f"{name}.h5") for source, name in zip(files, output_names(files), strict=True)]


def is_complete(path: Path) -> bool:
    """Whether ``path`` is a finished sleepfm signal store."""
    try:
        with h5py.File(path, "r") as handle:
            return handle.attrs.get("format") == FORMAT and "duration" in handle.attrs
    except OSError:
        return False


def skipped_result(source: Path, target: Path) -> StudyResult:
    with SignalStore(target) as store:
        modalities = [m.value for m, channels in store.by_modality().items() if channels]
        return StudyResult(str(source), str(target), "skipped", channels=len(store.channels),
                           modalities=modalities, duration=store.duration, warnings=list(store.notes))


# ---------------------------------------------------------------------------- executors
def _run(jobs: list[Job], config: PreprocessConfig, processes: int, threads: int) -> Iterator[StudyResult]:
    """Convert ``jobs`` with the configured executor (:mod:`sleepfm.execute`)."""
    if config.executor == "dask":
        processes, threads = config.workers, config.threads or 1
        # Tasks may run on other machines, from another folder: every path they get is absolute.
        jobs = [(source.absolute(), target.absolute()) for source, target in jobs]
        if config.channel_map is not None:
            config = config.model_copy(update={"channel_map": Path(config.channel_map).absolute()})
    options = convert_options(config, threads)
    tasks = [Task.call(str(source), convert_file, source, target, options) for source, target in jobs]
    targets = dict(jobs)
    for outcome in execute(tasks, config, workers=processes):
        if outcome.ok:
            yield outcome.value
        else:  # the task itself never raises; this is a worker that died or an executor failure
            source = Path(outcome.task.key)
            yield StudyResult(str(source), str(targets[source]), "failed", error=outcome.error or "")


# ---------------------------------------------------------------------------- batch
def convert_options(config: PreprocessConfig, threads: int) -> ConvertOptions:
    codec = config.compression
    return ConvertOptions(
        target_rate=config.target_rate,
        compression=Compression(codec, config.compression_level, config.shuffle),
        threads=threads,
        reader=config.reader,
        channel_mapper=config.channel_mapper,
        channel_map=config.channel_map,
        clip=config.scale_clip if config.scale == "robust" else None,
        quality=config.quality if config.quality.checks else None,
    )


def run_batch(config: PreprocessConfig, on_result: OnResult | None = None,
              on_start: Callable[[int], None] | None = None) -> BatchReport:
    """Run the batch ``config`` describes. ``on_start(n)`` gets the number of studies,
    ``on_result`` each result as it arrives (for progress display)."""

    if not config.inputs:
        raise UsageError("no input files or folders given", fix="sleepfm preprocess INPUT... --out DIR")
    if config.out is None:
        raise UsageError("no output folder given", fix="pass --out DIR")
    if config.channel_map is not None and not Path(config.channel_map).is_file():
        raise InputError("channel map not found", where=config.channel_map, fix="check the path given to --channel-map")
    recordings, annotation_files = discover(list(config.inputs))
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    for stale in remove_stale_temporaries(out):
        log.info("removed %s, left by a run that was killed", stale.name)

    selected = select_shard(assign_outputs(recordings, out), config.shard)
    if config.shard is not None and not config.shard.startswith("0/"):
        annotation_files = []  # listed once, by the first shard
    jobs, report = [], BatchReport(out, out / manifest_name(config.shard))
    manifest = Manifest(report.manifest)
    skipped = []
    for source, target in selected:
        if not config.overwrite and target.exists():
            if is_complete(target):
                try:
                    skipped.append(skipped_result(source, target))
                    continue
                except InputError as exc:
                    log.warning("%s; converting %s again", exc, source)
            else:
                log.warning("%s exists but is not a complete sleepfm store; converting %s again", target, source)
        jobs.append((source, target))
    # As save_resolved_config, through a temporary that a later run can tell is stale.
    write_text_atomically(out / RESOLVED_CONFIG_NAME, dump_yaml(config))
    if on_start is not None:
        on_start(len(selected) + len(annotation_files))

    def record(result: StudyResult) -> None:
        report.results.append(result)
        manifest.add([result])
        if on_result is not None:
            on_result(result)

    for result in skipped:
        record(result)
    for source in annotation_files:
        record(StudyResult(str(source), "", "ignored", warnings=[
            "holds only annotations (a hypnogram, not a recording): read it with sleepfm hypnogram"]))
    processes, threads = plan_workers(config.workers, len(jobs), config.threads)
    try:
        for result in _run(jobs, config, processes, threads):
            record(result)
    finally:
        manifest.write()
        # Workers ended by an interrupt unwind and remove their own; this catches the rest.
        remove_stale_temporaries(out)
    return report
