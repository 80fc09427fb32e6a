"""One recording's way through the steps, and a batch of recordings under any executor.

Per recording: **preprocess** (read the recording, write its signal store: CPU) → **embed**
(its embedding store: the model) → **analyse** (the command's own step — staging, risk, a
``run`` record — which writes its outputs). A :class:`Pipeline` holds what every recording
shares (work folder, base checkpoint, settings, the analysis); it is picklable, so the same
steps run in this process, in local worker processes or on dask workers. A command extends
the pipeline by giving it another analysis (:class:`Analysis`).

How :func:`run_pipeline` runs a batch:

* **local** — recordings are preprocessed in worker processes (``workers`` of them) while
  this process embeds those already preprocessed, streaming them through one model, and
  analyses those already embedded: reading and preprocessing the next recordings overlaps
  embedding the current one, instead of each recording's steps running in sequence.
* **dask** — one task per recording runs all three steps on a worker. With ``device=cuda``
  the model steps are a second task that asks for a worker with a GPU resource, so the
  preprocessing can run on CPU-only workers of the same cluster.

Either way a recording's outputs are the same bits (embeddings never depend on how studies
are batched: :mod:`sleepfm.embedding.runner`). Signal and embedding stores that an earlier
run finished are reused, so a killed run resumes. A recording's own error fails it alone,
at the step where it happened; a worker that dies is retried (:mod:`sleepfm.execute`).
"""

from __future__ import annotations

import copy
import functools
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from sleepfm.config import EmbedConfig, PreprocessConfig
from sleepfm.config.executor import ExecutorOptions
from sleepfm.config.quality import QualityConfig
from sleepfm.execute import Step, Task, execute
from sleepfm.execute.local import LocalPool
from sleepfm.store.embedding_store import is_current

from .prepare import PrepareSettings, Recording

if TYPE_CHECKING:
    from sleepfm.config import EmbedConfig
    from sleepfm.execute.local import LocalPool

OnDone = Callable[[Recording], None]


class Analysis(Protocol):
    """A command's own step on a prepared recording (picklable: it may run on a dask worker).

    Its return value becomes ``recording.result``; an exception fails the recording at
    :attr:`step`. Models it needs are loaded once per process (cached loaders).
    """

    step: str

    def __call__(self, recording: Recording) -> Any: ...


@dataclass(frozen=True)
class Pipeline:
    work: Path
    base: Path
    settings: PrepareSettings
    analysis: Analysis | None = None

    @property
    def signal_folder(self) -> Path:
        return self.work / "signals"

    @property
    def embedding_folder(self) -> Path:
        return self.work / "embeddings"

    def embed_config(self) -> EmbedConfig:
        s = self.settings
        return EmbedConfig(checkpoint=self.base, out=self.embedding_folder, batch_size=s.batch_size,
                           device=s.device, precision=s.precision,  # type: ignore[arg-type]
                           partial_chunk=s.partial_chunk,  # type: ignore[arg-type]
                           quality=s.quality or QualityConfig())

    # ------------------------------------------------------------------ steps
    def preprocess(self, recording: Recording) -> Recording:
        """Write the recording's signal store (reused when an earlier run finished it)."""
        from sleepfm.preprocessing.batch import is_complete
        from sleepfm.preprocessing.convert import convert_file

        target = self.signal_folder / f"{recording.key}.h5"
        if not self.settings.overwrite and is_complete(target):
            recording.signals = target
            recording.reused.append("preprocess")
            return recording
        result = convert_file(recording.source, target, _convert_options(self.settings))
        if result.status == "failed":
            recording.fail("preprocess", result.error)
        else:
            recording.signals = target
        return recording

    def needs_embedding(self, recording: Recording) -> bool:
        """Whether the recording is ready to embed and has no current embedding store."""
        if not recording.ok:
            return False
        target = self.embedding_folder / f"{recording.key}.h5"
        mode = (self.settings.quality or QualityConfig()).mode  # a store masked otherwise is not reused
        if not self.settings.overwrite and is_current(target, self.base, self.settings.partial_chunk, quality=mode):
            recording.embeddings = target
            recording.reused.append("embed")
            return False
        return True

    def embed(self, recording: Recording) -> Recording:
        """Embed one recording on its own (a worker's step; locally they stream, :func:`run_pipeline`)."""
        from sleepfm.embedding.api import embed_study

        if self.needs_embedding(recording):
            assert recording.signals is not None
            try:
                recording.embeddings = embed_study(recording.signals, self.embed_config()).outputs[0]
            except Exception as exc:  # noqa: BLE001 - one recording's failure; the others go on
                recording.fail("embed", exc)
        return recording

    def analyse(self, recording: Recording) -> Recording:
        if recording.ok and self.analysis is not None:
            try:
                recording.result = self.analysis(recording)
            except Exception as exc:  # noqa: BLE001 - one recording's failure; the others go on
                recording.fail(self.analysis.step, exc)
        return recording

    def model_steps(self, recording: Recording) -> Recording:
        return self.analyse(self.embed(recording))


def _convert_options(settings: PrepareSettings) -> Any:
    from sleepfm.preprocessing.batch import convert_options

    config = PreprocessConfig(reader=settings.reader, channel_mapper=settings.channel_mapper,
                              channel_map=settings.channel_map, scale=settings.scale,  # type: ignore[arg-type]
                              scale_clip=settings.scale_clip, quality=settings.quality or QualityConfig())
    return convert_options(config, threads=1)


