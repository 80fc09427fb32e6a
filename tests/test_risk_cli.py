"""``sleepfm risk`` end to end with the random-weight release-layout checkpoints: the sorted,
named phecode table, the sidecar stating the demographics encoding, and refused input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sleepfm.cli.app import main

from .helpers_clinical import COMPAT, LABELS, NIGHT, error_lines, write_night


@pytest.mark.slow
def test_risk_table_is_named_sorted_and_states_its_encoding(shared: Path, tmp_path: Path, capsys) -> None:
    edf = write_night(tmp_path / "night.edf", NIGHT)
    out = tmp_path / "out"
    code = main(["risk", str(edf), "--checkpoints", str(shared / COMPAT), "--age", "54", "--sex", "F",
                 "--labels", str(shared / LABELS), "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["night.risk.csv", "night.risk.json"]
    table = pd.read_csv(out / "night.risk.csv", dtype={"phecode": str})
    assert table.columns.tolist() == ["rank", "label_idx", "phecode", "phenotype", "log_hazard"]
    assert len(table) == 1065 and table["label_idx"].nunique() == 1065
    assert np.all(np.diff(table["log_hazard"].to_numpy()) <= 0)
    labels = pd.read_csv(shared / LABELS, dtype={"phecode": str}).set_index("label_idx")
    assert (labels.loc[table["label_idx"], "phenotype"].to_numpy() == table["phenotype"].to_numpy()).all()

    sidecar = json.loads((out / "night.risk.json").read_text())
    assert sidecar["demographics"]["age_normalised"] == pytest.approx(54 / 98)
    assert sidecar["demographics"]["sex_code"] == 1.0
    assert sidecar["demographics"]["formula"] == "age_normalised = (age - 0) / (98 - 0); sex M = 0, F = 1"
    assert sidecar["night"] == {"tokens": 120, "tokens_used": 120, "hours_used": 0.167, "truncated": False,
                                "max_tokens": 6480}
    assert sidecar["top"][0]["phecode"] == table["phecode"].iloc[0]

    # Another encoding changes the covariates, hence the hazards, and is stated.
    other = tmp_path / "other"
    assert main(["risk", str(edf), "--checkpoints", str(shared / COMPAT), "--age", "54", "--sex", "F",
                 "--labels", str(shared / LABELS), "--out", str(other), "--age-min", "18", "--age-max", "90",
                 "--male", "1", "--female", "0"]) == 0
    changed = json.loads((other / "night.risk.json").read_text())["demographics"]
    assert changed["age_normalised"] == pytest.approx(0.5) and changed["sex_code"] == 0.0
    again = pd.read_csv(other / "night.risk.csv", dtype={"phecode": str}).set_index("phecode")["log_hazard"]
    assert not np.allclose(again.loc[table["phecode"]].to_numpy(), table["log_hazard"].to_numpy())


@pytest.mark.parametrize(("options", "code", "message"), [
    (["--age", "150", "--sex", "F"], 2, "--age must be between 0 and 120 years, got '150' instead"),
    (["--age", "forty", "--sex", "F"], 2, "--age must be a number of years"),
    (["--age", "40", "--sex", "X"], 2, "invalid value for --sex: allowed values are 'M' and 'F', but got 'X'"),
    (["--age", "40", "--sex", "M", "--age-min", "50", "--age-max", "50"], 2, "--age-max must be greater"),
])
def test_demographics_are_validated_before_anything_runs(tmp_path: Path, capsys, options: list[str], code: int,
                                                         message: str) -> None:
    out = tmp_path / "out"
    assert main(["risk", str(tmp_path / "x.edf"), "--checkpoints", str(tmp_path), "--out", str(out),
                 *options]) == code
    (line,) = error_lines(capsys.readouterr().err)
    assert message in line
    assert not out.exists()


def test_python_api_validates_like_the_command(tmp_path: Path) -> None:
    import sleepfm
    from sleepfm.errors import UsageError

    with pytest.raises(UsageError, match="age must be between 0 and 120 years"):
        sleepfm.risk(tmp_path / "x.edf", tmp_path, tmp_path / "out", age=-3, sex="F")
    with pytest.raises(UsageError, match="allowed values are 'M' and 'F'"):
        sleepfm.risk(tmp_path / "x.edf", tmp_path, tmp_path / "out", age=30, sex="?")
    assert not (tmp_path / "out").exists()


def test_a_label_table_that_does_not_fit_the_head_is_refused_naming_labels(shared: Path, tmp_path: Path,
                                                                           capsys) -> None:
    edf = tmp_path / "x.edf"
    edf.write_bytes(b"")
    labels = tmp_path / "labels.csv"
    labels.write_text("label_idx,phecode,phenotype\n0,401.1,Essential hypertension\n")
    assert main(["risk", str(edf), "--checkpoints", str(shared / COMPAT), "--age", "40", "--sex", "M",
                 "--labels", str(labels), "--out", str(tmp_path / "out")]) == 1
    (line,) = error_lines(capsys.readouterr().err)
    assert "1 rows but the diagnosis head gives 1065 outputs" in line and "--labels" in line
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_the_readme_tour_line_works_without_labels(shared: Path, tmp_path: Path, capsys) -> None:
    # README: `sleepfm risk night.edf --checkpoints checkpoints/ --age 61 --sex F --out report/`.
    # The release's checkpoints/ folder holds no label_mapping.csv: sleepfm ships the table.
    from sleepfm.clinical.risk_table import packaged_label_mapping

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert "sleepfm risk night.edf --checkpoints checkpoints/ --age 61 --sex F --out report/" in readme
    checkpoints = tmp_path / "checkpoints"
    checkpoints.symlink_to(shared / COMPAT)
    assert not list(checkpoints.rglob("label_mapping.csv"))
    edf = write_night(tmp_path / "night.edf", NIGHT)
    assert main(["risk", str(edf), "--checkpoints", str(checkpoints), "--age", "61", "--sex", "F",
                 "--out", str(tmp_path / "report")]) == 0, capsys.readouterr().err
    sidecar = json.loads((tmp_path / "report" / "night.risk.json").read_text())
    assert sidecar["labels"] == str(packaged_label_mapping())
    table = pd.read_csv(tmp_path / "report" / "night.risk.csv", dtype={"phecode": str})
    released = pd.read_csv(shared / LABELS, dtype={"phecode": str})
    assert len(table) == 1065 and set(table["phenotype"]) == set(released["phenotype"])


def test_the_packaged_table_is_the_released_one(shared: Path) -> None:
    from sleepfm.clinical.risk_table import packaged_label_mapping

    assert packaged_label_mapping().read_bytes() == (shared / LABELS).read_bytes()


@pytest.mark.slow
def test_a_wheel_carries_the_phecode_table(tmp_path: Path) -> None:
    # README: `pip wheel --no-deps -w dist . && pip install dist/sleepfm-*.whl` — risk's default table
    # must be inside the wheel, not only in a source checkout.
    import subprocess
    import sys
    import zipfile

    repo = Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w",
                    str(tmp_path), str(repo)], check=True, capture_output=True, timeout=600)
    (wheel,) = tmp_path.glob("sleepfm-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        assert archive.read("sleepfm/data/label_mapping.csv").decode().count("\n") == 1066
