"""``sleepfm demo``: the whole pipeline on a synthetic cohort, from nothing to a report."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer


def demo_command(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder (created; a previous demo's is replaced).")
                   ] = Path("demo_out"),
    size: Annotated[str, typer.Option("--size", help="test (seconds), small or default (the README's run).")
                    ] = "default",
    seed: Annotated[int, typer.Option("--seed", help="Seed of the cohort, the split and every training step.")] = 0,
) -> None:
    """Synthesise PSG nights → preprocess → pretrain → embed → stage → evaluate → disease risk → evaluate."""
    if "torch" not in sys.modules:
        # OpenMP threads that spin while they wait make torch 5-10x slower as soon as another
        # process competes for the cores; passive waiting costs next to nothing when they are free.
        # Read once, when torch loads, so it can only be set here, before the first import.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from sleepfm.demo.pipeline import run_demo

    run_demo(out, size=size, seed=seed)
