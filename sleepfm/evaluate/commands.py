"""``sleepfm evaluate staging`` and ``sleepfm evaluate diagnosis``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from sleepfm.cli.options import ConfigOption, SetOption
from sleepfm.config import load_config
from sleepfm.config.base import read_yaml
from sleepfm.errors import ConfigError

evaluate_app = typer.Typer(
    help="Score a staging or diagnosis head on held-out studies (metrics, CSV/JSON tables, plots).",
    no_args_is_help=True,
)

PathOption = Annotated[Path | None, typer.Option(show_default=False)]


def _opt(*names: str, help: str) -> Any:
    return typer.Option(*names, help=help, show_default=False)


def _checked(config: Path | None, task: str) -> Path | None:
    """Refuse a config file written for the other task (the sub-command decides the task)."""
    if config is not None:
        declared = read_yaml(config).get("task", task)
        if declared != task:
            raise ConfigError(f"task: this file is for evaluate {declared}, not evaluate {task}", where=config,
                              fix=f"use `sleepfm evaluate {declared}` or a {task} config")
    return config


@evaluate_app.command("staging")
def staging_command(
    config: ConfigOption = None,
    overrides: SetOption = None,
    checkpoint: Annotated[Path | None, _opt("--checkpoint", help="Staging head checkpoint folder.")] = None,
    embeddings: Annotated[Path | None, _opt("--embeddings", help="Folder of embedding files.")] = None,
    labels: Annotated[Path | None, _opt("--labels", help="Folder of hypnograms.")] = None,
    split_file: Annotated[Path | None, _opt("--split-file", help="dataset_split.json-shaped file.")] = None,
    split: Annotated[str | None, _opt("--split", help="Split to evaluate (default test).")] = None,
    predictions: Annotated[Path | None, _opt("--predictions", help="Re-score a staging_predictions.npz.")] = None,
    scored: Annotated[list[Path] | None, _opt(
        "--scored", help="A further scorer's hypnogram folder (repeatable): inter-scorer kappa beside the "
        "model's.")] = None,
    out: Annotated[Path | None, _opt("--out", "-o", help="Output folder.")] = None,
    device: Annotated[str | None, _opt("--device", help="auto, cpu or cuda.")] = None,
) -> None:
    """Per-class F1, macro-F1, kappa, confusion matrices at 5 s and 30 s; Bland–Altman and ICC of the
    night's statistics; inter-scorer kappa with --scored."""
    from sleepfm.evaluate.run import evaluate_from_config, print_staging

    cli = {"task": "staging", "checkpoint": checkpoint, "predictions": predictions, "out": out, "split": split,
           "device": device, "scored": scored or None,
           "staging": {"embeddings": embeddings, "labels": labels, "split": {"file": split_file}}}
    cfg = load_config(_checked(config, "staging"), workflow="evaluate", cli=cli, overrides=overrides or [])
    print_staging(evaluate_from_config(cfg), cfg)  # type: ignore[arg-type]


@evaluate_app.command("diagnosis")
def diagnosis_command(
    config: ConfigOption = None,
    overrides: SetOption = None,
    checkpoint: Annotated[Path | None, _opt("--checkpoint", help="Diagnosis head checkpoint folder.")] = None,
    embeddings: Annotated[Path | None, _opt("--embeddings", help="Folder of embedding files.")] = None,
    labels: Annotated[Path | None, _opt(
        "--labels", help="Folder holding is_event.csv, time_to_event.csv (and demographics.csv).")] = None,
    is_event: Annotated[Path | None, _opt("--is-event", help="is_event.csv (overrides --labels).")] = None,
    time_to_event: Annotated[Path | None, _opt("--time-to-event", help="time_to_event.csv.")] = None,
    demographics: Annotated[Path | None, _opt(
        "--demographics", help="Study ID,age,sex or Study ID,age,gender CSV (docs/tables.md).")] = None,
    split_file: Annotated[Path | None, _opt("--split-file", help="dataset_split.json-shaped file.")] = None,
    split: Annotated[str | None, _opt("--split", help="Split to evaluate (default test).")] = None,
    predictions: Annotated[Path | None, _opt("--predictions", help="Re-score a risk_scores.csv.")] = None,
    label_mapping: Annotated[Path | None, _opt(
        "--label-mapping", help="label_idx,phecode,phenotype CSV for phenotype names.")] = None,
    tau: Annotated[float | None, _opt("--tau", help="Truncation time for Uno's C.")] = None,
    bootstrap: Annotated[int | None, _opt("--bootstrap", help="Bootstrap resamples (0: no CIs).")] = None,
    out: Annotated[Path | None, _opt("--out", "-o", help="Output folder.")] = None,
    device: Annotated[str | None, _opt("--device", help="auto, cpu or cuda.")] = None,
) -> None:
    """Harrell's and Uno's C per phecode with bootstrap CIs, joined with phenotype names."""
    from sleepfm.evaluate.run import evaluate_from_config, print_diagnosis

    folder = {}
    if labels is not None:
        folder = {"is_event": labels / "is_event.csv", "time_to_event": labels / "time_to_event.csv"}
        if (labels / "demographics.csv").is_file():
            folder["demographics"] = labels / "demographics.csv"
    data = {**folder, **{k: v for k, v in (("is_event", is_event), ("time_to_event", time_to_event),
                                           ("demographics", demographics)) if v is not None}}
    cli = {"task": "diagnosis", "checkpoint": checkpoint, "predictions": predictions, "out": out, "split": split,
           "device": device, "label_mapping": label_mapping, "tau": tau, "bootstrap": {"samples": bootstrap},
           "diagnosis": {"embeddings": embeddings, **data, "split": {"file": split_file}}}
    cfg = load_config(_checked(config, "diagnosis"), workflow="evaluate", cli=cli, overrides=overrides or [])
    print_diagnosis(evaluate_from_config(cfg), cfg)  # type: ignore[arg-type]
