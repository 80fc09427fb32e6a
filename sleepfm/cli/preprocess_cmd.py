"""``sleepfm preprocess INPUT... --out DIR``: PSG files → 128 Hz float16 HDF5, resumable and parallel."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sleepfm.cli import options as opt
from sleepfm.cli.console import err, error_line, warning_line
from sleepfm.cli.console import out as stdout
from sleepfm.cli.options import ConfigOption, SetOption, executor_cli
from sleepfm.cli.progress import study_progress
from sleepfm.config import load_config


def preprocess_command(
    inputs: Annotated[
        list[Path] | None,
        typer.Argument(help="EDF/BDF files or folders (searched recursively, any case of .edf/.bdf).",
                       show_default=False),
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Output folder for <stem>.h5 files.",
                                             show_default=False)] = None,
    workers: Annotated[int | None, typer.Option("--workers", "-j", min=1,
                                                help="CPU cores: processes across studies, threads within one.",
                                                show_default=False)] = None,
    executor: opt.ExecutorOption = None,
    scheduler: opt.SchedulerOption = None,
    shard: opt.ShardOption = None,
    channel_map: Annotated[Path | None, typer.Option("--channel-map",
                                                     help="JSON of the published channel_groups.json shape.",
                                                     show_default=False)] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Redo studies whose output exists.")] = False,
    scale: Annotated[str | None, typer.Option(
        "--scale", help="published (default: parity with the released weights) or robust (artifacts cannot set "
        "a channel's scale; docs/quality.md).", show_default=False)] = None,
    quiet: opt.QuietOption = False,
    config: ConfigOption = None,
    overrides: SetOption = None,
) -> None:
    """Convert PSG recordings to 128 Hz float16 HDF5 stores (published-compatible), one per study."""
    from sleepfm.preprocessing.batch import run_batch

    cli = {
        "inputs": [str(p) for p in inputs] if inputs else None,
        "out": str(out) if out is not None else None,
        "workers": workers,
        **executor_cli(executor, scheduler, shard),
        "channel_map": str(channel_map) if channel_map is not None else None,
        "overwrite": True if overwrite else None,
        "scale": scale,
    }
    resolved = load_config(config, workflow="preprocess", cli=cli, overrides=overrides or [])


    def arrived(result) -> None:  # type: ignore[no-untyped-def]
        name = Path(result.file).name
        progress.advance(name)
        if result.status == "done":  # a skipped study's warnings were shown when it was converted
            for warning in result.warnings:
                warning_line(f"{name}: {warning}")

    with study_progress("preprocess", quiet=quiet) as progress:
        report = run_batch(resolved, on_result=arrived, on_start=progress.start)  # type: ignore[arg-type]

    done, skipped, failed = report.count("done"), report.count("skipped"), len(report.failures)
    ignored = report.count("ignored")
    aside = f", {ignored} annotation-only file{'s' * (ignored != 1)} (hypnograms) set aside" if ignored else ""
    stdout.print(f"{done} converted, {skipped} already done, {failed} failed{aside} → {report.out} "
                 f"(manifest: {report.manifest.name})", highlight=False)
    if failed:
        err.print(f"[bold red]{failed} of {len(report.results)} studies failed:[/]")
        for result in report.failures:
            error_line(result.error)
        raise typer.Exit(1)
