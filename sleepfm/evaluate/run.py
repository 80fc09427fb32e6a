"""Evaluation runs: predictions (from a head or a saved file) → metrics → files in ``out``.

Nothing is written until every metric is computed, so a bad input leaves no partial output;
each file is written atomically. The resolved config is saved beside the results.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from sleepfm.config import save_resolved_config
from sleepfm.config.evaluate import EvaluateConfig
from sleepfm.errors import InputError, UsageError
from sleepfm.evaluate.agreement import (
    MODEL,
    AgreementReport,
    agreement_report,
    nights_from_predictions,
    scorer_names,
    write_agreement,
)
from sleepfm.evaluate.diagnosis import (
    DiagnosisEvaluation,
    SurvivalLabels,
    evaluate_diagnosis,
    write_diagnosis_report,
)
from sleepfm.evaluate.inference import outcome_tables, predict_risk, predict_staging, split_ids
from sleepfm.evaluate.predictions import (
    RISK_FILE,
    STAGING_FILE,
    is_published_folder,
    load_published_diagnosis,
    load_published_staging,
    load_staging_predictions,
    read_risk_scores,
    save_staging_predictions,
    write_risk_scores,
)
from sleepfm.evaluate.staging import (
    STAGE_NAMES,
    StagingEvaluation,
    StudyPredictions,
    evaluate_staging,
    plot_study,
    write_staging_report,
)
from sleepfm.labels.tables import read_label_mapping
from sleepfm.train.labels import find_label_files, read_stage_tokens

log = logging.getLogger(__name__)


@dataclass
class StagingRun:
    evaluation: StagingEvaluation
    out: Path
    studies: list[StudyPredictions]
    files: list[Path] = field(default_factory=list)
    agreement: AgreementReport | None = None


@dataclass
class DiagnosisRun:
    evaluation: DiagnosisEvaluation
    out: Path
    risk: pd.DataFrame
    files: list[Path] = field(default_factory=list)


def evaluate_from_config(config: EvaluateConfig) -> StagingRun | DiagnosisRun:
    """Run the evaluation ``config`` describes and write its outputs."""
    if config.out is None:
        raise UsageError("no output folder", fix="pass --out DIR (or set out: in the config)")
    if config.predictions is None and config.checkpoint is None:
        raise UsageError("nothing to evaluate", fix="pass --checkpoint DIR (a trained head) or --predictions FILE")
    if config.predictions is not None and config.checkpoint is not None:
        raise UsageError("both --checkpoint and --predictions given", fix="score one or the other")
    if config.task == "staging":
        return run_staging(config)
    return run_diagnosis(config)


def run_staging(config: EvaluateConfig) -> StagingRun:
    out = Path(config.out)  # type: ignore[arg-type]
    if config.predictions is not None and is_published_folder(config.predictions):
        studies = load_published_staging(config.predictions)
    elif config.predictions is not None:
        studies = load_staging_predictions(config.predictions)
    else:

        studies = predict_staging(config)
    evaluation = evaluate_staging(studies)
    extra = [_scorer_tokens(folder, studies) for folder in config.scored]
    scorers = scorer_names(1 + len(extra))
    report = agreement_report(nights_from_predictions(studies, extra), MODEL, scorers)
    run = StagingRun(evaluation, out, studies, agreement=report)
    run.files = write_staging_report(evaluation, out, agreement={
        **report.summary(), "scorers": {scorers[0]: "labels", **{n: str(f) for n, f in zip(
            scorers[1:], config.scored, strict=True)}}})
    run.files += write_agreement(report, out, [f"{MODEL} vs {scorer}" for scorer in scorers])
    for study in sorted(studies, key=lambda s: s.study_id)[: config.hypnogram_plots]:
        run.files.append(plot_study(study, out / "hypnograms" / f"{study.study_id}.png"))
    if config.predictions is None:
        run.files.append(save_staging_predictions(out / STAGING_FILE, studies))
    run.files.append(save_resolved_config(config, out))
    return run


def _scorer_tokens(folder: Path, studies: list[StudyPredictions]) -> dict[str, object]:
    """A further scorer's 5-s stages of the evaluated studies it has (``--scored`` folder)."""
    if not Path(folder).is_dir():
        raise InputError("scorer folder not found", where=folder, fix="--scored takes a folder of hypnograms")
    files = find_label_files(folder)
    found = {s.study_id: read_stage_tokens(files[s.study_id]) for s in studies if s.study_id in files}
    if not found:
        raise InputError("no hypnogram of an evaluated study in this scorer folder", where=folder,
                         fix="name the files by study ID, as in the labels folder")
    return found


