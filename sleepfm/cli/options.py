"""Options shared by workflow commands: ``--config FILE`` and repeated ``--set key=value``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="YAML config file (see configs/).", show_default=False),
]
SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", "-s", help="Override one key: section.key=value (repeatable).", show_default=False),
]

# The executor options of every command that fans out (preprocess, embed, stage, run): docs/scale.md.
ExecutorOption = Annotated[
    str | None,
    typer.Option("--executor", help="local (worker processes on this machine) or dask (one task per study).",
                 show_default=False),
]
SchedulerOption = Annotated[
    str | None,
    typer.Option("--scheduler", help="Address of a running dask scheduler (default: a LocalCluster).",
                 show_default=False),
]
ShardOption = Annotated[
    str | None,
    typer.Option("--shard", help="I/N: only the I-th (0-based) of N shards of the sorted studies (job arrays).",
                 show_default=False),
]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")]


def executor_cli(executor: str | None, scheduler: str | None, shard: str | None) -> dict[str, str | None]:
    """The executor options as config keys (``None``: not given)."""
    return {"executor": executor, "scheduler": scheduler, "shard": shard}
