"""``sleepfm convert-checkpoint``: published checkpoint folders ⇄ sleepfm's format."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Literal

import typer

from sleepfm.cli.console import err, out
from sleepfm.errors import CheckpointError, UsageError
from sleepfm.registry_records import KINDS


@contextmanager
def checkpoint_errors() -> Iterator[None]:
    """Show a mismatch table on stderr, then fail with its one-line summary."""
    from sleepfm.checkpoints.strict import CheckpointMismatchError

    try:
        yield
    except CheckpointMismatchError as exc:
        err.print(exc.table, highlight=False, markup=False)
        raise CheckpointError(exc.what, where=exc.where, fix=exc.fix) from None


def convert_checkpoint_command(
    source: Annotated[Path, typer.Argument(help="Checkpoint folder (published or sleepfm).", show_default=False)],
    destination: Annotated[Path, typer.Argument(help="Folder to write.", show_default=False)],
    to: Annotated[
        str | None,
        typer.Option("--to", help="Target format: sleepfm or published (default: the other one).", show_default=False),
    ] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace a non-empty destination.")] = False,
) -> None:
    """Convert a checkpoint folder between the published layout and sleepfm's (config.json + safetensors)."""
    from sleepfm.checkpoints import convert_checkpoint

    if to not in (None, "sleepfm", "published"):
        raise UsageError(f"--to {to!r}: use sleepfm or published")
    target: Literal["sleepfm", "published"] | None = to  # type: ignore[assignment]
    with checkpoint_errors():
        loaded = convert_checkpoint(source, destination, to=target, overwrite=overwrite)
    written = target or ("published" if loaded.source == "sleepfm" else "sleepfm")
    out.print(f"[green]✓[/] {KINDS[loaded.kind]} {loaded.name} ({loaded.source}) → {destination} ({written})",
              highlight=False)


checkpoints_app = typer.Typer(help="Check a checkpoints folder (model_base/, model_sleep_staging/, model_diagnosis/).",
                              no_args_is_help=True)


@checkpoints_app.command("check")
def check_command(
    folder: Annotated[Path, typer.Argument(help="Folder laid out like the release's checkpoints/.",
                                           show_default=False)],
) -> None:
    """Say what a checkpoints folder holds, whether each model loads, and what is missing (docs/checkpoints.md)."""
    from sleepfm.clinical.checkpoint_check import check_checkpoints

    result = check_checkpoints(folder)
    width = max(len(p.name) for p in result.parts)
    marks = {"ok": "[green]✓[/]", "missing": "[yellow]–[/]", "broken": "[bold red]✗[/]"}
    for part in result.parts:
        out.print(f"{part.name:<{width}}  {marks[part.status]} ", end="", highlight=False)
        out.print(part.detail, highlight=False, markup=False)
    usable = ", ".join(result.usable_by) or "no command"
    out.print(f"{folder}: usable by {usable}" + ("" if result.ok else " — fix the lines marked ✗"),
              highlight=False, markup=False)
    if not result.ok:
        raise typer.Exit(1)
