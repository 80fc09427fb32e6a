"""``sleepfm pretrain`` and ``sleepfm finetune staging|diagnosis``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sleepfm.cli.console import err, out
from sleepfm.cli.options import ConfigOption, SetOption
from sleepfm.config import load_config
from sleepfm.config.base import RESOLVED_CONFIG_NAME

OutOption = Annotated[
    Path | None,
    typer.Option("--out", "-o", help="Run folder: checkpoints, best/ and final/ models, metrics.", show_default=False),
]
ResumeOption = Annotated[
    bool,
    typer.Option("--resume", help="Continue the run in --out from its latest checkpoint (same result as "
                 "an uninterrupted run)."),
]


def _run(workflow: str, config: Path | None, overrides: list[str] | None, run_dir: Path | None, resume: bool) -> None:
    from sleepfm.train.run import run_training

    if config is None and resume and run_dir is not None and (run_dir / RESOLVED_CONFIG_NAME).is_file():
        # `--resume --out RUN` alone continues the run with the config it started with.
        config = run_dir / RESOLVED_CONFIG_NAME
    resolved = load_config(config, workflow=workflow, cli={"out": run_dir}, overrides=overrides or [])
    summary = run_training(resolved, resume=resume, console=err)
    if summary["best"]:
        best = (f"best validation loss {summary['best_validation_loss']:.4f} (step {summary['best_step']}) "
                f"→ {summary['best']}")
    else:
        best = "no validation split, so no best model"
    out.print(f"[green]✓[/] {workflow}: {summary['steps']} steps in {summary['seconds']:.1f} s; {best}; "
              f"final → {summary['final']}", highlight=False)


def pretrain_command(config: ConfigOption = None, overrides: SetOption = None, run_dir: OutOption = None,
                     resume: ResumeOption = False) -> None:
    """Contrastive pretraining of a base model on 128 Hz signal stores (single process or torchrun)."""
    _run("pretrain", config, overrides, run_dir, resume)


finetune_app = typer.Typer(help="Fine-tune a head on embeddings: sleep staging or disease risk.",
                           no_args_is_help=True)


@finetune_app.command("staging")
def finetune_staging_command(config: ConfigOption = None, overrides: SetOption = None, run_dir: OutOption = None,
                             resume: ResumeOption = False) -> None:
    """Train a staging head on 5-s embeddings and hypnograms (Wake, N1, N2, N3, REM)."""
    _run("finetune-staging", config, overrides, run_dir, resume)


@finetune_app.command("diagnosis")
def finetune_diagnosis_command(config: ConfigOption = None, overrides: SetOption = None, run_dir: OutOption = None,
                               resume: ResumeOption = False) -> None:
    """Train a disease-risk (CoxPH) head on embeddings, outcomes and demographics."""
    _run("finetune-diagnosis", config, overrides, run_dir, resume)