# ---------------------------------------------------------------------- batches
def run_pipeline(recordings: Sequence[Recording], pipeline: Pipeline, options: ExecutorOptions, *,
                 workers: int = 1, on_done: OnDone | None = None) -> list[Recording]:
    """Every recording through the steps (module docstring); returns them in the given order,
    each finished or failed. ``on_done`` gets each as it finishes (for progress)."""
    position = {recording.key: index for index, recording in enumerate(recordings)}
    finished = list(recordings)
    stream = (_run_dask if options.executor == "dask" else _run_local)(list(recordings), pipeline, options, workers)
    for recording in stream:
        finished[position[recording.key]] = recording
        if on_done is not None:
            on_done(recording)
    return finished


def _failed(recording: Recording, step: str, error: str | None) -> Recording:
    """A copy of ``recording`` failed at ``step`` (its task did not come back)."""
    failed = copy.deepcopy(recording)
    failed.fail(step, (error or "failed").removeprefix(f"{recording.key}: "))
    return failed


def _run_dask(recordings: list[Recording], pipeline: Pipeline, options: ExecutorOptions,
              workers: int) -> Iterator[Recording]:
    gpu = pipeline.settings.device == "cuda"
    original = {r.key: r for r in recordings}
    tasks = [Task(r.key, (Step(pipeline.preprocess, (r,)), Step(pipeline.model_steps, gpu=gpu))) for r in recordings]
    for outcome in execute(tasks, options, workers=workers):
        yield outcome.value if outcome.ok else _failed(original[outcome.task.key], "run", outcome.error)


def _run_local(recordings: list[Recording], pipeline: Pipeline, options: ExecutorOptions,
               workers: int) -> Iterator[Recording]:
    if len(recordings) <= 1:  # nothing to overlap
        for recording in recordings:
            yield from _embed_and_analyse(iter([pipeline.preprocess(recording)]), pipeline, None)
        return

    pool = LocalPool(min(max(1, workers), len(recordings)), options.retries)
    original = {r.key: r for r in recordings}

    def preprocessed() -> Iterator[Recording]:
        for outcome in pool.run([Task.call(r.key, pipeline.preprocess, r) for r in recordings]):
            yield outcome.value if outcome.ok else _failed(original[outcome.task.key], "preprocess", outcome.error)

    yield from _embed_and_analyse(preprocessed(), pipeline, pool)


_END = object()


def _embed_and_analyse(prepared: Iterator[Recording], pipeline: Pipeline, pool: LocalPool | None
                       ) -> Iterator[Recording]:
    """Embed ``prepared`` recordings as they arrive (from the pool, in a feeder thread) in one
    streaming model in this process, and analyse each as soon as it is embedded, in a thread of
    its own, so that the next recording is embedded meanwhile (the analysis — the staging head
    over a whole night — would otherwise leave the other cores idle)."""
    import torch

    from sleepfm.embedding.api import write_study
    from sleepfm.embedding.runner import StudyFailure

    to_embed: queue.Queue[Any] = queue.Queue()
    ready: queue.Queue[Recording] = queue.Queue()  # preprocessed recordings that need no embedding
    waiting: dict[Path, Recording] = {}
    raised: list[BaseException] = []

    def feed() -> None:
        try:
            for recording in prepared:
                (to_embed if pipeline.needs_embedding(recording) else ready).put(recording)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the consuming thread
            raised.append(exc)
        finally:
            to_embed.put(_END)

    def paths() -> Iterator[Path]:
        while (recording := to_embed.get()) is not _END:
            assert recording.signals is not None
            waiting[recording.signals.resolve()] = recording
            yield recording.signals

    analysing: deque[Future[Recording]] = deque()

    def finished(wait: bool = False) -> Iterator[Recording]:
        while not ready.empty():
            analysing.append(analyser.submit(pipeline.analyse, ready.get()))
        while analysing and (wait or analysing[0].done()):
            yield analysing.popleft().result()

    config = pipeline.embed_config()
    cores = torch.get_num_threads()
    embedder = _main_embedder(config.model_dump_json(), cores)
    # Every matrix product of this process runs single-threaded (the embedder's units on its own
    # worker threads, the analyses on theirs), as in a dask worker: the same bits either way.
    torch.set_num_threads(1)
    analyser = ThreadPoolExecutor(1, thread_name_prefix="sleepfm-analyse")
    feeder = threading.Thread(target=feed, name="sleepfm-preprocessed", daemon=True)
    feeder.start()
    try:
        for outcome in embedder.run(paths()):
            if isinstance(outcome, StudyFailure):
                recording = waiting.pop(Path(outcome.path).resolve())
                recording.fail("embed", outcome.error)
            else:
                recording = waiting.pop(Path(outcome.plan.path).resolve())
                try:
                    recording.embeddings = write_study(config, outcome, embedder.checkpoint.path, embedder.precision)[0]
                except Exception as exc:  # noqa: BLE001 - e.g. a full disk fails this recording only
                    recording.fail("embed", exc)
            analysing.append(analyser.submit(pipeline.analyse, recording))
            yield from finished()
        feeder.join()
        yield from finished(wait=True)
        if raised:
            raise raised[0]
    except BaseException:
        if pool is not None:
            pool.cancel()
        feeder.join(timeout=30)
        raise
    finally:
        analyser.shutdown(cancel_futures=True)
        torch.set_num_threads(cores)


@functools.lru_cache(maxsize=1)
def _main_embedder(settings: str, threads: int) -> Any:
    """This process's streaming embedder, on ``threads`` cores (loaded once per settings)."""
    from sleepfm.checkpoints.folder import load_checkpoint
    from sleepfm.embedding.api import make_embedder

    config = EmbedConfig.model_validate_json(settings)
    return make_embedder(config, load_checkpoint(config.checkpoint), None, threads)  # type: ignore[arg-type]
