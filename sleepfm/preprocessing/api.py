"""``sleepfm.preprocess(paths, out, ...)``: the Python face of ``sleepfm preprocess``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from sleepfm.config import load_config
from sleepfm.preprocessing.batch import BatchReport, run_batch


def preprocess(
    paths: str | Path | Sequence[str | Path],
    out: str | Path,
    *,
    workers: int | None = None,
    executor: str | None = None,
    scheduler: str | None = None,
    shard: str | None = None,
    channel_map: str | Path | None = None,
    overwrite: bool | None = None,
    config: str | Path | None = None,
    overrides: Iterable[str] = (),
    **options: Any,
) -> BatchReport:
    """Convert recordings (files or folders, searched recursively) into ``out/<stem>.h5``.

    Keyword arguments are the keys of the ``preprocess`` config (``configs/preprocess.yaml``);
    ``config`` is a YAML file and ``overrides`` are ``key=value`` strings, applied in that
    order of precedence (file < arguments < overrides). Returns a :class:`BatchReport`; a
    study that fails is in ``report.failures``, not an exception.

    >>> report = sleepfm.preprocess(["night1.edf", "cohort/"], "h5/", workers=4)  # doctest: +SKIP
    >>> [r.error for r in report.failures]                                     # doctest: +SKIP
    """

    items = [paths] if isinstance(paths, str | Path) else list(paths)
    cli = {
        "inputs": [str(p) for p in items],
        "out": str(out),
        "workers": workers,
        "executor": executor,
        "scheduler": scheduler,
        "shard": shard,
        "channel_map": str(channel_map) if channel_map is not None else None,
        "overwrite": overwrite,
        **options,
    }
    resolved = load_config(Path(config) if config else None, workflow="preprocess", cli=cli, overrides=overrides)
    return run_batch(resolved)  # type: ignore[arg-type]
