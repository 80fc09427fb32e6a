"""``sleepfm.embed(...)``: the Python face of ``sleepfm embed`` (same config, same files)."""

from __future__ import annotations

import functools
import logging
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from sleepfm.checkpoints.folder import Checkpoint, load_checkpoint
from sleepfm.config import EmbedConfig, load_config, save_resolved_config
from sleepfm.config.base import resolved_config_name
from sleepfm.errors import InputError, SleepfmError, UsageError, disk_full
from sleepfm.execute import Task, execute, select_shard
from sleepfm.store.embedding_store import is_current, published_paths, write_embeddings, write_published_embeddings
from sleepfm.store.signal_store import iter_stores

from .precision import Precision, choose_precision
from .runner import Embedder, Notify, StudyEmbeddings, StudyFailure, resolve_device

log = logging.getLogger(__name__)


def output_paths(config: EmbedConfig, stem: str) -> list[Path]:
    assert config.out is not None
    if config.layout == "published":
        return list(published_paths(config.out, stem))
    return [config.out / f"{stem}.h5"]


def _check_inputs(config: EmbedConfig) -> list[Path]:
    if not config.inputs:
        raise UsageError("no input files", fix="give HDF5 signal files or folders (sleepfm embed FILE... --out DIR)")
    if config.checkpoint is None:
        raise UsageError("no checkpoint", fix="pass --checkpoint DIR (a published model_base folder or ours)")
    # A folder given as input may hold the outputs of an earlier run: those are not inputs.
    outputs = [] if config.out is None else [p.parent.resolve() for p in output_paths(config, "study")]
    paths = [path for given in config.inputs for path in iter_stores([given])
             if not (given.is_dir() and any(path.resolve().is_relative_to(folder) for folder in outputs))]
    if not paths:
        raise InputError("no .h5/.hdf5 files found", where=", ".join(str(p) for p in config.inputs))
    seen: dict[str, Path] = {}
    for path in paths:
        if path.stem in seen:
            raise UsageError(f"two inputs would write the same output {path.stem!r}: {seen[path.stem]} and {path}",
                             fix="embed them into different --out folders")
        seen[path.stem] = path
    if config.out is not None:
        resolved = {p.resolve() for p in paths}
        for path in paths:
            clash = [o for o in output_paths(config, path.stem) if o.resolve() in resolved]
            if clash:
                raise UsageError("the output would overwrite an input", where=clash[0], fix="choose another --out")
    return paths


def write_study(config: EmbedConfig, study: StudyEmbeddings, checkpoint: Path, precision: Precision = "fp32"
                ) -> list[Path]:
    """Write one study in the configured layout; returns the files written."""
    assert config.out is not None
    plan = study.plan
    if config.layout == "published":
        # The published layout cannot mark padding: keep the real 5-s rows only.
        tokens = {m: rows[: rows.shape[0] - plan.padded_tokens] for m, rows in study.tokens.items()}
        return list(write_published_embeddings(config.out, plan.stem, tokens, study.pooled))
    attrs: dict[str, Any] = {
        "checkpoint": str(checkpoint.resolve()),
        "channels": {m.value: names for m, names in plan.channels.items()},
        "partial_chunk": config.partial_chunk,
        "precision": precision,  # the one that ran (``auto`` resolved, a fallback applied)
        "padded_tokens": plan.padded_tokens,
        "dropped_seconds": plan.dropped_seconds,
        "source_file": str(plan.path),
        "sampling_rate_assumed": plan.rate_assumed,
        **(study.masks.record() if study.masks is not None else {}),
    }
    return [write_embeddings(output_paths(config, plan.stem)[0], study.tokens, study.pooled, attrs)]


def make_embedder(config: EmbedConfig, checkpoint: Checkpoint, notify: Notify | None, threads: int | None,
                  inform: Notify | None = None) -> Embedder:
    """The embedder ``config`` describes (``threads``: CPU worker threads, None = torch's count).
    ``notify`` takes warnings (a bf16 fallback), ``inform`` the line naming the precision chosen
    (bf16 or auto); both default to the log. The precision is chosen where the embedder runs."""
    choice = choose_precision(config.precision, resolve_device(config.device))
    if choice.warn:
        (notify or (lambda message: log.warning("%s", message)))(choice.reason)
    elif config.precision != "fp32":
        (inform or (lambda message: log.info("%s", message)))(choice.reason)
    return Embedder(
        checkpoint, batch_size=config.batch_size, device=config.device, precision=choice.precision,
        threads=threads, partial_chunk=config.partial_chunk, channel_map=config.channel_map,
        channel_mapper=config.channel_mapper, notify=notify, quality=config.quality,
    )


@functools.lru_cache(maxsize=2)
def _worker_embedder(settings: str) -> Embedder:
    """The embedder of a worker process, built once per settings (its first study loads the model)."""
    config = EmbedConfig.model_validate_json(settings)
    return make_embedder(config, load_checkpoint(config.checkpoint), None, 1)  # type: ignore[arg-type]


def _named(exc: Exception, path: Path) -> SleepfmError:
    """A failure to write ``path``'s outputs as one line naming it."""
    error = disk_full(exc) or exc
    return InputError(" ".join(str(error).split()), where=path)


