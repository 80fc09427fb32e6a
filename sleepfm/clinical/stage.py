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
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sleepfm.errors import SleepfmError
from sleepfm.labels.hypnogram import Hypnogram, Stage, StageMapping

from .inputs import recordings_and_names, scored_hypnograms
from .models import CheckpointSet, StagingRunner
from .night import DEFAULT_FORMATS, NightOutputs, StagedNight, render_night, stage_night
from .prepare import Notify, PrepareSettings, Recording, prepare, recording_info


@dataclass(frozen=True)
class StageOptions:
    detail_5s: bool = False
    plot: bool = True
    #: Hypnogram writers (`sleepfm plugins --kind hypnogram_writers`) the night is written with.
    formats: tuple[str, ...] = DEFAULT_FORMATS


def each_recording(sources: Sequence[Path], work: Path | None, out: Path, models: CheckpointSet,
                   settings: PrepareSettings, notify: Notify | None, step: str,
                   action: Callable[[Recording], None], keys: Sequence[str] | None = None,
                   refused: Mapping[Path, tuple[str, SleepfmError]] | None = None) -> list[Recording]:
    """Prepare ``sources`` in a work folder, then run ``action`` on each one that is ready; a
    one-line error of ``action`` fails that recording at ``step`` and the others go on.
    ``keys`` name each recording's outputs (default: its stem). ``refused`` recordings (source →
    failed step, error) fail at once and are not prepared."""
    recordings = [Recording(key, source) for key, source in zip(keys or [s.stem for s in sources], sources,
                                                                  strict=True)]
    for recording in recordings:
        if recording.source in (refused or {}):
            recording.fail(*(refused or {})[recording.source])
    if not any(recording.ok for recording in recordings):
        return recordings  # nothing to do: no work folder, no output folder
    with WorkFolder(work, out) as folder:
        prepare([r for r in recordings if r.ok], folder, models.path("base"), settings, notify)
        for recording in recordings:
            if recording.ok:
                try:
                    action(recording)
                except Exception as exc:  # noqa: BLE001 - one recording's failure is reported, the rest go on
                    recording.fail(step, exc)
    return recordings


class WorkFolder:
    """``work`` if given (kept, so a rerun reuses its stores), else a hidden temporary folder in ``out``."""

    def __init__(self, work: Path | None, out: Path) -> None:
        self.keep = work is not None
        if work is None:
            out.mkdir(parents=True, exist_ok=True)
            work = Path(tempfile.mkdtemp(prefix=".sleepfm-work-", dir=out))
        self.path = work

    def __enter__(self) -> Path:
        return self.path

    def __exit__(self, *exc: object) -> None:
        if not self.keep:
            shutil.rmtree(self.path, ignore_errors=True)


def stage_recordings(paths: Sequence[Path], checkpoints: Path, out: Path, *, hypnograms: Sequence[Path] = (),
                     hypnogram_format: str = "auto", mapping: StageMapping | None = None,
                     options: StageOptions | None = None, settings: PrepareSettings | None = None,
                     work: Path | None = None, staging_head: Path | None = None,
                     notify: Notify | None = None, pair: bool = True,
                     accept_other_night: bool = False) -> list[Recording]:
    """Stage each recording (module docstring); returns them with their errors, if any.
    ``paths`` are files, folders or glob patterns; ``hypnograms`` one per recording, else each is
    paired with a scored hypnogram beside it (``pair``; :mod:`sleepfm.clinical.inputs`).
    ``staging_head`` replaces ``<checkpoints>/model_sleep_staging``."""
    options, settings = options or StageOptions(), settings or PrepareSettings()
    # Which files, under which names, with which scored hypnogram: sleepfm.clinical.inputs.
    found, keys = recordings_and_names(paths, Path(out))
    sources = found.recordings
    scored = scored_hypnograms(hypnograms, found, fmt=hypnogram_format, mapping=mapping, pair=pair,
                               accept_other_night=accept_other_night, given=paths, notify=notify)
    models = CheckpointSet(Path(checkpoints), {"staging": staging_head}).require("base", "staging")
    runner = StagingRunner(models.path("staging"), settings.device)

    def stage(recording: Recording) -> None:
        from sleepfm.quality.clinical import warnings_for

        hypnogram = scored.get(recording.source)
        assert not isinstance(hypnogram, SleepfmError)
        _, outputs = stage_one(recording, runner, hypnogram, options, models)
        outputs.write(Path(out), recording.key)
        for note in outputs.notes:
            (notify or (lambda _: None))(f"warning: {recording.source.name}: {note}")
        for line in warnings_for(recording.key, outputs.stats["quality"]):
            (notify or (lambda _: None))(f"warning: {line}")

    unreadable = {source: ("hypnogram", error) for source, error in scored.items() if isinstance(error, SleepfmError)}
    return each_recording(sources, work, Path(out), models, settings, notify, "stage", stage, keys, unreadable)


def stage_one(recording: Recording, runner: StagingRunner, scored: Hypnogram | None, options: StageOptions,
              models: CheckpointSet, title: str | None = None) -> tuple[StagedNight, NightOutputs]:
    """Stage one prepared recording and render its outputs (nothing is written here)."""
    from sleepfm.quality.clinical import epochs_without_signal, flag_text, recording_quality

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
