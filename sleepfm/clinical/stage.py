"""``sleepfm stage``: recordings → per recording a hypnogram table, a figure and sleep statistics.

For each ``<stem>.edf`` (or ``.bdf``) the output folder receives

``<stem>.hypnogram.csv``
    one row per 30-s epoch: ``onset`` (s from the recording start), ``duration``,
    ``clock_time``, ``stage`` (W, N1, N2, N3, REM) and the probability of each stage
    (``p_W`` … ``p_REM``: the mean of the epoch's six 5-s token probabilities);
``<stem>.hypnogram.edf``, ``<stem>-nsrr.xml``, ``<stem>_hypnogram.tsv``, ``<stem>.yasa.csv``, ...
    the same hypnogram in each further format asked for (``formats``, docs/hypnogram.md);
``<stem>.hypnogram-5s.csv``
    the same per 5-s token, with ``detail_5s``;
``<stem>.png``
    the hypnogram over clock time with the stage probabilities as bands, and the scored
    hypnogram beneath when one is given;
``<stem>.stats.json``
    the recording (file, start, duration, modalities), the sleep statistics of the predicted
    night (:mod:`sleepfm.report.sleep_stats`), and with a scored hypnogram its statistics and
    the agreement (accuracy, Cohen's kappa, macro-F1, per-stage F1, confusion matrix).

Bad input is refused before any work (one line); a recording that fails later is reported
and the others are still staged. Recordings go through :mod:`sleepfm.clinical.pipeline` (any
executor; ``shard`` takes this shard's share of the recordings).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sleepfm.config.executor import ExecutorOptions, select_shard
from sleepfm.errors import UsageError
from sleepfm.labels.hypnogram import Hypnogram, StageMapping

from .models import CheckpointSet, StagingRunner, staging_runner
from .night import DEFAULT_FORMATS, NightOutputs, StagedNight, render_night, stage_night
from .pipeline import Analysis, OnDone, Pipeline, run_pipeline
from .prepare import Notify, PrepareSettings, Recording, recording_info, summary


@dataclass(frozen=True)
class StageOptions:
    detail_5s: bool = False
    plot: bool = True
    #: Hypnogram writers (`sleepfm plugins --kind hypnogram_writers`) the night is written with.
    formats: tuple[str, ...] = DEFAULT_FORMATS


def check_recordings(paths: Sequence[Path], out: Path | None) -> list[Path]:
    """Inputs that exist, are files and have distinct stems (they name the outputs); ``out`` not a file."""
    from sleepfm.errors import InputError

    if not paths:
        raise UsageError("no recordings given", fix="name one or more EDF/BDF files")
    seen: dict[str, Path] = {}
    for path in paths:
        if not path.exists():
            raise InputError("file not found", where=path)
        if not path.is_file():
            raise InputError("not a file", where=path, fix="give EDF/BDF files (use `sleepfm run` for a folder)")
        if path.stem in seen:
            raise UsageError(f"{seen[path.stem]} and {path} would write the same outputs ({path.stem}.*)",
                             fix="stage them into different --out folders")
        seen[path.stem] = path
    if out is not None and out.exists() and not out.is_dir():
        raise UsageError("--out is a file", where=out, fix="give a folder (it is created if missing)")
    return list(paths)


def read_scored(paths: Sequence[Path], recordings: Sequence[Path], fmt: str,
                mapping: StageMapping) -> dict[str, Hypnogram]:
    """The scored hypnograms by recording stem, one per recording in order, read before any work is done."""
    from sleepfm.labels import read_hypnogram

    if not paths:
        return {}
    if len(paths) != len(recordings):
        raise UsageError(f"{len(paths)} --hypnogram for {len(recordings)} recordings",
                         fix="give one --hypnogram per recording, in the same order")
    return {recording.stem: read_hypnogram(path, fmt=fmt, mapping=mapping) for recording, path in zip(
        recordings, paths, strict=True)}


def each_recording(sources: Sequence[Path], work: Path | None, out: Path | None, models: CheckpointSet,
                   settings: PrepareSettings, notify: Notify | None, analysis: Analysis,
                   execution: ExecutorOptions | None = None, on_done: OnDone | None = None,
                   contexts: Mapping[str, Any] | None = None) -> list[Recording]:
    """Prepare ``sources`` in a work folder and run ``analysis`` on each one that is ready, with
    the executor ``execution`` (default: local); a recording's failure spares the others.
    ``contexts`` gives a recording (by stem) what its analysis needs about it alone."""
    say = notify or (lambda _: None)
    recordings = [Recording(source.stem, source, context=(contexts or {}).get(source.stem)) for source in sources]
    with WorkFolder(work, out) as folder:
        pipeline = Pipeline(folder, models.path("base"), settings, analysis)
        done = run_pipeline(recordings, pipeline, execution or ExecutorOptions(), workers=settings.workers,
                            on_done=on_done)
    for line in summary(done):
        say(line)
    return done


class WorkFolder:
    """``work`` if given (kept, so a rerun reuses its stores), else a hidden temporary folder in
    ``out`` (or in the system's temporary folder when there is no ``out``)."""

    def __init__(self, work: Path | None, out: Path | None) -> None:
        self.keep = work is not None
        if work is None:
            if out is not None:
                out.mkdir(parents=True, exist_ok=True)
            work = Path(tempfile.mkdtemp(prefix=".sleepfm-work-", dir=out))
        self.path = work.absolute()

    def __enter__(self) -> Path:
        return self.path

    def __exit__(self, *exc: object) -> None:
        if not self.keep:
            shutil.rmtree(self.path, ignore_errors=True)


@dataclass(frozen=True)
class StageResult:
    """A staged recording: its night, statistics (the stats JSON) and the files written."""

    night: StagedNight
    statistics: dict[str, Any]
    files: list[Path] = field(default_factory=list)


@dataclass(frozen=True)
class StageAnalysis:
    """``sleepfm stage``'s own step (:class:`~sleepfm.clinical.pipeline.Analysis`); with ``out``
    ``None`` nothing is written."""

    models: CheckpointSet
    device: str
    options: StageOptions
    out: Path | None
    step: str = "stage"

    def __call__(self, recording: Recording) -> StageResult:
        """``recording.context``: its scored hypnogram, if any."""
        runner = staging_runner(self.models.path("staging"), self.device)
        night, outputs = stage_one(recording, runner, recording.context, self.options, self.models)
        files = list(outputs.write(self.out, recording.key).values()) if self.out is not None else []
        return StageResult(night, outputs.stats, files)


def stage_recordings(paths: Sequence[Path], checkpoints: Path, out: Path | None, *, hypnograms: Sequence[Path] = (),
                     hypnogram_format: str = "auto", mapping: StageMapping | None = None,
                     options: StageOptions | None = None, settings: PrepareSettings | None = None,
                     work: Path | None = None, staging_head: Path | None = None,
                     execution: ExecutorOptions | None = None, notify: Notify | None = None,
                     on_done: OnDone | None = None) -> list[Recording]:
    """Stage each recording (module docstring); returns them with their errors, if any, and
    each one's :class:`StageResult` as ``recording.result``. ``staging_head`` replaces
    ``<checkpoints>/model_sleep_staging``; ``out=None`` writes nothing."""
    options, settings = options or StageOptions(), settings or PrepareSettings()
    execution = execution or ExecutorOptions()
    out = Path(out).absolute() if out is not None else None
    sources = check_recordings([Path(p) for p in paths], out)
    scored = read_scored([Path(h) for h in hypnograms], sources, hypnogram_format, mapping or StageMapping())
    head = Path(staging_head).absolute() if staging_head is not None else None
    models = CheckpointSet(Path(checkpoints).absolute(), {"staging": head}).require("base", "staging")
    if not (execution.executor == "dask" and settings.device == "cuda"):
        staging_runner(models.path("staging"), settings.device)  # a head that does not load fails before any work
    analysis = StageAnalysis(models, settings.device, options, out)
    return each_recording(select_shard(sources, execution.shard), work, out, models, settings, notify, analysis,
                          execution, on_done, contexts=scored)


def stage_one(recording: Recording, runner: StagingRunner, scored: Hypnogram | None, options: StageOptions,
              models: CheckpointSet, title: str | None = None) -> tuple[StagedNight, NightOutputs]:
    """Stage one prepared recording and render its outputs (nothing is written here)."""
    assert recording.embeddings is not None
    info = recording_info(recording)
    night = stage_night(runner.probabilities(recording.embeddings), duration=info.duration,
                        start_time=info.start_time)
    about = {
        "recording": {"file": str(recording.source),
                      "start_time": info.start_time.isoformat() if info.start_time else None,
                      "duration_s": info.duration,
                      "epochs": night.hypnogram.n_epochs, "modalities": info.modalities,
                      "modalities_missing": info.missing},
        "scored_hypnogram": str(scored.source) if scored is not None and scored.source else None,
        "model": {"base": str(models.path("base")), "staging": str(models.path("staging")),
                  "epoch_rule": "30-s stage = highest mean of the epoch's six 5-s token probabilities"},
    }
    return night, render_night(night, scored=scored, title=title or recording.source.name,
                               detail_5s=options.detail_5s, plot=options.plot, about=about, formats=options.formats)
