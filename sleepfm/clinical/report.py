"""The cohort report of ``sleepfm run``: ``report.json`` and a readable ``report.md``/``report.html``.

``report.json``
    ``run`` (cohort, folders, checkpoint, version, time), ``summary`` (counts), ``overall``
    (agreement pooled over every evaluated epoch of the cohort — accuracy, Cohen's kappa,
    macro-F1, per-stage F1, confusion matrix — and the mean of the per-study figures),
    ``bland_altman`` (per statistic — TST, SE, SOL, WASO, REM latency, stage minutes — the
    bias and 95 % limits of agreement of predicted − scored over the studies, and ICC(A,1);
    :mod:`sleepfm.evaluate.agreement`), and
    ``studies``: one entry per discovered study with its ID, files, status (``ok`` or
    ``failed`` with the step and the one-line error), duration, modalities present and
    missing, predicted stage counts and minutes, sleep statistics, agreement with the scored
    hypnogram, signal quality (verdict, reasons, masked fraction, foreign-data check), the
    highest risks when computed, and the paths of its outputs.
The readable report
    The same figures as tables, and each study's hypnogram figure.
"""

from __future__ import annotations

import html
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sleepfm.config.base import atomic_write_text
from sleepfm.evaluate.agreement import STATISTICS, bland_altman
from sleepfm.json_output import write_json
from sleepfm.quality.clinical import flag_text
from sleepfm.report.sleep_stats import SCORED, agreement

from .prepare import one_line

STAGES = tuple(stage.name for stage in SCORED)


@dataclass
class StudyRecord:
    """What the report says about one study."""

    id: str
    participant: str
    signal_file: str
    hypnogram_file: str | None
    status: str = "ok"
    failed_step: str | None = None
    error: str | None = None
    duration_s: float | None = None
    start_time: str | None = None
    modalities: list[str] = field(default_factory=list)
    modalities_missing: list[str] = field(default_factory=list)
    stage_counts: dict[str, int] | None = None
    stage_minutes: dict[str, float] | None = None
    statistics: dict[str, Any] | None = None
    agreement: dict[str, Any] | None = None
    night_figures: dict[str, dict[str, float | None]] | None = None
    scored_events: dict[str, int] | None = None
    risk_top: list[dict[str, Any]] | None = None
    quality: dict[str, Any] | None = None
    outputs: dict[str, str] = field(default_factory=dict)
    reused: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def fail(self, step: str, error: BaseException | str) -> None:
        self.status, self.failed_step, self.error = "failed", step, one_line(error)


def overall_agreement(records: list[StudyRecord]) -> dict[str, Any] | None:
    """Agreement pooled over every evaluated epoch, and the mean of the per-study figures."""
    evaluated = [r.agreement for r in records if r.status == "ok" and r.agreement is not None]
    if not evaluated:
        return None
    confusion = np.sum([np.asarray(a["confusion"], dtype=np.int64) for a in evaluated], axis=0)
    # Expanding the pooled confusion matrix back into epoch pairs lets the one agreement
    # function compute the pooled figures.
    rows, cols = np.indices(confusion.shape)
    reference = np.repeat(rows.ravel(), confusion.ravel()).astype(np.int8)
    predicted = np.repeat(cols.ravel(), confusion.ravel()).astype(np.int8)
    pooled = agreement(reference, predicted).as_dict()

    def mean(key: str) -> float | None:
        values = [a[key] for a in evaluated if a.get(key) is not None]
        return float(np.mean(values)) if values else None

    return {"n_studies": len(evaluated), "pooled": pooled,
            "mean_per_study": {k: mean(k) for k in ("accuracy", "kappa", "macro_f1")}}


def bland_altman_rows(records: list[StudyRecord]) -> list[dict[str, Any]] | None:
    """Pooled Bland–Altman rows (predicted − scored) over the studies with night figures."""

    figures = [r.night_figures for r in records if r.status == "ok" and r.night_figures is not None]
    if not figures:
        return None
    rows = []
    for key, (label, unit) in STATISTICS.items():
        result = bland_altman(key, [f["scored"][key] for f in figures], [f["predicted"][key] for f in figures])
        rows.append({"label": label, "unit": unit, **asdict(result)})
    return rows


def build_report(run: dict[str, Any], records: list[StudyRecord],
                 risk_evaluation: dict[str, Any] | None = None) -> dict[str, Any]:
    failed = [r for r in records if r.status != "ok"]
    summary = {
        "studies": len(records), "completed": len(records) - len(failed), "failed": len(failed),
        "with_hypnogram": sum(r.hypnogram_file is not None for r in records),
        "evaluated": sum(r.agreement is not None for r in records if r.status == "ok"),
        "with_risk": sum(r.risk_top is not None for r in records),
        "quality": {verdict: sum((r.quality or {}).get("verdict") == verdict for r in records)
                    for verdict in ("usable", "degraded", "unusable")},
        "foreign_data": sum(bool((r.quality or {}).get("foreign_data", {}).get("foreign")) for r in records),
    }
    return {"run": run, "summary": summary, "overall": overall_agreement(records),
            "bland_altman": bland_altman_rows(records), "risk_evaluation": risk_evaluation,
            "studies": [asdict(r) for r in records]}


