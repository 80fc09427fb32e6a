"""``sleepfm demo``: a synthetic cohort through the whole toolkit, ending in ``report.json``.

Steps (each timed, each through the same public API a user calls):

1. synthesise the cohort (:mod:`sleepfm.demo.synth`) as EDF nights + hypnograms + outcomes;
2. ``sleepfm.preprocess`` → 128 Hz signal stores;
3. split by participant (a participant's two visits never straddle splits);
4. contrastive pretraining of a small SetTransformer on the training nights;
5. ``sleepfm.embed`` every night with the pretrained model;
6. fine-tune a staging head → ``sleepfm evaluate staging`` on the held-out nights;
7. fine-tune a CoxPH head (with age and sex) → ``sleepfm evaluate diagnosis``;
8. ``report.json``, plots, and a summary table.

Layout of ``out``::

    cohort/        the synthetic EDFs, hypnograms, outcome tables (sleepfm.demo.synth)
    signals/       preprocessed signal stores
    split.json     the participant-level split
    runs/          pretrain/, staging/, diagnosis/ training runs (checkpoints, metrics)
    embeddings/    per-study embedding files
    evaluation/    staging/ and diagnosis/ metrics, tables and plots
    checkpoints/   the three trained networks laid out like the release's checkpoints/ folder
                   (model_base/, model_sleep_staging/, model_diagnosis/ with its label_mapping.csv),
                   so that ``sleepfm stage|risk|run --checkpoints <out>/checkpoints`` run at once
    report.json    the figures below, the timings, the settings
"""

from __future__ import annotations

import json
import logging
import os
import platform
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console

import sleepfm
from sleepfm import __version__
from sleepfm.config import load_config
from sleepfm.demo.sizes import SIZES, DemoSize
from sleepfm.demo.synth import synthesize_cohort
from sleepfm.errors import InputError, UsageError
from sleepfm.evaluate.diagnosis import SurvivalLabels, evaluate_diagnosis
from sleepfm.evaluate.run import evaluate_from_config
from sleepfm.evaluate.staging import STAGE_NAMES
from sleepfm.json_output import write_json
from sleepfm.labels.tables import read_demographics
from sleepfm.train.splits import ParticipantMap, generate_split, write_split_file

log = logging.getLogger(__name__)

#: What a demo writes in ``out``; a folder holding only these may be reused (they are replaced).
OUTPUTS = ("cohort", "signals", "split.json", "runs", "embeddings", "evaluation", "checkpoints", "report.json")
SPLITS = ("train", "validation", "test")


class StepTimer:
    """Times named steps and prints one line per finished step."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.seconds: dict[str, float] = {}

    @contextmanager
    def step(self, name: str, what: str) -> Iterator[None]:
        self.console.print(f"[bold cyan]▶[/] {what}", highlight=False)
        start = time.perf_counter()
        yield
        self.seconds[name] = round(time.perf_counter() - start, 2)
        self.console.print(f"  [green]✓[/] {name} in {self.seconds[name]:.1f} s", highlight=False)


def prepare_out(out: Path) -> Path:
    """Create ``out``, or clear a previous demo's outputs from it; refuse a folder holding other files."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UsageError("the output path is a file", where=out, fix="choose a folder for --out")
    if out.is_dir():
        foreign = sorted(p.name for p in out.iterdir() if p.name not in OUTPUTS)
        if foreign:
            raise UsageError(f"the output folder holds files the demo did not write (e.g. {foreign[0]})", where=out,
                             fix="choose an empty or new folder for --out")
        for name in OUTPUTS:
            target = out / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
    out.mkdir(parents=True, exist_ok=True)
    return out


