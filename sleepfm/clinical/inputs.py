"""Which recordings ``stage`` and ``risk`` process, under which names, and with which scored hypnogram.

Recordings
    Files, folders and glob patterns (:func:`sleepfm.read.discover.find_recordings`, the rule
    every command shares): annotation-only EDF+ files are set aside with a warning line.
Names
    Each recording's outputs are named by :func:`sleepfm.read.discover.output_names`:
    ``<stem>``, or ``x.edf``/``x.bdf`` for two recordings sharing a stem.
Scored hypnograms
    ``--hypnogram`` gives one per recording, in order; one that cannot be read fails its own
    recording before any work on it, and the others go on. Without it, each recording is
    paired with a hypnogram beside it by the registered naming conventions
    (:mod:`sleepfm.cohorts.pairing`); one that cannot be read is left out with a warning, and
    the recording is still staged. Annotation files in a folder given as input
    that no recording took are reported.
Same night
    A hypnogram dated on another day than its recording (both dates real, not anonymised
    placeholders) is refused — given by ``--hypnogram``: its recording fails before any work on
    it; paired: left out with a warning — unless ``accept_other_night`` is set, when it is used
    with a warning.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from sleepfm.errors import InputError, InputWarning, SleepfmError, UsageError
from sleepfm.labels import read_hypnogram
from sleepfm.labels.hypnogram import Hypnogram, StageMapping
from sleepfm.read import read_recording
from sleepfm.read.discover import Found, find_recordings, output_names, walk

from .prepare import Notify


def recordings_and_names(paths: Sequence[Path], out: Path | None) -> tuple[Found, list[str]]:
    """The recordings among ``paths`` (and the annotation-only files set aside, for the caller to
    report or pair) and the distinct name of each recording's outputs; ``out`` must not be a file."""
    found = find_recordings([Path(p) for p in paths])
    if out is not None and Path(out).exists() and not Path(out).is_dir():
        raise UsageError("--out is a file", where=out, fix="give a folder (it is created if missing)")
    return found, output_names(found.recordings)


def report_set_aside(found: Found, used: Sequence[Path] = ()) -> None:
    """One warning line about the annotation-only inputs not used as a scored hypnogram."""
    taken = {Path(p).resolve() for p in used}
    left = Found(found.recordings, [p for p in found.annotations if p.resolve() not in taken])
    if (note := left.set_aside_note()) is not None:
        warnings.warn(note, InputWarning, stacklevel=2)


def _recording_start(path: Path) -> datetime | None:
    try:
        with read_recording(path) as recording:
            return recording.start_time
    except SleepfmError:
        return None  # the recording itself fails later, with its reason


def scored_hypnograms(explicit: Sequence[Path], found: Found, *, fmt: str = "auto",
                      mapping: StageMapping | None = None, pair: bool = True, accept_other_night: bool = False,
                      given: Sequence[Path] = (), notify: Notify | None = None
                      ) -> dict[Path, Hypnogram | SleepfmError]:
    """The scored hypnogram of each recording of ``found`` that has one, or the error that fails
    that recording (module docstring); the annotation-only inputs not used as one are reported.
    ``given`` are the inputs as the user named them (folders among them get unpaired annotation
    files reported)."""
    from sleepfm.cohorts.pairing import other_night

    mapping = mapping or StageMapping()
    recordings = found.recordings
    if explicit:
        report_set_aside(found, explicit)
        scored = _read_explicit(explicit, recordings, fmt, mapping)
        for recording, hypnogram in scored.items():
            if isinstance(hypnogram, SleepfmError):
                continue
            if (problem := other_night(_recording_start(recording), hypnogram.start_time)) is not None:
                if not accept_other_night:
                    scored[recording] = InputError(problem, where=hypnogram.source or recording,
                                                   fix="give this recording's own hypnogram, or --accept-other-night "
                                                   "to use it")
                    continue
                warnings.warn(f"{recording}: {problem}; used as --accept-other-night asks", InputWarning, stacklevel=2)
        return scored
    if not pair:
        report_set_aside(found)
        return {}
    return _paired(found, fmt, mapping, accept_other_night, given, notify)


def _read_explicit(paths: Sequence[Path], recordings: Sequence[Path], fmt: str,
                   mapping: StageMapping) -> dict[Path, Hypnogram | SleepfmError]:
    if len(paths) != len(recordings):
        raise UsageError(f"{len(paths)} --hypnogram for {len(recordings)} recordings",
                         fix="give one --hypnogram per recording, in the same order")
    scored: dict[Path, Hypnogram | SleepfmError] = {}
    for recording, path in zip(recordings, paths, strict=True):
        try:
            scored[recording] = read_hypnogram(Path(path), fmt=fmt, mapping=mapping)
        except UsageError:
            raise  # an unknown --hypnogram-format is wrong for every recording
        except SleepfmError as exc:
            scored[recording] = exc
    return scored


def _paired(found: Found, fmt: str, mapping: StageMapping, accept_other_night: bool,
            given: Sequence[Path], notify: Notify | None) -> dict[Path, Hypnogram]:
    from sleepfm.cohorts.pairing import other_night, pair_hypnograms, pairing_rules

    recordings = found.recordings
    folders = sorted({r.parent for r in recordings})
    files = [path for folder in folders for path in walk(folder, recursive=False)]
    pairing = pair_hypnograms(list(recordings), files, pairing_rules())
    inside = [Path(g).resolve() for g in given if Path(g).is_dir()]
    pairing.unpaired = [p for p in pairing.unpaired if any(p.resolve().is_relative_to(f) for f in inside)]
    pairing.warn_unpaired()
    paired = [p.path for p in pairing.hypnograms.values() if p is not None]
    report_set_aside(found, [*paired, *pairing.unpaired])  # each annotation file is reported once
    scored: dict[Path, Hypnogram] = {}
    for recording in recordings:
        paired = pairing.hypnograms[recording]
        if paired is None:
            continue
        reader = fmt if fmt != "auto" else paired.label_reader or "auto"
        try:
            hypnogram = read_hypnogram(paired.path, fmt=reader, mapping=mapping)
        except SleepfmError as exc:
            warnings.warn(f"{recording.name}: scored hypnogram not used: {exc}", InputWarning, stacklevel=2)
            continue
        problem = other_night(_recording_start(recording), hypnogram.start_time)
        if problem is not None:
            used = "used as --accept-other-night asks" if accept_other_night else "not used"
            warnings.warn(f"{recording.name}: {paired.path.name}: {problem}; {used}", InputWarning, stacklevel=2)
            if not accept_other_night:
                continue
        if notify is not None:
            notify(f"{recording.name}: compared with the scored hypnogram {paired.path.name}")
        scored[recording] = hypnogram
    return scored
