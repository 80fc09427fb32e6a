"""What every clinical command shares about a recording on its way: recordings → signal
stores → embedding stores → the command's outputs (the steps: :mod:`sleepfm.clinical.pipeline`).

Work folder layout::

    <work>/signals/<key>.h5        128 Hz signal stores (as sleepfm preprocess writes them)
    <work>/embeddings/<key>.h5     5-s and 5-min embeddings per modality (as sleepfm embed)

Resumable: both stores are written under a temporary name and renamed when complete, so an
existing one is finished work. A signal store is reused as it is; an embedding store is
reused when it was made from the same base checkpoint with the same handling of the last
partial chunk, else it is embedded again. ``overwrite`` redoes both. A recording that fails
a step keeps its one-line error and the others go on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sleepfm.config.quality import QualityConfig
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
    # What the command's own step (its analysis) needs about this recording alone — a cohort's
    # Study, a scored hypnogram — so that a task carries its own and not every other's.
    context: Any = None
    result: Any = None  # what the command's own step made of it

    @property
    def ok(self) -> bool:
        return self.failed_step is None

    def fail(self, step: str, error: BaseException | str) -> None:
        self.failed_step, self.error = step, one_line(error)


@dataclass(frozen=True)
class PrepareSettings:
    """Ingestion and embedding settings (``preprocess`` and ``embed`` sections of a run config);
    ``workers``: recordings preprocessed at once (local worker processes, or dask LocalCluster workers)."""

    reader: str = "auto"
    channel_mapper: str = "rules"
    channel_map: Path | None = None
    workers: int = 1
    batch_size: int = 16
    device: str = "auto"
    precision: str = "fp32"
    partial_chunk: str = "pad"
    overwrite: bool = False
    #: ``--scale`` of preprocess and its clip (docs/quality.md).
    scale: str = "published"
    scale_clip: float = 8.0
    #: Quality checks kept by preprocess and masking in embed (None: the defaults).
    quality: QualityConfig | None = None


@dataclass(frozen=True)
class RecordingInfo:
    """What the signal and embedding stores say about a prepared recording."""

    duration: float
    start_time: datetime | None
    modalities: list[str]
    missing: list[str]


def summary(recordings: list[Recording]) -> list[str]:
    """One line per step: how many recordings it did, reused from an earlier run, or failed."""
    lines = []
    for step, earlier in (("preprocess", ()), ("embed", ("preprocess",))):
        reached = [r for r in recordings if r.failed_step not in earlier]
        failed = sum(r.failed_step == step for r in reached)
        reused = sum(step in r.reused for r in reached)
        lines.append(f"{step}: {len(reached) - failed - reused} done, {reused} reused from an earlier run, "
                     f"{failed} failed")
    return lines


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