def run_demo(out: Path, *, size: str = "default", seed: int = 0, console: Console | None = None) -> dict[str, Any]:
    """Run the demo into ``out`` and return the report (also written to ``out/report.json``)."""
    if size not in SIZES:
        raise UsageError(f"unknown demo size {size!r}", fix=f"use one of {', '.join(SIZES)}")
    from sleepfm.cli.console import out as default_console

    console = console or default_console
    settings = SIZES[size]
    out = prepare_out(out)
    timer = StepTimer(console)
    started = time.perf_counter()
    workers = max(1, min(2, os.cpu_count() or 1))
    console.print(f"[bold]sleepfm demo[/] ({size}, seed {seed}) → {out}", highlight=False)

    with timer.step("synthesize", f"synthesising {settings.cohort.participants} participants' nights as EDF"):

        cohort = synthesize_cohort(out / "cohort", settings.cohort_spec(seed), workers=workers)
    with timer.step("preprocess", f"preprocessing {len(cohort.studies)} EDF files to 128 Hz signal stores"):
        preprocess(cohort.psg, out / "signals", workers)
    with timer.step("split", "splitting by participant"):
        split = write_split(out, cohort, settings, seed)
    with timer.step("pretrain", "contrastive pretraining (BAS, RESP, EKG, EMG)"):
        pretrain_run = train("pretrain", out / "runs" / "pretrain", settings.pretrain_overrides(out, seed))
    with timer.step("embed", "embedding every night with the pretrained model"):
        embed(out, pretrain_run)
    with timer.step("finetune_staging", "fine-tuning the staging head"):
        train("finetune-staging", out / "runs" / "staging", settings.staging_overrides(out, cohort, seed))
    with timer.step("evaluate_staging", "evaluating staging on the held-out nights"):
        staging = evaluate(out, "staging", settings)
    with timer.step("finetune_diagnosis", "fine-tuning the CoxPH disease-risk head (with age and sex)"):
        train("finetune-diagnosis", out / "runs" / "diagnosis", settings.diagnosis_overrides(out, cohort, seed))
    with timer.step("evaluate_diagnosis", "evaluating disease risk on the held-out participants"):
        diagnosis = evaluate(out, "diagnosis", settings)

    with timer.step("checkpoints", "laying the trained networks out like the release's checkpoints/ folder"):
        checkpoints = collect_checkpoints(out, cohort)

    timings = {**timer.seconds, "total": round(time.perf_counter() - started, 2)}
    report = build_report(out, size, seed, settings, cohort, split, staging, diagnosis, timings)

    write_json(out / "report.json", report)
    print_summary(console, report)
    console.print(f"Checkpoints laid out like the release's: {checkpoints} (use them with --checkpoints to try "
                  "stage, risk and run; trained on synthetic nights)", highlight=False)
    console.print(f"report → {out / 'report.json'}; figures, models and every step's outputs in {out}",
                  highlight=False)
    return report


def preprocess(psg: Path, signals: Path, workers: int) -> None:
    failures = sleepfm.preprocess([psg], signals, workers=workers).failures
    if failures:
        raise InputError(f"{len(failures)} synthetic nights failed to preprocess ({failures[0].error})", where=psg)


def write_split(out: Path, cohort: Any, settings: DemoSize, seed: int) -> dict[str, list[str]]:
    """Participants, not nights, are assigned: the split file lists signal stores per split."""
    ids = generate_split(cohort.studies, ParticipantMap(cohort.participants_csv),
                         fractions={"validation": settings.validation_fraction, "test": settings.test_fraction},
                         rest="train", seed=seed)
    # Pretraining uses the same training nights, so nothing about the test nights reaches the encoder.
    split = {name: ids[name] for name in SPLITS}
    write_split_file(out / "split.json", {name: [f"{s}.h5" for s in members] for name, members in split.items()})
    return split


def train(workflow: str, run: Path, overrides: list[str]) -> Path:
    from sleepfm.train.run import run_training

    config = load_config(None, workflow=workflow, cli={"out": run}, overrides=overrides)
    run_training(config)
    return run


def embed(out: Path, pretrain_run: Path) -> None:
    model = pretrain_run / "best" if (pretrain_run / "best").is_dir() else pretrain_run / "final"
    sleepfm.embed([out / "signals"], checkpoint=model, out=out / "embeddings")


def evaluate(out: Path, task: str, settings: DemoSize) -> Any:
    overrides = [f"task={task}", f"checkpoint={out / 'runs' / task}", f"out={out / 'evaluation' / task}",
                 f"bootstrap.samples={settings.bootstrap}", "hypnogram_plots=3"]
    if task == "diagnosis":
        overrides.append(f"label_mapping={out / 'cohort' / 'labels' / 'label_mapping.csv'}")
    return evaluate_from_config(load_config(None, workflow="evaluate", overrides=overrides))  # type: ignore[arg-type]


def collect_checkpoints(out: Path, cohort: Any) -> Path:
    """``out/checkpoints/``: each run's best model in the release's layout, the diagnosis head with a
    ``label_mapping.csv`` naming its outputs (the outcome columns, in the order it was trained on)."""
    import pandas as pd

    folder = out / "checkpoints"
    for role, run in (("model_base", "pretrain"), ("model_sleep_staging", "staging"), ("model_diagnosis", "diagnosis")):
        source = out / "runs" / run / "best"
        shutil.copytree(source if source.is_dir() else source.parent / "final", folder / role)
    outcomes = pd.read_csv(cohort.is_event, nrows=0).columns[1:]
    names = pd.read_csv(cohort.label_mapping, dtype={"phecode": str}).set_index("phecode")["phenotype"]
    pd.DataFrame({"label_idx": range(len(outcomes)), "phecode": outcomes, "phenotype": names.loc[outcomes].values}
                 ).to_csv(folder / "model_diagnosis" / "label_mapping.csv", index=False)
    return folder


