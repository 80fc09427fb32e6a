"""Risk outputs without a model: the demographics encoding and its validation, the phecode
table (reading, checks, sorting), and the real label_mapping.csv of the release."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sleepfm.clinical.risk_table import find_label_mapping, risk_table, write_risk
from sleepfm.config.demographics import DemographicsEncoding, check_age, check_sex
from sleepfm.errors import InputError, UsageError
from sleepfm.labels.tables import read_label_mapping


def test_default_encoding_reproduces_the_published_demo_value() -> None:
    encoding = DemographicsEncoding()
    age, sex = encoding.encode(3, "M")
    assert age == 0.030612244897959183 and sex == 0.0  # the demo row of the release, bit for bit
    assert encoding.encode(49, "female") == (0.5, 1.0)
    assert encoding.formula() == "age_normalised = (age - 0) / (98 - 0); sex M = 0, F = 1"


def test_encoding_is_configurable_and_described() -> None:
    encoding = DemographicsEncoding(age_min=18, age_max=90, male=1, female=0)
    described = encoding.describe(54, "f")
    assert described["age_normalised"] == pytest.approx(0.5) and described["sex_code"] == 0.0
    assert described["sex"] == "F" and described["encoding"]["age_min"] == 18.0
    with pytest.raises(ValueError, match="age_max"):
        DemographicsEncoding(age_min=50, age_max=50)


@pytest.mark.parametrize(("age", "message"), [
    (-1, "--age must be between 0 and 120 years, got -1 instead"),
    (121, "--age must be between 0 and 120 years, got 121 instead"),
    ("fifty", "--age must be a number of years, got 'fifty' instead"),
    (math.nan, "--age must be between 0 and 120"),
])
def test_age_is_validated_with_an_actionable_message(age, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        check_age(age)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_sex_is_validated() -> None:
    assert [check_sex(v) for v in ("M", "m", "Male", "F", " female ")] == ["M", "M", "M", "F", "F"]
    with pytest.raises(UsageError, match="allowed values are 'M' and 'F', but got 'X' instead"):
        check_sex("X")


def _labels(tmp_path: Path, text: str) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "label_mapping.csv"
    path.write_text(text)
    return path


def test_table_is_sorted_descending_with_names(tmp_path: Path) -> None:
    labels = read_label_mapping(_labels(tmp_path, "label_idx,phecode,phenotype\n0,8.0,Intestinal infection\n"
                                                  "1,327.3,Sleep apnea\n2,death,death\n3,401,Hypertension\n"), 4)
    table = risk_table(np.array([0.5, 2.0, -1.0, 2.0]), labels)
    assert table["phecode"].tolist() == ["327.3", "401", "8.0", "death"]  # ties keep label order
    assert table["rank"].tolist() == [1, 2, 3, 4]
    assert table.columns.tolist() == ["rank", "label_idx", "phecode", "phenotype", "log_hazard"]
    csv_path, json_path = write_risk(tmp_path / "out", "night1", table, {"age_years": 54.0})
    assert pd.read_csv(csv_path, dtype={"phecode": str})["phecode"].tolist() == table["phecode"].tolist()
    sidecar = json.loads(json_path.read_text())
    assert sidecar["age_years"] == 54.0 and sidecar["top"][0] == {"phecode": "327.3", "phenotype": "Sleep apnea",
                                                                   "log_hazard": 2.0}


@pytest.mark.parametrize(("text", "message"), [
    ("label_idx,phecode\n0,8.0\n", "lacks column"),
    ("label_idx,phecode,phenotype\n0,8.0,a\n2,8.5,b\n", "label_idx must number the rows"),
    ("label_idx,phecode,phenotype\n0,8.0,a\n", "has 1 rows but the diagnosis head gives 3 outputs"),
])
def test_bad_label_mappings_are_refused(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        read_label_mapping(_labels(tmp_path, text), 3)


def test_label_mapping_is_looked_for_in_the_checkpoints(tmp_path: Path) -> None:
    from sleepfm.clinical.risk_table import packaged_label_mapping

    checkpoints = tmp_path / "sleepfm" / "checkpoints"
    (checkpoints / "model_diagnosis").mkdir(parents=True)
    # Nothing in the folder: sleepfm's copy of the released table.
    assert find_label_mapping(None, checkpoints) == packaged_label_mapping()
    # The release's layout: sleepfm/configs/label_mapping.csv beside sleepfm/checkpoints/.
    release = _labels(tmp_path / "sleepfm" / "configs", "label_idx,phecode,phenotype\n")
    assert find_label_mapping(None, checkpoints) == release
    own = _labels(checkpoints / "model_diagnosis", "label_idx,phecode,phenotype\n")
    assert find_label_mapping(None, checkpoints) == own
    assert find_label_mapping(tmp_path / "x.csv", checkpoints) == tmp_path / "x.csv"


@pytest.mark.shared
def test_the_release_label_mapping_reads(shared: Path) -> None:
    labels = read_label_mapping(shared / "reference" / "label_mapping.csv", 1065)
    assert labels.loc[0, "phecode"] == "8.0" and labels.loc[1064, "phecode"] == "Stroke"
    assert labels.set_index("phecode").loc["327.3", "phenotype"] == "Sleep apnea"
