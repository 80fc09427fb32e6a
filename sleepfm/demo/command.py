"""``sleepfm demo``: the whole pipeline on a synthetic cohort, from nothing to a report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def demo_command(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder (created).")] = Path("demo_out"),
    size: Annotated[str, typer.Option("--size", help="test (seconds), small or default (the README's run).")
                    ] = "default",
    seed: Annotated[int, typer.Option("--seed", help="Seed of the cohort and of every training step.")] = 0,
) -> None:
    """Synthesise PSG nights → preprocess → pretrain → embed → stage → evaluate → disease risk → evaluate."""
    from sleepfm.demo.pipeline import run_demo

    run_demo(out, size=size, seed=seed)