def build_report(out: Path, size: str, seed: int, settings: DemoSize, cohort: Any, split: dict[str, list[str]],
                 staging: Any, diagnosis: Any, timings: dict[str, float]) -> dict[str, Any]:
    import torch


    tokens, epochs = staging.evaluation.tokens, staging.evaluation.epochs
    summary = diagnosis.evaluation.summary()
    manifest = json.loads(cohort.manifest.read_text())
    plots = sorted(str(p.relative_to(out)) for p in (out / "evaluation").rglob("*.png"))
    return {
        "sleepfm_version": __version__,
        "size": size,
        "seed": seed,
        "machine": {"cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                    "python": platform.python_version(), "torch": torch.__version__, "platform": platform.platform()},
        "cohort": {"participants": settings.cohort.participants, "studies": len(cohort.studies),
                   "hours": round(sum(n["minutes"] for n in manifest["nights"]) / 60, 2),
                   "split": {name: len(split[name]) for name in SPLITS}},
        "staging": {
            "resolution": "5s", "macro_f1": tokens.macro_f1, "kappa": tokens.kappa, "accuracy": tokens.accuracy,
            "n_tokens": tokens.n, "per_class_f1": staging_f1(tokens),
            "epochs_30s": {"macro_f1": epochs.macro_f1, "kappa": epochs.kappa, "accuracy": epochs.accuracy,
                           "n_epochs": epochs.n, "per_class_f1": staging_f1(epochs)},
            "n_studies": len(staging.studies),
        },
        "diagnosis": {
            "c_index": summary["mean_harrell_c"], "uno_c_index": summary["mean_uno_c"],
            "n_studies": summary["n_studies"],
            "baselines": reference_c_indices(cohort, list(diagnosis.risk.index)),
            "outcomes": [{k: row.get(k) for k in ("phecode", "phenotype", "events", "harrell_c", "harrell_ci_low",
                                                  "harrell_ci_high", "uno_c", "harrell_status")}
                         for row in summary["outcomes"]],
        },
        "timings_seconds": timings,
        "plots": plots,
        "thresholds": {"staging.macro_f1": settings.min_macro_f1, "diagnosis.c_index": settings.min_c_index},
    }


def reference_c_indices(cohort: Any, studies: list[str]) -> dict[str, float]:
    """Mean Harrell's C of two yardsticks on the same test studies: age alone, and the planted
    risk trait itself (the best any model of the nights could do, up to noise)."""
    import pandas as pd


    labels = SurvivalLabels.read(cohort.is_event, cohort.time_to_event)
    covariates, names = read_demographics(cohort.demographics)
    age = {study: values[names.index("age")] for study, values in covariates.items()}
    trait = {n["study"]: n["risk"] for n in json.loads(cohort.manifest.read_text())["nights"]}
    scores = {"age_only": [age[s] for s in studies], "planted_trait": [trait[s] for s in studies]}
    return {
        name: evaluate_diagnosis(pd.DataFrame({p: values for p in labels.phecodes}, index=studies), labels,
                                 samples=0).summary()["mean_harrell_c"]
        for name, values in scores.items()
    }


def staging_f1(metrics: Any) -> dict[str, float]:
    return {name: float(value) for name, value in zip(STAGE_NAMES, metrics.f1, strict=True)}


def print_summary(console: Console, report: dict[str, Any]) -> None:
    from rich.table import Table

    steps = Table(title="Steps", show_edge=False)
    steps.add_column("step")
    steps.add_column("seconds", justify="right")
    for name, seconds in report["timings_seconds"].items():
        steps.add_row(name.replace("_", " "), f"{seconds:.1f}", style="bold" if name == "total" else None)
    staging, diagnosis = report["staging"], report["diagnosis"]
    results = Table(title=f"Held-out synthetic nights ({report['cohort']['split']['test']} test studies)",
                    show_edge=False)
    results.add_column("task")
    results.add_column("metric")
    results.add_column("value", justify="right")
    results.add_column("target", justify="right")
    target = report["thresholds"]
    results.add_row("staging (5 s)", "macro-F1", f"{staging['macro_f1']:.3f}", f"≥ {target['staging.macro_f1']}")
    results.add_row("", "Cohen's κ", f"{staging['kappa']:.3f}", "")
    results.add_row("", "accuracy", f"{staging['accuracy']:.3f}", "")
    for name, value in staging["per_class_f1"].items():
        results.add_row("", f"F1 {name}", f"{value:.3f}", "")
    epochs = staging["epochs_30s"]
    results.add_row("staging (30 s)", "macro-F1", f"{epochs['macro_f1']:.3f}", "")
    results.add_row("", "Cohen's κ", f"{epochs['kappa']:.3f}", "")
    results.add_row("disease risk", "mean Harrell's C", f"{diagnosis['c_index']:.3f}",
                    f"≥ {target['diagnosis.c_index']}")
    baselines = diagnosis["baselines"]
    results.add_row("", "  age alone", f"{baselines['age_only']:.3f}", "", style="dim")
    results.add_row("", "  the planted trait itself", f"{baselines['planted_trait']:.3f}", "", style="dim")
    for row in diagnosis["outcomes"]:
        value = row["harrell_c"]
        shown = f"{value:.3f}" if isinstance(value, float) and value == value else row["harrell_status"]
        results.add_row("", f"C {row['phenotype']}", shown, "")
    console.print(steps)
    console.print(results)
    console.print("This is synthetic data: the figures show the pipeline learns, not how it does on real nights.",
                  style="dim", highlight=False)
