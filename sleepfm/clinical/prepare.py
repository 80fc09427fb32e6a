"""The steps every clinical command shares: recordings → signal stores → embedding stores.

Work folder layout::

    <work>/signals/<stem>.h5       sleepfm preprocess (128 Hz signal stores, with its manifest)
    <work>/embeddings/<stem>.h5    sleepfm embed (5-s and 5-min embeddings per modality)

Resumable: both stores are written under a temporary name and renamed when complete, so an
existing one is finished work. A signal store is reused as it is (ingestion decides, see
``sleepfm.preprocess``); an embedding store is reused when it was made from the same
base checkpoint with the same handling of the last partial chunk, else it is embedded again.
``overwrite`` redoes both. A recording that fails a step keeps its one-line error and the
others go on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sleepfm.errors import SleepfmError

log = logging.getLogger(__name__)
Notify = Callable[[str], None]


def one_line(error: BaseException | str) -> str:
    """An error as one line; unexpected exceptions (not :class:`SleepfmError`) say so and name their
    type, and their traceback goes to the debug log (shown by ``--debug``)."""
    if isinstance(error, BaseException) and not isinstance(error, SleepfmError):
        log.debug("unexpected %s", type(error).__name__, exc_info=error)
        error = f"unexpected {type(error).__name__}: {error} — rerun with --debug and report it"
    return " ".join(str(error).split())


@dataclass
class Recording:
    """One recording on its way through the steps."""

    key: str
    source: Path
    signals: Path | None = None
    embeddings: Path | None = None
    failed_step: str | None = None
    error: str | None = None
    reused: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failed_step is None

    def fail(self, step: str, error: BaseException | str) -> None:
        self.failed_step, self.error = step, one_line(error)


@dataclass(frozen=True)
class PrepareSettings:
    """Ingestion and embedding settings (``preprocess`` and ``embed`` sections of a run config)."""

    reader: str = "auto"
    channel_mapper: str = "rules"
    channel_map: Path | None = None
    workers: int = 1
    batch_size: int = 16
    device: str = "auto"
    precision: str = "fp32"
    partial_chunk: str = "pad"
    overwrite: bool = False


@dataclass(frozen=True)
class RecordingInfo:
    """What the signal and embedding stores say about a prepared recording."""

    duration: float
    start_time: datetime | None
    modalities: list[str]
    missing: list[str]


def _preprocess(recordings: list[Recording], folder: Path, settings: PrepareSettings) -> None:
    import sleepfm

    options = {"reader": settings.reader, "channel_mapper": settings.channel_mapper}
    report = sleepfm.preprocess([r.source for r in recordings], folder, workers=settings.workers,
                                channel_map=settings.channel_map, overwrite=settings.overwrite, **options)
    results = {Path(result.file).resolve(): result for result in report.results}
    for recording in recordings:
        result = results.get(recording.source.resolve())
        if result is None:
            recording.fail("preprocess", f"{recording.source}: not a recording sleepfm reads (suffix not supported)")
        elif result.status == "failed":
            recording.fail("preprocess", result.error)
        else:
            recording.signals = Path(result.output)
            if result.status == "skipped":
                recording.reused.append("preprocess")


def embedding_is_current(path: Path, checkpoint: Path, partial_chunk: str) -> bool:
    """Whether ``path`` is a complete embedding store made with ``checkpoint`` and ``partial_chunk``."""
    from sleepfm.store.embedding_store import EmbeddingStore

    if not path.is_file():
        return False
    try:
        with EmbeddingStore(path) as store:
            attrs = store.attrs
    except (SleepfmError, OSError):
        return False
    return (attrs.get("checkpoint") == str(checkpoint.resolve()) and attrs.get("partial_chunk") == partial_chunk)


def _embed(recordings: list[Recording], folder: Path, checkpoint: Path, settings: PrepareSettings) -> None:
    from sleepfm.config import EmbedConfig
    from sleepfm.embedding.api import run_embed
    from sleepfm.embedding.runner import StudyFailure

    todo: dict[Path, Recording] = {}
    for recording in recordings:
        assert recording.signals is not None
        target = folder / f"{recording.signals.stem}.h5"
        if not settings.overwrite and embedding_is_current(target, checkpoint, settings.partial_chunk):
            recording.embeddings = target
            recording.reused.append("embed")
        else:
            todo[recording.signals.resolve()] = recording
    if not todo:
        return
    config = EmbedConfig(inputs=[r.signals for r in todo.values()], checkpoint=checkpoint, out=folder,
                         batch_size=settings.batch_size, device=settings.device,  # type: ignore[arg-type]
                         precision=settings.precision,  # type: ignore[arg-type]
                         partial_chunk=settings.partial_chunk)  # type: ignore[arg-type]
    for outcome in run_embed(config):
        if isinstance(outcome, StudyFailure):
            todo[Path(outcome.path).resolve()].fail("embed", outcome.error)
        else:
            todo[Path(outcome.plan.path).resolve()].embeddings = Path(outcome.outputs[0])
    for recording in todo.values():
        if recording.ok and recording.embeddings is None:
            recording.fail("embed", f"{recording.signals}: no embeddings were written")


def prepare(recordings: list[Recording], work: Path, base_checkpoint: Path, settings: PrepareSettings,
            notify: Notify | None = None) -> None:
    """Preprocess and embed ``recordings`` in place (see the module docstring)."""
    say = notify or (lambda _: None)
    if not recordings:
        return
    _preprocess(recordings, work / "signals", settings)
    ready = [r for r in recordings if r.ok]
    say(_progress("preprocess", recordings, "preprocess"))
    if ready:
        _embed(ready, work / "embeddings", base_checkpoint, settings)
        say(_progress("embed", ready, "embed"))


def _progress(step: str, recordings: list[Recording], reused_step: str) -> str:
    failed = sum(r.failed_step == step for r in recordings)
    reused = sum(reused_step in r.reused for r in recordings if r.ok)
    done = sum(r.ok for r in recordings) - reused
    return f"{step}: {done} done, {reused} reused from an earlier run, {failed} failed"


def recording_info(recording: Recording) -> RecordingInfo:
    """Duration, clock start and modalities of a prepared recording."""
    from sleepfm.store.embedding_store import EmbeddingStore
    from sleepfm.store.signal_store import SignalStore

    assert recording.signals is not None and recording.embeddings is not None
    with SignalStore(recording.signals) as signals:
        duration, start_text = signals.duration, signals.start_time
    with EmbeddingStore(recording.embeddings) as store:
        present, missing = [m.value for m in store.modalities], [m.value for m in store.missing]
    start = None
    if start_text:
        try:
            start = datetime.fromisoformat(start_text)
        except ValueError:
            start = None
    return RecordingInfo(duration, start, present, missing)