def run_diagnosis(config: EvaluateConfig) -> DiagnosisRun:
    out = Path(config.out)  # type: ignore[arg-type]
    mapping = read_label_mapping(config.label_mapping) if config.label_mapping is not None else None
    risk, labels = _risk_and_labels(config, mapping)
    evaluation = evaluate_diagnosis(
        risk, labels, _training_labels(config, labels), tau=config.tau, samples=config.bootstrap.samples,
        confidence=config.bootstrap.confidence, seed=config.bootstrap.seed, label_mapping=mapping,
    )
    run = DiagnosisRun(evaluation, out, risk)
    run.files = write_diagnosis_report(evaluation, out)
    if config.predictions is None:
        run.files.append(write_risk_scores(out / RISK_FILE, risk))
    run.files.append(save_resolved_config(config, out))
    return run


def _risk_and_labels(config: EvaluateConfig, mapping: pd.DataFrame | None) -> tuple[pd.DataFrame, SurvivalLabels]:
    """Risk scores of the evaluated studies and the outcome tables to score them against."""
    published = config.predictions is not None and is_published_folder(config.predictions)
    is_event, time_to_event = outcome_tables(config)
    labels = SurvivalLabels.read(is_event, time_to_event) if is_event and time_to_event else None
    if published:
        # The published pickles carry the test studies' outcomes; columns are named by the mapping.
        phecodes = mapping["phecode"].tolist() if mapping is not None else labels.phecodes if labels else None
        risk, event, time = load_published_diagnosis(config.predictions, phecodes)  # type: ignore[arg-type]
        labels = labels or SurvivalLabels(event, time)
    elif labels is None:
        raise UsageError("diagnosis needs the outcome tables", fix="pass --labels DIR (with is_event.csv, "
                         "time_to_event.csv) or --is-event/--time-to-event")
    elif config.predictions is not None:
        risk = read_risk_scores(config.predictions)
    else:

        risk = predict_risk(config)
    if config.predictions is not None and (test_ids := split_ids(config, config.split)) is not None:
        keep = set(test_ids)
        risk = risk.loc[[s for s in risk.index if s in keep]]
    return risk, labels


def _training_labels(config: EvaluateConfig, labels: SurvivalLabels) -> SurvivalLabels | None:
    """The training split's outcomes (censoring distribution of Uno's C), if a split says which they are."""
    try:
        train_ids = split_ids(config, config.diagnosis.split.train)
    except InputError as exc:
        log.warning("%s", exc)
        train_ids = None
    known = [s for s in train_ids or [] if s in labels.event.index]
    if not known:
        log.warning("no training split: Uno's C needs the training labels' censoring distribution")
        return None
    return labels.subset(known)


# ---------------------------------------------------------------------------- printing
def print_staging(run: StagingRun | DiagnosisRun, config: EvaluateConfig) -> None:
    from rich import box
    from rich.table import Table

    from sleepfm.cli.console import out

    assert isinstance(run, StagingRun)
    # One column per resolution, one row per metric: fits an 80-column terminal or pipe whole.
    table = Table(title=f"Sleep staging, {len(run.studies)} studies ({config.split})", box=box.SIMPLE_HEAD,
                  show_edge=False)
    table.add_column("metric")
    resolutions = run.evaluation.resolutions
    for name in resolutions:
        table.add_column(name, justify="right")
    rows: list[tuple[str, list[str]]] = [
        ("n", [str(m.n) for m in resolutions.values()]),
        ("accuracy", [f"{m.accuracy:.3f}" for m in resolutions.values()]),
        ("macro-F1", [f"{m.macro_f1:.3f}" for m in resolutions.values()]),
        ("Cohen's kappa", [f"{m.kappa:.3f}" for m in resolutions.values()]),
        *((f"F1 {stage}", [f"{m.f1[i]:.3f}" for m in resolutions.values()]) for i, stage in enumerate(STAGE_NAMES)),
    ]
    for label, values in rows:
        table.add_row(label, *values)
    out.print(table)
    if run.agreement is not None:
        _print_agreement(run.agreement)
    out.print(f"wrote {len(run.files)} files to {run.out}", highlight=False)


