"""The ``qc`` and ``calibrate-reference`` commands (registered by :mod:`sleepfm.plugins.quality`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sleepfm.cli.options import ConfigOption, SetOption


def qc_command(
    inputs: Annotated[list[Path] | None, typer.Argument(
        help="EDF/BDF recordings or signal stores (.h5), or folders of them.", show_default=False)] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Output folder.", show_default=False)] = None,
    hypnogram: Annotated[list[Path] | None, typer.Option(
        "--hypnogram", help="Scored hypnogram drawn above the heat map (one per input, in order; repeatable).",
        show_default=False)] = None,
    hypnogram_format: Annotated[str | None, typer.Option(
        "--hypnogram-format", help="Label reader name (default: recognised from the file).",
        show_default=False)] = None,
    channel_map: Annotated[Path | None, typer.Option(
        "--channel-map", help="channel_groups.json-shaped label table.", show_default=False)] = None,
    no_plot: Annotated[bool, typer.Option("--no-plot", help="Skip the heat maps.")] = False,
    config: ConfigOption = None,
    overrides: SetOption = None,
) -> None:
    """Check signal quality: per study a flag table, a summary with a verdict and a heat map."""
    from sleepfm.cli.console import error_line, warning_line
    from sleepfm.cli.console import out as stdout
    from sleepfm.config import load_config
    from sleepfm.config.quality import QcConfig
    from sleepfm.quality.run import SUMMARY, run_qc

    cli = {"inputs": [str(p) for p in inputs] if inputs else None, "out": out,
           "hypnograms": [str(p) for p in hypnogram] if hypnogram else None,
           "hypnogram_format": hypnogram_format, "channel_map": channel_map, "plot": False if no_plot else None}
    resolved = load_config(config, workflow="qc", cli=cli, overrides=overrides or [])
    assert isinstance(resolved, QcConfig)

    def say(line: str) -> None:
        if line.startswith("error: "):
            error_line(line.removeprefix("error: "))
        elif ": usable" in line:
            stdout.print(f"[green]✓[/] {line}", highlight=False)
        else:
            warning_line(line)

    results = run_qc(resolved, notify=say)
    failed = [r for r in results if r.quality is None]
    counts = {v: sum(r.quality is not None and r.quality.verdict == v for r in results)
              for v in ("usable", "degraded", "unusable")}
    stdout.print(f"{counts['usable']} usable, {counts['degraded']} degraded, {counts['unusable']} unusable, "
                 f"{len(failed)} failed → {resolved.out / SUMMARY}", highlight=False)
    if failed:
        raise typer.Exit(1)


def calibrate_reference_command() -> None:
    """Build the foreign-data reference statistics for a checkpoint from labelled nights."""
    raise NotImplementedError
