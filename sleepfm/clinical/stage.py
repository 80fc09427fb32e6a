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

Bad arguments are refused before any work (one line); a recording whose scored hypnogram
cannot be read, or that fails later, is reported and the others are still staged.
Recordings go through :mod:`sleepfm.clinical.pipeline` (any executor; ``shard`` takes this
shard's share of the recordings).
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sleepfm.config.executor import ExecutorOptions, select_shard
from sleepfm.errors import SleepfmError
from sleepfm.labels.hypnogram import Hypnogram, Stage, StageMapping
from sleepfm.quality.clinical import epochs_without_signal, flag_text, recording_quality, warnings_for

from .inputs import recordings_and_names, scored_hypnograms
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


def each_recording(sources: Sequence[Path], work: Path | None, out: Path | None, models: CheckpointSet,
                   settings: PrepareSettings, notify: Notify | None, analysis: Analysis,
                   execution: ExecutorOptions | None = None, on_done: OnDone | None = None, *,
                   on_start: Callable[[int], None] | None = None, keys: Sequence[str] | None = None,
                   contexts: Mapping[Path, Any] | None = None,
                   refused: Mapping[Path, tuple[str, SleepfmError]] | None = None) -> list[Recording]:
    """Prepare ``sources`` in a work folder and run ``analysis`` on each one that is ready, with
    the executor ``execution`` (default: local); a recording's failure spares the others.

    ``keys`` name each recording's outputs (default: its stem); ``contexts`` give a recording (by
    source) what its analysis needs about it alone; ``refused`` recordings (source → failed step,
    error) fail at once and are not prepared. ``on_start`` gets the number of recordings, ``on_done``
    each one as it finishes; the warnings of each result (``result.warnings``) and a summary go to
    ``notify``."""
    say = notify or (lambda _: None)
    execution, refused, contexts = execution or ExecutorOptions(), refused or {}, contexts or {}
    names = list(keys) if keys is not None else [source.stem for source in sources]
    # Dask workers may run from another folder: their tasks get absolute paths.
    located = [Path(s).absolute() for s in sources] if execution.executor == "dask" else list(sources)
    recordings = [Recording(key, where, context=contexts.get(source))
                  for key, source, where in zip(names, sources, located, strict=True)]
    if on_start is not None:
        on_start(len(recordings))

    def finished(recording: Recording) -> None:
        for line in getattr(recording.result, "warnings", ()):
            say(f"warning: {line}")
        if on_done is not None:
            on_done(recording)

    for recording, source in zip(recordings, sources, strict=True):
        if source in refused:
            recording.fail(*refused[source])
            finished(recording)
    ready = [recording for recording in recordings if recording.ok]
    if ready:
        with WorkFolder(work, out) as folder:
            pipeline = Pipeline(folder, models.path("base"), settings, analysis)
            done = {r.key: r for r in run_pipeline(ready, pipeline, execution, workers=settings.workers,
                                                   on_done=finished)}
        recordings = [done.get(recording.key, recording) for recording in recordings]
    for line in summary(recordings):
        say(line)
    return recordings


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
    #: What a user should hear about this night (notes on its outputs, signal quality).
    warnings: list[str] = field(default_factory=list)


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
        warnings = [f"{recording.source.name}: {note}" for note in outputs.notes]
        warnings += warnings_for(recording.key, outputs.stats["quality"])
        return StageResult(night, outputs.stats, files, warnings)


def stage_recordings(paths: Sequence[Path], checkpoints: Path, out: Path | None, *, hypnograms: Sequence[Path] = (),
                     hypnogram_format: str = "auto", mapping: StageMapping | None = None,
                     options: StageOptions | None = None, settings: PrepareSettings | None = None,
                     work: Path | None = None, staging_head: Path | None = None,
                     execution: ExecutorOptions | None = None, notify: Notify | None = None,
                     on_start: Callable[[int], None] | None = None, on_done: OnDone | None = None,
                     pair: bool = True,
                     accept_other_night: bool = False) -> list[Recording]:
    """Stage each recording (module docstring); returns them with their errors, if any, and
    each one's :class:`StageResult` as ``recording.result``. ``paths`` are files, folders or glob
    patterns; ``hypnograms`` one per recording, else each is paired with a scored hypnogram
    beside it (``pair``; :mod:`sleepfm.clinical.inputs`). ``staging_head`` replaces
    ``<checkpoints>/model_sleep_staging``; ``out=None`` writes nothing."""
    options, settings = options or StageOptions(), settings or PrepareSettings()
    execution = execution or ExecutorOptions()
    out = Path(out).absolute() if out is not None else None
    # Which files, under which names, with which scored hypnogram: sleepfm.clinical.inputs.
    found, keys = recordings_and_names(paths, out)
    scored = scored_hypnograms(hypnograms, found, fmt=hypnogram_format, mapping=mapping, pair=pair,
                               accept_other_night=accept_other_night, given=paths, notify=notify)
    head = Path(staging_head).absolute() if staging_head is not None else None
    models = CheckpointSet(Path(checkpoints).absolute(), {"staging": head}).require("base", "staging")
    if not (execution.executor == "dask" and settings.device == "cuda"):
        staging_runner(models.path("staging"), settings.device)  # a head that does not load fails before any work
    analysis = StageAnalysis(models, settings.device, options, out)
    refused = {source: ("hypnogram", error) for source, error in scored.items() if isinstance(error, SleepfmError)}
    contexts = {source: hypnogram for source, hypnogram in scored.items() if not isinstance(hypnogram, SleepfmError)}
    sources = select_shard(found.recordings, execution.shard)
    return each_recording(sources, work, out, models, settings, notify, analysis, execution, on_done,
                          on_start=on_start, keys=select_shard(keys, execution.shard), contexts=contexts,
                          refused=refused)


def stage_one(recording: Recording, runner: StagingRunner, scored: Hypnogram | None, options: StageOptions,
              models: CheckpointSet, title: str | None = None) -> tuple[StagedNight, NightOutputs]:
    """Stage one prepared recording and render its outputs (nothing is written here)."""

    assert recording.embeddings is not None and recording.signals is not None
    info = recording_info(recording)
    # Signal quality and the foreign-data check; an unusable recording is staged but flagged everywhere.
    quality = recording_quality(recording.signals, recording.embeddings, [models.path("staging"), models.path("base")])
    flag = flag_text(quality)
    night = stage_night(runner.probabilities(recording.embeddings), duration=info.duration,
                        start_time=info.start_time)
    blank = epochs_without_signal(recording.embeddings, night.hypnogram.n_epochs)
    if blank.any():  # no channel of any modality was usable there: nothing to stage from
        night = dataclasses.replace(night, hypnogram=dataclasses.replace(
            night.hypnogram, stages=np.where(blank, np.int8(Stage.UNS), night.hypnogram.stages).astype(np.int8)))
    quality["epochs_without_signal"] = int(blank.sum())
    about = {
        "recording": {"file": str(recording.source),
                      "start_time": info.start_time.isoformat() if info.start_time else None,
                      "duration_s": info.duration,
                      "epochs": night.hypnogram.n_epochs, "modalities": info.modalities,
                      "modalities_missing": info.missing},
        "scored_hypnogram": str(scored.source) if scored is not None and scored.source else None,
        "model": {"base": str(models.path("base")), "staging": str(models.path("staging")),
                  "epoch_rule": "30-s stage = highest mean of the epoch's six 5-s token probabilities"},
        "quality": quality,
    }
    title = (title or recording.source.name) + (f" — {flag}" if flag else "")
    return night, render_night(night, scored=scored, title=title,
                               detail_5s=options.detail_5s, plot=options.plot, about=about, formats=options.formats)