def _print_agreement(report: AgreementReport) -> None:
    from rich.table import Table

    from sleepfm.cli.console import out

    def number(value: object, digits: int = 2) -> str:
        return "—" if value is None or pd.isna(value) else f"{value:.{digits}f}"

    for comparison, rows in report.bland_altman.groupby("comparison", sort=False):
        if not comparison.startswith(MODEL):
            continue
        table = Table(title=f"Bland–Altman, {comparison} (difference = {comparison.replace(' vs ', ' − ')}; "
                            "ICC(A,1))")
        for column in ("statistic", "nights", "mean ref", "mean model", "bias", "95% limits", "ICC"):
            table.add_column(column, justify="left" if column == "statistic" else "right")
        for row in rows.itertuples():
            limits = f"{number(row.loa_low)} … {number(row.loa_high)}"
            table.add_row(f"{row.label} ({row.unit})", str(row.n), number(row.mean_reference),
                          number(row.mean_other), number(row.bias), limits, number(row.icc, 3))
        out.print(table)
    pooled = report.kappa[report.kappa["study_id"] == "pooled"]
    out.print("Cohen's kappa, 30-s epochs pooled: " + "; ".join(
        f"{row.comparison} {number(row.kappa, 3)} (n={row.n_epochs})" for row in pooled.itertuples()), highlight=False)


def print_diagnosis(run: StagingRun | DiagnosisRun, config: EvaluateConfig) -> None:
    from rich import box
    from rich.table import Table

    from sleepfm.cli.console import out

    assert isinstance(run, DiagnosisRun)
    summary = run.evaluation.summary()
    table = Table(title=f"Disease risk, {summary['n_studies']} studies ({config.split}), "
                        f"{summary['n_evaluated']}/{summary['n_outcomes']} outcomes with comparable pairs",
                  box=box.SIMPLE_HEAD, show_edge=False)
    # Headers never wrap or shorten; phenotype and status wrap into what is left (Uno's CI is in the CSV).
    wrapping = {"phenotype": 9, "status": 7}
    for column in ("phecode", "phenotype", "n", "events", "Harrell's C (95% CI)", "Uno's C", "status"):
        table.add_column(column, justify="right" if column in ("n", "events", "Uno's C") else "left",
                         no_wrap=column not in wrapping, overflow="fold" if column in wrapping else "ellipsis",
                         min_width=wrapping.get(column, len(column)))
    rows = run.evaluation.table.sort_values("harrell_c", ascending=False, na_position="last")
    for _, row in rows.head(20).iterrows():
        uno = row["uno_c"]
        table.add_row(str(row["phecode"]), str(row.get("phenotype", "") or ""), str(row["n"]), str(row["events"]),
                      _with_ci(row, "harrell"), "—" if pd.isna(uno) else f"{uno:.3f}",
                      row["harrell_status"] if row["harrell_status"] != "ok" else row["uno_status"])
    out.print(table)
    if len(rows) > 20:
        out.print(f"… {len(rows) - 20} more outcomes in {run.out / 'diagnosis_metrics.csv'}", highlight=False)
    out.print(f"mean Harrell's C {summary['mean_harrell_c']:.3f}; wrote {len(run.files)} files to {run.out}",
              highlight=False)


def _with_ci(row: pd.Series, name: str) -> str:
    value = row[f"{name}_c"]
    if pd.isna(value):
        return "—"
    low, high = row[f"{name}_ci_low"], row[f"{name}_ci_high"]
    return f"{value:.3f}" + ("" if pd.isna(low) else f" ({low:.3f}–{high:.3f})")
