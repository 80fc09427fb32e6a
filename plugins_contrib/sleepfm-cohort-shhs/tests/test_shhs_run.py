"""Acceptance: install → `sleepfm plugins` lists cohort-shhs → `sleepfm run --plugin cohort-shhs` on a
synthetic SHHS-shaped folder writes the report → uninstalled, `--plugin cohort-shhs` fails in one line
naming the available cohorts."""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import yaml
from sleepfm_cohort_shhs.synthetic import SyntheticStudy, write_shhs_cohort

from sleepfm.cli.app import main

PACKAGE = Path(__file__).resolve().parents[1]
STAGES_1 = [0, 0, 1, 2, 2, 2, 3, 3, 2, 0, 2, 4, 4, 4, 2, 2, 0, 0, 1, 0]
STAGES_2 = [0, 1, 1, 2, 2, 3, 3, 3, 2, 2, 4, 4, 0, 2, 2, 2, 2, 4, 4, 4, 4, 0, 0, 0]


def _site_without_package(tmp_path: Path) -> Path:
    """The test venv's site-packages minus this package: symlinks to every other entry."""
    site = Path(sysconfig.get_paths()["purelib"])
    filtered = tmp_path / "site-packages"
    filtered.mkdir()
    for entry in site.iterdir():
        if not entry.name.lower().startswith("sleepfm_cohort_shhs"):
            (filtered / entry.name).symlink_to(entry)
    return filtered


# Run in an interpreter started with -S (no site-packages): argv[1] is the site folder to use,
# argv[2] a pip --target folder or "-", the rest the sleepfm arguments.
BOOT = """
import site, sys
site.addsitedir(sys.argv[1])
if sys.argv[2] != "-":
    sys.path.insert(0, sys.argv[2])
from sleepfm.cli.app import main
sys.exit(main(sys.argv[3:]))
"""


def _sleepfm(args: list[str], site: Path, *, target: Path | None = None) -> subprocess.CompletedProcess[str]:
    """`sleepfm ARGS` in a fresh interpreter that sees ``site`` (+ ``target`` when installed there)."""
    return subprocess.run([sys.executable, "-S", "-c", BOOT, str(site), str(target or "-"), *args],
                          capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.slow
def test_install_lists_it_and_uninstalled_it_is_refused_in_one_line(tmp_path: Path) -> None:
    """The shared test venv has every contrib package installed and pytest runs in parallel, so the
    test never pip-uninstalls from it. Instead, a real ``pip install --target`` of this package is
    the installed state and an interpreter started with ``-S`` sees the venv's site-packages through
    a folder of symlinks that leaves this package (module and dist-info) out: with the target on
    its path the package is installed, without it the package is not there at all — exactly what
    an uninstall leaves."""
    target = tmp_path / "target"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(PACKAGE)], check=True, capture_output=True, timeout=300)
    site = _site_without_package(tmp_path)

    installed = _sleepfm(["plugins", "--kind", "cohorts", "--json"], site, target=target)
    assert installed.returncode == 0, installed.stderr
    rows = {row["name"]: row for row in json.loads(installed.stdout)["components"]}
    assert rows["cohort-shhs"]["distribution"] == "sleepfm-cohort-shhs" and "cohort-edf" in rows

    absent = _sleepfm(["plugins", "--kind", "cohorts", "--json"], site)
    others = sorted(row["name"] for row in json.loads(absent.stdout)["components"])
    assert "cohort-shhs" not in others and "cohort-edf" in others
    refused = _sleepfm(["run", "--plugin", "cohort-shhs", "--data", str(tmp_path), "--out", str(tmp_path / "out"),
                        "--checkpoints", str(tmp_path)], site)
    lines = refused.stderr.strip().splitlines()
    assert refused.returncode == 2 and len(lines) == 1, refused.stderr
    # Whatever other cohort plugins are installed, the message lists exactly the installed ones.
    assert f"unknown cohort 'cohort-shhs'; available cohorts: {', '.join(others)} —" in lines[0]
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_run_on_a_synthetic_shhs_folder_writes_the_report(shared: Path, tmp_path: Path, capsys) -> None:
    data = tmp_path / "shhs"
    write_shhs_cohort(data, [SyntheticStudy("200001", STAGES_1, age=58, male=True, hypopnea_epoch=5),
                             SyntheticStudy("200002", STAGES_2, age=71, male=False, ecg_rate=250,
                                            outcomes={"vital": 0, "censdate": 1200, "mi": 1, "mi_date": 800})])
    out = tmp_path / "run"
    code = main(["run", "--plugin", "cohort-shhs", "--data", str(data), "--out", str(out),
                 "--checkpoints", str(shared / "reference" / "sleepfm-compat"),
                 "--set", f"risk.labels={shared / 'reference' / 'label_mapping.csv'}"])
    assert code == 0, capsys.readouterr().err
    report = json.loads((out / "report.json").read_text())
    assert report["run"]["cohort"] == "cohort-shhs"
    assert report["summary"] == {"studies": 2, "completed": 2, "failed": 0, "with_hypnogram": 2, "evaluated": 2,
                                 "with_risk": 2, "quality": {"usable": 2, "degraded": 0, "unusable": 0},
                                 "foreign_data": 0}
    first, second = report["studies"]
    assert (first["id"], first["participant"]) == ("shhs1-200001", "200001")
    # The SHHS channel map puts every physiological channel in its modality.
    assert first["modalities"] == ["BAS", "RESP", "EKG", "EMG"] and first["modalities_missing"] == []
    assert first["agreement"]["n_epochs"] == 20 and second["agreement"]["n_epochs"] == 24
    assert first["scored_events"] == {"desaturation": 1, "hypopnea": 1}
    assert report["overall"]["pooled"]["n_epochs"] == 44
    # The CVD outcomes, mapped to phecodes, score the risk tables: one comparable pair each for
    # death and MI (the second participant's events precede the first one's censoring).
    outcomes = {row["phecode"]: row for row in report["risk_evaluation"]["outcomes"]}
    assert set(outcomes) == {"death", "Myocardial Infarction", "Heart Failure", "Stroke", "Angina"}
    assert outcomes["death"]["harrell_status"] == "ok" and outcomes["death"]["comparable_pairs"] == 1
    assert outcomes["death"]["harrell_c"] in (0.0, 1.0) and outcomes["Stroke"]["harrell_status"] == "no events"
    assert "Harrell's C" in (out / "report.md").read_text()
    assert (out / "report.md").is_file() and (out / "studies" / "shhs1-200002" / "shhs1-200002.png").is_file()
    resolved = yaml.safe_load((out / "config.resolved.yaml").read_text())
    assert Path(resolved["preprocess"]["channel_map"]).parts[-2:] == ("sleepfm_cohort_shhs", "channels.json")
