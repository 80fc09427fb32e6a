"""The ``qc`` and ``calibrate-reference`` commands (registered by :mod:`sleepfm.plugins.quality`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sleepfm.cli import options as opt
from sleepfm.cli.console import error_line, warning_line
from sleepfm.cli.console import out as stdout
from sleepfm.cli.options import ConfigOption, SetOption, executor_cli
from sleepfm.cli.progress import study_progress
from sleepfm.clinical.prepare import PrepareSettings
from sleepfm.errors import UsageError


def qc_command(
    inputs: Annotated[list[Path] | None, typer.Argument(
        help="EDF/BDF recordings or signal stores (.h5): files, folders (searched recursively) or glob patterns.",
        show_default=False)] = None,
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
    workers: Annotated[int | None, typer.Option(
        "--workers", "-j", min=1, help="CPU cores: studies checked at once (worker processes), threads within one.",
        show_default=False)] = None,
    executor: opt.ExecutorOption = None,
    scheduler: opt.SchedulerOption = None,
    shard: opt.ShardOption = None,
    quiet: opt.QuietOption = False,
    config: ConfigOption = None,
    overrides: SetOption = None,
) -> None:
    """Check signal quality: per study a flag table, a summary with a verdict and a heat map."""
    from sleepfm.config import load_config
    from sleepfm.config.quality import QcConfig
    from sleepfm.quality.run import run_qc, summary_name

    cli = {"inputs": [str(p) for p in inputs] if inputs else None, "out": out,
           "hypnograms": [str(p) for p in hypnogram] if hypnogram else None,
           "hypnogram_format": hypnogram_format, "channel_map": channel_map, "plot": False if no_plot else None,
           "workers": workers, **executor_cli(executor, scheduler, shard)}
    resolved = load_config(config, workflow="qc", cli=cli, overrides=overrides or [])
    assert isinstance(resolved, QcConfig)

    def say(line: str) -> None:
        if line.startswith("error: "):
            error_line(line.removeprefix("error: "))
        elif ": usable" in line:
            if not quiet:
                stdout.print(f"[green]✓[/] {line}", highlight=False)
        else:
            warning_line(line)

    with study_progress("qc", quiet=quiet) as progress:
        results = run_qc(resolved, notify=say, on_start=progress.start,
                         on_done=lambda result: progress.advance(result.stem))
    failed = [r for r in results if r.quality is None]
    counts = {v: sum(r.quality is not None and r.quality.verdict == v for r in results)
              for v in ("usable", "degraded", "unusable")}
    stdout.print(f"{counts['usable']} usable, {counts['degraded']} degraded, {counts['unusable']} unusable, "
                 f"{len(failed)} failed → {resolved.out / summary_name(resolved.shard)}", highlight=False)
    if failed:
        raise typer.Exit(1)


def calibrate_reference_command(
    recordings: Annotated[list[Path], typer.Argument(help="EDF/BDF recordings of the lab (a few labelled nights).",
                                                     show_default=False)],
    checkpoints: Annotated[Path, typer.Option(
        "--checkpoints", help="Folder laid out like the release's checkpoints/ (model_base/, ...).",
        show_default=False)],
    hypnogram: Annotated[list[Path] | None, typer.Option(
        "--hypnogram", help="Scored hypnogram of each recording, in order (repeatable): each night's κ is kept.",
        show_default=False)] = None,
    hypnogram_format: Annotated[str, typer.Option("--hypnogram-format", help="Label reader for --hypnogram.")
                                ] = "auto",
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Where to write reference_statistics.json (a file or folder; default: "
        "<checkpoints>/model_base/, where stage, risk and run look for it).", show_default=False)] = None,
    device: Annotated[str, typer.Option("--device", help="auto, cpu or cuda.")] = "auto",
    channel_map: Annotated[Path | None, typer.Option(
        "--channel-map", help="channel_groups.json-shaped label table.", show_default=False)] = None,
    work: Annotated[Path | None, typer.Option(
        "--work", help="Keep the signal and embedding stores here; default: a temporary folder.",
        show_default=False)] = None,
) -> None:
    """Build the foreign-data reference of a checkpoint from a lab's own nights (docs/quality.md)."""
    from sleepfm.quality.reference import calibrate

    if device not in ("auto", "cpu", "cuda"):
        raise UsageError(f"invalid value for --device: allowed values are auto, cpu and cuda, but got {device!r}")

    def say(message: str) -> None:
        if message.startswith("warning: "):
            warning_line(message.removeprefix("warning: "))

    reference, path, done = calibrate(recordings, checkpoints, hypnograms=hypnogram or [],
                                      hypnogram_format=hypnogram_format, out=out, work=work,
                                      settings=PrepareSettings(device=device, channel_map=channel_map), notify=say)
    for night in reference.nights:
        kappa = f", κ {night['kappa']:.2f} against its hypnogram" if "kappa" in night else ""
        stdout.print(f"[green]✓[/] {night['file']}{kappa}", highlight=False)
        if night.get("kappa", 1.0) < 0.4:
            warning_line(f"{night['file']}: the model stages this night poorly (κ {night['kappa']:.2f}): the "
                         "reference says what the model saw, not that it works there — fine-tune on these nights "
                         "(`sleepfm finetune staging`)")
    for recording in done:
        if not recording.ok:
            error_line(f"{recording.source}: {recording.failed_step} failed: {recording.error}")
    modalities = ", ".join(f"{m} {v['embeddings']} embeddings" for m, v in reference.modalities.items())
    stdout.print(f"reference of {len(reference.nights)} night(s) ({modalities}) → {path}", highlight=False)
    if any(not r.ok for r in done):
        raise typer.Exit(1)