def embed_study(path: Path, config: EmbedConfig) -> StudyEmbeddings:
    """Embed one study in a worker process (one task of ``--workers N`` or ``--executor dask``);
    with ``config.out`` its files are written there and only what was done comes back."""
    embedder = _worker_embedder(config.model_copy(update={"inputs": [], "shard": None}).model_dump_json())
    (outcome,) = list(embedder.run([path]))
    if isinstance(outcome, StudyFailure):
        raise outcome.error
    if config.out is not None:
        try:
            outcome.outputs = write_study(config, outcome, embedder.checkpoint.path, embedder.precision)
        except (SleepfmError, OSError) as exc:
            raise _named(exc, path) from None
        outcome.tokens, outcome.pooled = {}, {}
    return outcome


def run_embed(config: EmbedConfig, *, notify: Notify | None = None, inform: Notify | None = None,
              on_start: Callable[[int], None] | None = None) -> Iterator[StudyEmbeddings | StudyFailure]:
    """Embed ``config.inputs`` (this shard of them), writing each study as it completes when
    ``config.out`` is set; ``on_start`` gets the number of studies. One worker on the local
    executor streams every study through this process; otherwise each study is a task
    (:mod:`sleepfm.execute`), in order of completion. ``notify`` and ``inform``: as for
    :func:`make_embedder`."""
    paths = select_shard(_check_inputs(config), config.shard)
    if config.out is not None and not config.overwrite and config.layout == "sleepfm":
        # Outputs a killed or earlier run finished with these settings are kept: a rerun resumes.
        assert config.checkpoint is not None
        precision = None if config.precision == "auto" else config.precision
        kept = {p for p in paths if is_current(output_paths(config, p.stem)[0], config.checkpoint,
                                               config.partial_chunk, quality=config.quality.mode, precision=precision)}
        if kept:
            (inform or (lambda message: log.info("%s", message)))(
                f"{len(kept)} of {len(paths)} studies already embedded with these settings in {config.out}: kept "
                "(--overwrite redoes them)")
            paths = [p for p in paths if p not in kept]
    if on_start is not None:
        on_start(len(paths))
    assert config.checkpoint is not None
    checkpoint = load_checkpoint(config.checkpoint)
    embedder = make_embedder(config, checkpoint, notify, config.threads, inform)  # checks the settings first
    if config.out is not None:
        config.out.mkdir(parents=True, exist_ok=True)
        save_resolved_config(config, config.out, resolved_config_name(config.shard))
    if config.executor == "local" and config.workers == 1:
        for outcome in embedder.run(paths):
            if isinstance(outcome, StudyEmbeddings) and config.out is not None:
                try:
                    outcome.outputs = write_study(config, outcome, checkpoint.path, embedder.precision)
                except (SleepfmError, OSError) as exc:  # e.g. a full disk: this study fails, the next may fit
                    yield StudyFailure(outcome.plan.path, _named(exc, outcome.plan.path))
                    continue
                _note_unmarked_gaps(config, outcome, notify)
            yield outcome
        return
    # Tasks may run on other machines, from another folder: every path they get is absolute.
    given = {"checkpoint": config.checkpoint, "out": config.out, "channel_map": config.channel_map}
    settings = config.model_copy(update={k: Path(v).absolute() for k, v in given.items() if v is not None})
    tasks = [Task.call(str(path), embed_study, path.absolute(), settings) for path in paths]
    for done in execute(tasks, config, workers=config.workers):
        if not done.ok:
            yield StudyFailure(Path(done.task.key), InputError(done.error or "failed"))
            continue
        if config.out is not None:
            _note_unmarked_gaps(config, done.value, notify)
        yield done.value


def _note_unmarked_gaps(config: EmbedConfig, outcome: StudyEmbeddings, notify: Notify | None) -> None:
    """Warn when quality masking left a modality without any channel in some chunks and the
    published layout, which has no way to mark that, holds zeros there."""
    missing = outcome.masks.record()["chunks_missing"] if outcome.masks is not None else {}
    if missing and config.layout == "published" and notify is not None:
        notify(f"{outcome.plan.path}: {', '.join(missing)} had no usable channel in some chunks; the "
               "published layout cannot mark that, so those rows are zeros (use --layout sleepfm)")


def embed(
    inputs: Sequence[str | Path] | str | Path,
    checkpoint: str | Path | None = None,
    out: str | Path | None = None,
    *,
    config: str | Path | None = None,
    overrides: Sequence[str] = (),
    notify: Notify | None = None,
    **options: Any,
) -> dict[str, StudyEmbeddings]:
    """Embed HDF5 signal files and return their embeddings, keyed by file stem.

    ``options`` are the keys of ``configs/embed.yaml`` (``channel_map``, ``batch_size``,
    ``device``, ``layout``, ``partial_chunk``, …). With ``out`` the files of ``sleepfm embed``
    are written too. Each value: ``result.tokens["BAS"]`` (n_chunks·60, 128) 5-s and
    ``result.pooled["BAS"]`` (n_chunks, 128) 5-min embeddings, ``result.plan`` what was used.
    Studies that cannot be embedded are reported as warnings; if none can, the error is raised.
    """
    if isinstance(inputs, str | Path):
        inputs = [inputs]
    cli = {"inputs": [str(p) for p in inputs], "checkpoint": checkpoint, "out": out, **options}
    resolved = load_config(Path(config) if config else None, workflow="embed", cli=cli, overrides=overrides)
    assert isinstance(resolved, EmbedConfig)
    results: dict[str, StudyEmbeddings] = {}
    failures: list[StudyFailure] = []
    for outcome in run_embed(resolved, notify=notify):
        if isinstance(outcome, StudyFailure):
            failures.append(outcome)
        else:
            results[outcome.plan.stem] = outcome
    if failures and not results:
        raise failures[0].error
    for failure in failures:
        warnings.warn(f"not embedded: {failure.error}", stacklevel=3)
    return results