# ----------------------------------------------------------------------------- readable
def _number(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _minutes(value: Any) -> str:
    return "–" if value is None else f"{value:.1f}"


class _Doc:
    """Blocks rendered to Markdown or HTML, so both formats say exactly the same."""

    def __init__(self) -> None:
        self.blocks: list[tuple[str, Any]] = []

    def heading(self, level: int, text: str) -> None:
        self.blocks.append(("heading", (level, text)))

    def text(self, text: str) -> None:
        self.blocks.append(("text", text))

    def table(self, header: list[str], rows: list[list[str]]) -> None:
        self.blocks.append(("table", (header, rows)))

    def image(self, path: str, alt: str) -> None:
        self.blocks.append(("image", (path, alt)))

    def markdown(self) -> str:
        out = []
        for kind, value in self.blocks:
            if kind == "heading":
                out.append(f"{'#' * value[0]} {value[1]}")
            elif kind == "text":
                out.append(value)
            elif kind == "table":
                header, rows = value
                cells = [header, ["---"] * len(header), *rows]
                out.append("\n".join("| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in cells))
            else:
                out.append(f"![{value[1]}]({value[0]})")
        return "\n\n".join(out) + "\n"

    def html(self, title: str) -> str:
        out = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
               "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}table{border-collapse:collapse}"
               "td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}th{background:#eee}"
               "img{max-width:100%}</style></head><body>"]
        for kind, value in self.blocks:
            if kind == "heading":
                out.append(f"<h{value[0]}>{html.escape(value[1])}</h{value[0]}>")
            elif kind == "text":
                out.append(f"<p>{html.escape(value)}</p>")
            elif kind == "table":
                header, rows = value
                head = "".join(f"<th>{html.escape(c)}</th>" for c in header)
                body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
                out.append(f"<table><tr>{head}</tr>{body}</table>")
            else:
                out.append(f"<img src='{html.escape(value[0])}' alt='{html.escape(value[1])}'>")
        return "\n".join(out) + "\n</body></html>\n"


def _agreement_section(doc: _Doc, overall: dict[str, Any]) -> None:
    pooled, mean = overall["pooled"], overall["mean_per_study"]
    doc.heading(2, "Agreement with the scored hypnograms")
    doc.text(f"{overall['n_studies']} studies, {pooled['n_epochs']} epochs of 30 s scored in both (unscored "
             "epochs left out). Pooled: every epoch of the cohort counted once; mean: the average of the "
             "per-study figures.")
    doc.table(["", "accuracy", "kappa", "macro-F1"],
              [["pooled", _number(pooled["accuracy"]), _number(pooled["kappa"]), _number(pooled["macro_f1"])],
               ["mean per study", _number(mean["accuracy"]), _number(mean["kappa"]), _number(mean["macro_f1"])]])
    doc.table(["stage", "F1", *(f"→ {s}" for s in STAGES)],
              [[stage, _number(pooled["f1"].get(stage)), *(str(n) for n in pooled["confusion"][i])]
               for i, stage in enumerate(STAGES)])
    doc.text("Rows: scored stage; columns: predicted stage (epoch counts).")


def _bland_altman_section(doc: _Doc, rows: list[dict[str, Any]]) -> None:
    doc.heading(3, "Night statistics: Bland–Altman (predicted − scored)")
    doc.text("Over the studies with a scored hypnogram, each night measured over the scored hypnogram's window: "
             "bias, 95 % limits of agreement (bias ± 1.96 SD) and ICC(A,1) (two-way random effects, absolute "
             "agreement, single measurement).")
    doc.table(["statistic", "studies", "mean scored", "mean predicted", "bias", "95 % limits", "ICC"],
              [[f"{r['label']} ({r['unit']})", str(r["n"]), _number(r["mean_reference"], 1),
                _number(r["mean_other"], 1), _number(r["bias"], 1),
                f"{_number(r['loa_low'], 1)} … {_number(r['loa_high'], 1)}", _number(r["icc"])] for r in rows])


def _risk_section(doc: _Doc, evaluation: dict[str, Any]) -> None:
    doc.heading(2, "Risk against the cohort's outcomes")
    doc.text(f"Harrell's C of each outcome's log-hazard over {evaluation['n_studies']} studies, with a "
             f"{100 * evaluation['confidence']:.0f} % bootstrap interval ({evaluation['bootstrap_samples']} "
             "resamples).")
    rows = []
    for row in evaluation["outcomes"]:
        interval = (f"{row['harrell_ci_low']:.3f}–{row['harrell_ci_high']:.3f}"
                    if row.get("harrell_bootstrap_valid") else "–")
        c_index = _number(row["harrell_c"]) if row["harrell_status"] == "ok" else row["harrell_status"]
        rows.append([str(row["phecode"]), str(row.get("phenotype") or ""), str(row["n"]), str(row["events"]),
                     c_index, interval])
    doc.table(["phecode", "phenotype", "studies", "events", "Harrell's C", "interval"], rows)


def _study_rows(records: list[StudyRecord]) -> list[list[str]]:
    rows = []
    for r in records:
        if r.status != "ok":
            continue
        stats, agree, counts = r.statistics or {}, r.agreement or {}, r.stage_counts or {}
        quality = r.quality or {}
        flag = quality.get("verdict", "–") + (", foreign" if quality.get("foreign_data", {}).get("foreign") else "")
        rows.append([r.id, flag, _number(100 * quality["masked_fraction"], 1) if "masked_fraction" in quality else "–",
                     _minutes(None if r.duration_s is None else r.duration_s / 60), ", ".join(r.modalities),
                     *(str(counts.get(s, 0)) for s in STAGES), _minutes(stats.get("total_sleep_time")),
                     _number(stats.get("sleep_efficiency"), 1), _number(agree.get("accuracy")),
                     _number(agree.get("kappa")), _number(agree.get("macro_f1"))])
    return rows


def readable_report(report: dict[str, Any], records: list[StudyRecord]) -> _Doc:
    run, summary = report["run"], report["summary"]
    doc = _Doc()
    doc.heading(1, f"sleepfm run — {run['cohort']}")
    doc.text(f"Data {run['data']}; checkpoints {run['checkpoints']}; sleepfm {run['sleepfm_version']}; "
             f"{run['created']}. Resolved configuration: {run['config']}.")
    doc.table(["studies", "completed", "failed", "with hypnogram", "evaluated", "with risk"],
              [[str(summary[k]) for k in ("studies", "completed", "failed", "with_hypnogram", "evaluated",
                                          "with_risk")]])
    if report["overall"] is not None:
        _agreement_section(doc, report["overall"])
    if report.get("bland_altman"):
        _bland_altman_section(doc, report["bland_altman"])
    risk = run.get("risk") or {}
    if not risk.get("computed", True):
        doc.text(f"Risk tables were not computed: {risk.get('reason')}.")
    if report.get("risk_evaluation") and "outcomes" in report["risk_evaluation"]:
        _risk_section(doc, report["risk_evaluation"])
    doc.heading(2, "Studies")
    doc.text("Stage columns count predicted 30-s epochs; TST in minutes, SE in %; agreement with the scored "
             "hypnogram where one exists.")
    verdicts = summary.get("quality", {})
    doc.text(f"Signal quality (docs/quality.md): {verdicts.get('usable', 0)} usable, {verdicts.get('degraded', 0)} "
             f"degraded, {verdicts.get('unusable', 0)} unusable; {summary.get('foreign_data', 0)} unlike the "
             "checkpoint's reference nights. Unusable studies are staged but flagged; masked % is the share of "
             "channel-chunks left out of the embedding.")
    doc.table(["study", "quality", "masked %", "minutes", "modalities", *STAGES, "TST", "SE", "accuracy", "kappa",
               "macro-F1"], _study_rows(records))
    failed = [r for r in records if r.status != "ok"]
    if failed:
        doc.heading(2, "Failed studies")
        doc.table(["study", "step", "error"], [[r.id, r.failed_step or "", r.error or ""] for r in failed])
    for r in records:
        if r.status == "ok" and "plot" in r.outputs:

            flag = flag_text(r.quality)
            doc.heading(3, r.id + (f" — {flag}" if flag else ""))
            notes = "; ".join(r.notes)
            missing = f" Missing modalities: {', '.join(r.modalities_missing)}." if r.modalities_missing else ""
            doc.text(f"{r.signal_file}{' with ' + r.hypnogram_file if r.hypnogram_file else ''}.{missing}"
                     f"{' ' + notes if notes else ''}")
            doc.image(r.outputs["plot"], f"hypnogram of {r.id}")
    return doc


def write_report(out: Path, report: dict[str, Any], records: list[StudyRecord], fmt: str = "markdown") -> list[Path]:
    """Write ``report.json`` and the readable report into ``out``; returns their paths."""
    out = Path(out)
    json_path = out / "report.json"
    doc = readable_report(report, records)
    readable = out / ("report.html" if fmt == "html" else "report.md")
    text = doc.html(f"sleepfm run — {report['run']['cohort']}") if fmt == "html" else doc.markdown()
    write_json(json_path, report)
    atomic_write_text(readable, text)
    return [json_path, readable]
