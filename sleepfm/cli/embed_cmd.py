"""``sleepfm embed``: HDF5 signal files → per-modality 5-s and 5-min embeddings."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from sleepfm.cli import options as opt
from sleepfm.cli.checkpoint_cmd import checkpoint_errors
from sleepfm.cli.console import err, error_line, out, warning_line
from sleepfm.cli.options import ConfigOption, SetOption, executor_cli
from sleepfm.cli.progress import study_progress
from sleepfm.errors import InputError, UsageError


def embed_command(
    inputs: Annotated[
        list[Path] | None, typer.Argument(help="HDF5 signal files or folders.", show_default=False)
    ] = None,
    checkpoint: Annotated[
        Path | None, typer.Option("--checkpoint", help="Base model folder (published or sleepfm).", show_default=False)
    ] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Output folder.", show_default=False)] = None,
    channel_map: Annotated[
        Path | None,
        typer.Option("--channel-map", help="channel_groups.json-shaped table for every file.", show_default=False),
    ] = None,
    batch_size: Annotated[
        int | None,
        typer.Option("--batch-size", help="5-minute segments per forward pass (default 16).", show_default=False),
    ] = None,
    device: Annotated[
        str | None, typer.Option("--device", help="auto, cpu or cuda (default auto).", show_default=False)
    ] = None,
    precision: Annotated[
        str | None, typer.Option("--precision", help="fp32, bf16 or auto (bf16 where the CPU has AMX; default fp32).",
                                  show_default=False)
    ] = None,
    layout: Annotated[
        str | None, typer.Option("--layout", help="sleepfm or published (default sleepfm).", show_default=False)
    ] = None,
    partial_chunk: Annotated[
        str | None,
        typer.Option("--partial-chunk", help="drop or pad a trailing partial 5-min chunk (default drop).",
                     show_default=False),
    ] = None,
    quality: Annotated[
        str | None,
        typer.Option("--quality", help="mask: leave channels out of the 5-min chunks where quality checks flag "
                     "them; off: feed every channel (default mask; docs/quality.md).", show_default=False),
    ] = None,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Redo studies whose output exists (by default one made with the same settings is kept).")
    ] = False,
    workers: Annotated[
        int | None,
        typer.Option("--workers", "-j", min=1, help="Studies at once: worker processes (default 1: this process, "
                     "on every core).", show_default=False),
    ] = None,
    executor: opt.ExecutorOption = None,
    scheduler: opt.SchedulerOption = None,
    shard: opt.ShardOption = None,
    quiet: opt.QuietOption = False,
    config: ConfigOption = None,
    overrides: SetOption = None,
) -> None:
    """Embed preprocessed studies: one file per study with /5s/<MODALITY> and /5min/<MODALITY>."""
    from sleepfm.config import EmbedConfig, load_config
    from sleepfm.embedding.api import run_embed
    from sleepfm.embedding.runner import StudyFailure

    cli = {
        "inputs": [str(p) for p in inputs] if inputs else None, "checkpoint": checkpoint, "out": out_dir,
        "channel_map": channel_map, "batch_size": batch_size, "device": device, "precision": precision,
        "layout": layout, "partial_chunk": partial_chunk, "workers": workers, "quality": {"mode": quality},
        "overwrite": True if overwrite else None,
        **executor_cli(executor, scheduler, shard),
    }
    resolved = load_config(config, workflow="embed", cli=cli, overrides=overrides or [])
    assert isinstance(resolved, EmbedConfig)
    if resolved.out is None:
        raise UsageError("no output folder", fix="pass --out DIR")

    started = time.perf_counter()
    done, failed, chunks, hours = 0, [], 0, 0.0
    with checkpoint_errors(), study_progress("embed", quiet=quiet) as progress:
        for outcome in run_embed(resolved, notify=warning_line, on_start=progress.start,
                                 inform=lambda line: err.print(line, highlight=False, markup=False)):
            progress.advance(outcome.path.name if isinstance(outcome, StudyFailure) else outcome.plan.path.name)
            if isinstance(outcome, StudyFailure):
                failed.append(outcome)
                continue
            plan = outcome.plan
            done, chunks, hours = done + 1, chunks + plan.n_chunks, hours + plan.duration / 3600
            used = ", ".join(f"{m.value} {len(names)}" for m, names in plan.channels.items())
            missing = f"; [yellow]no {', '.join(m.value for m in plan.missing)}[/]" if plan.missing else ""
            padded = f"; last chunk padded ({plan.padded_tokens} patches masked)" if plan.padded_tokens else ""
            masking = outcome.masks.record() if outcome.masks is not None else {}
            if masking.get("masked_fraction"):
                padded += (f"; [yellow]{100 * masking['masked_fraction']:.1f} % of channel-chunks left out by quality"
                           f" masking[/]")
            out.print(f"[green]✓[/] {plan.stem}: {plan.n_chunks} chunks, channels {used}{missing}{padded} → "
                      f"{', '.join(str(p) for p in outcome.outputs)}", highlight=False)
    if done:
        out.print(f"embedded {done} {'study' if done == 1 else 'studies'} ({chunks} five-minute chunks, "
                  f"{hours:.1f} h of recording) in {time.perf_counter() - started:.1f} s → {resolved.out}",
                  highlight=False)
    if failed:
        if len(failed) == 1 and not done:
            raise failed[0].error
        for failure in failed:
            error_line(str(failure.error))
        raise InputError(f"{len(failed)} of {len(failed) + done} studies were not embedded (reasons above)")
