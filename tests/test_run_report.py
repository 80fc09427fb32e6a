"""The cohort report: pooled agreement equals agreement over all epochs at once, and the JSON,
Markdown and HTML reports carry the studies, the failures and the figures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sleepfm.clinical.report import StudyRecord, build_report, overall_agreement, write_report
from sleepfm.report.sleep_stats import agreement

RUN = {"cohort": "cohort-test", "data": "/data", "checkpoints": "/ckpt", "sleepfm_version": "0.1.0",
       "created": "2026-01-01T00:00:00", "config": "config.resolved.yaml"}


def _record(study: str, reference: list[int], predicted: list[int]) -> StudyRecord:
    record = StudyRecord(study, study, f"{study}.edf", f"{study}.xml", duration_s=600.0, modalities=["BAS", "EKG"],
                         modalities_missing=["RESP", "EMG"], stage_counts={"W": 3, "N2": 17})
    record.agreement = agreement(np.array(reference), np.array(predicted)).as_dict()
    record.outputs["plot"] = f"studies/{study}/{study}.png"
    return record


def test_pooled_agreement_is_over_every_epoch_and_mean_is_per_study() -> None:
    a_ref, a_pred = [0, 0, 1, 2, 2, 2, 3, 4], [0, 1, 1, 2, 2, 3, 3, 4]
    b_ref, b_pred = [0, 2, 2, 2, 4, 4], [0, 2, 2, 0, 4, 2]
    records = [_record("a", a_ref, a_pred), _record("b", b_ref, b_pred), StudyRecord("c", "c", "c.edf", None)]
    overall = overall_agreement(records)
    expected = agreement(np.array(a_ref + b_ref), np.array(a_pred + b_pred))
    assert overall["n_studies"] == 2
    assert overall["pooled"]["accuracy"] == pytest.approx(expected.accuracy)
    assert overall["pooled"]["kappa"] == pytest.approx(expected.kappa)
    assert overall["pooled"]["macro_f1"] == pytest.approx(expected.macro_f1)
    assert overall["mean_per_study"]["accuracy"] == pytest.approx((6 / 8 + 4 / 6) / 2)
    assert overall_agreement([StudyRecord("c", "c", "c.edf", None)]) is None


@pytest.mark.parametrize("fmt", ["markdown", "html"])
def test_reports_list_studies_failures_and_plots(tmp_path: Path, fmt: str) -> None:
    ok = _record("night1", [0, 2, 2, 3], [0, 2, 2, 2])
    ok.statistics = {"total_sleep_time": 8.5, "sleep_efficiency": 85.0}
    ok.quality = {"verdict": "unusable", "reasons": ["no BAS (EEG/EOG) channel: staging cannot be trusted"],
                  "masked_fraction": 0.125, "foreign_data": {"checked": True, "foreign": True}}
    broken = StudyRecord("night2", "night2", "night2.edf", None)
    broken.fail("preprocess", "night2.edf: not an EDF file (bad version field)")
    report = build_report(RUN, [ok, broken])
    assert report["summary"] == {"studies": 2, "completed": 1, "failed": 1, "with_hypnogram": 1, "evaluated": 1,
                                 "with_risk": 0, "quality": {"usable": 0, "degraded": 0, "unusable": 1},
                                 "foreign_data": 1}

    json_path, readable = write_report(tmp_path, report, [ok, broken], fmt)
    data = json.loads(json_path.read_text())
    assert [s["id"] for s in data["studies"]] == ["night1", "night2"]
    assert data["studies"][1]["failed_step"] == "preprocess" and "bad version" in data["studies"][1]["error"]
    text = readable.read_text()
    assert readable.name == ("report.md" if fmt == "markdown" else "report.html")
    assert "night2" in text and "not an EDF file" in text and "studies/night1/night1.png" in text
    assert "0.750" in text                                # night1 accuracy 3/4
    if fmt == "markdown":
        assert ("| night1 | unusable, foreign | 12.5 | 10.0 | BAS, EKG | 3 | 0 | 17 | 0 | 0 | 8.5 | 85.0 | 0.750 |"
                in text)
        # An unusable study is still reported, flagged at its own section too.
        assert "### night1 — signal quality UNUSABLE — FOREIGN DATA" in text
    else:
        assert text.startswith("<!DOCTYPE html>") and "<img src='studies/night1/night1.png'" in text


def test_shipped_run_config_is_the_default(tmp_path: Path) -> None:
    from sleepfm.config.run import RunConfig, resolve_run_config

    shipped = Path(__file__).resolve().parents[1] / "configs" / "run.yaml"
    resolved = resolve_run_config(shipped, cli={}, overrides=[])
    assert resolved == RunConfig()
    changed = resolve_run_config(shipped, cli={"data": str(tmp_path)}, overrides=["risk.enabled=off"],
                                 cohort_defaults=lambda spec: {"preprocess": {"channel_mapper": "table"}})
    # The file leaves the channel mapping to the adapter.
    assert changed.data == tmp_path and changed.risk.enabled == "off" and changed.preprocess.channel_mapper == "table"
