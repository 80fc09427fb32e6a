"""docs/tables.md, variant by variant: the one reader of each participant table, used by
finetune, evaluate, run and cohort adapters alike."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sleepfm.cohorts import load_cohort
from sleepfm.config.demographics import DemographicsEncoding
from sleepfm.errors import InputError
from sleepfm.evaluate.diagnosis import SurvivalLabels
from sleepfm.labels.tables import read_age_sex, read_demographics, read_label_mapping, read_outcomes

EVENTS = "Study ID,8.0,8.5,death\nnight01,0,1,0\nnight02,1,0,\n"
TIMES = "Study ID,8.0,8.5,death\nnight01,3845,1814,3845\nnight02,211,3790,\n"


def write(folder: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = folder / name
    path.write_text(text, encoding=encoding)
    return path


def pair(tmp_path: Path, events: str = EVENTS, times: str = TIMES) -> tuple[Path, Path]:
    return write(tmp_path, "is_event.csv", events), write(tmp_path, "time_to_event.csv", times)


# ---------------------------------------------------------------------------- outcomes
def test_published_outcome_pair(tmp_path: Path) -> None:
    outcomes = read_outcomes(*pair(tmp_path))
    assert outcomes.ids == ["night01", "night02"] and outcomes.names == ["8.0", "8.5", "death"]
    assert outcomes.events[0].tolist() == [0, 1, 0] and outcomes.times[1, 0] == 211
    assert np.isnan(outcomes.events[1, 2]) and np.isnan(outcomes.times[1, 2]), "an empty cell is unknown"


def test_outcome_studies_in_another_order_are_aligned(tmp_path: Path) -> None:
    times = "Study ID,8.0,8.5,death\nnight02,211,3790,\nnight01,3845,1814,3845\n"
    outcomes = read_outcomes(*pair(tmp_path, times=times))
    assert outcomes.times[outcomes.row("night01")].tolist() == [3845, 1814, 3845]


def test_missing_spellings_bom_spaces_and_leading_zeros(tmp_path: Path) -> None:
    events = write(tmp_path, "is_event.csv", "Study ID, 8.0\n 0042 , NA\n0043,1\n", encoding="utf-8-sig")
    times = write(tmp_path, "time_to_event.csv", "Study ID,8.0\n0042,nan\n0043,12.5\n")
    outcomes = read_outcomes(events, times)
    assert outcomes.ids == ["0042", "0043"] and np.isnan(outcomes.events[0, 0]) and outcomes.times[1, 0] == 12.5


def test_the_frames_cohort_adapters_return(tmp_path: Path) -> None:
    events, times = read_outcomes(*pair(tmp_path, EVENTS.replace("1,0,\n", "1,0,1\n"),
                                        TIMES.replace("3790,\n", "3790,12\n"))).frames()
    assert events.dtypes.unique().tolist() == [np.dtype("int64")] and events.index.name == "Study ID"
    assert times.loc["night02", "death"] == 12.0


@pytest.mark.parametrize(("events", "times", "message"), [
    (EVENTS, TIMES.replace("8.5,death", "8.5,stroke"), "different outcome columns"),
    (EVENTS, TIMES.replace("night02", "night03"), "list different studies"),
    (EVENTS.replace("1,0,\n", "2,0,\n"), TIMES, "line 3: 8.0 is 2, not 0, 1 or empty"),
    (EVENTS, TIMES.replace("211", "-5"), "line 3: 8.0 is -5, a negative time"),
    (EVENTS, TIMES.replace("211", "soon"), "line 3: 8.0 is 'soon', not a number"),
    (EVENTS + "night01,0,0,0\n", TIMES, "line 4: study ID 'night01' appears twice"),
])
def test_outcome_tables_that_cannot_be_right(tmp_path: Path, events: str, times: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        read_outcomes(*pair(tmp_path, events, times))


def test_evaluate_reads_outcomes_as_training_does(tmp_path: Path) -> None:
    labels = SurvivalLabels.read(*pair(tmp_path))
    assert labels.phecodes == ["8.0", "8.5", "death"] and np.isnan(labels.event.loc["night02", "death"])


# ---------------------------------------------------------------------------- demographics
SLEEPFM = "Study ID,age,sex,site\nnight01,61,F,A\nnight02,47.5,male,B\nnight03,,,C\nnight04,30,WOMAN,A\n"


def test_sleepfm_format_for_run_and_adapters(tmp_path: Path) -> None:
    frame = read_age_sex(write(tmp_path, "demographics.csv", SLEEPFM))
    assert frame["Study ID"].tolist() == ["night01", "night02", "night03", "night04"]
    assert frame["sex"].tolist() == ["F", "M", None, "F"] and frame["age"].iloc[1] == 47.5
    assert np.isnan(frame["age"].iloc[2])


def test_sleepfm_format_for_a_head_is_encoded_as_run_encodes_it(tmp_path: Path) -> None:
    path = write(tmp_path, "demographics.csv", SLEEPFM.replace("night03,,,C\n", ""))
    encoding = DemographicsEncoding(age_min=20, age_max=80)
    covariates, names = read_demographics(path, encoding)
    assert names == ["age_normalised", "sex_code"]
    np.testing.assert_allclose(covariates["night01"], np.float32(encoding.encode(61, "F")))
    assert covariates["night02"].dtype == np.float32 and covariates["night02"][1] == encoding.male
    covariates, _ = read_demographics(path)
    np.testing.assert_allclose(covariates["night04"], np.float32(DemographicsEncoding().encode(30, "F")))


def test_sleepfm_format_incomplete_or_impossible_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="demographics of study 'night03' are incomplete"):
        read_demographics(write(tmp_path, "d.csv", SLEEPFM))
    with pytest.raises(InputError, match="line 2: age 250 is outside 0-120 years"):
        read_age_sex(write(tmp_path, "d.csv", "Study ID,age,sex\nx,250,F\n"))
    with pytest.raises(InputError, match="line 2: sex is 'X', not one of"):
        read_age_sex(write(tmp_path, "d.csv", "Study ID,age,sex\nx,25,X\n"))


def test_published_format_is_taken_as_it_is(tmp_path: Path) -> None:
    path = write(tmp_path, "demo_age_gender.csv", "Study ID,age,gender\ndemo_psg,0.030612244897959183,0\n")
    covariates, names = read_demographics(path)
    assert names == ["age", "gender"]
    assert covariates["demo_psg"].tolist() == [np.float32(0.030612244897959183), 0.0]


def test_published_format_with_other_covariates(tmp_path: Path) -> None:
    covariates, names = read_demographics(write(tmp_path, "d.csv", "Study ID,age,gender,bmi,ahi\na,0.5,1,0.3,0.1\n"))
    assert names == ["age", "gender", "bmi", "ahi"] and covariates["a"].shape == (4,)


def test_published_format_with_words_points_to_the_sex_column(tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        read_demographics(write(tmp_path, "d.csv", "Study ID,age,gender\na,61,F\n"))
    assert "gender is 'F', not a number" in str(caught.value) and "`sex` column" in str(caught.value)


def test_run_refuses_the_published_format_naming_it(tmp_path: Path) -> None:
    write(tmp_path, "demographics.csv", "Study ID,age,gender\nnight01,0.6,1\n")
    with pytest.raises(InputError, match="published covariate format"):
        load_cohort("cohort-edf").demographics(tmp_path)


# ---------------------------------------------------------------------------- label mapping
MAPPING = "label_idx,phecode,phenotype\n1,8.5,Bacterial enteritis\n0,8.0,Intestinal infection\n"


def test_label_mapping_for_a_head_comes_in_label_order(tmp_path: Path) -> None:
    table = read_label_mapping(write(tmp_path, "m.csv", MAPPING), 2)
    assert table["phecode"].tolist() == ["8.0", "8.5"] and table["label_idx"].tolist() == [0, 1]
    with pytest.raises(InputError, match="label_idx must number the rows"):
        read_label_mapping(write(tmp_path, "m.csv", MAPPING.replace("\n1,", "\n5,")), ordered=True)


def test_label_mapping_subset_for_evaluate(tmp_path: Path) -> None:
    path = write(tmp_path, "m.csv", "label_idx,phecode,phenotype\n448,427.21,Atrial fibrillation\n")
    table = read_label_mapping(path)
    assert table.loc[0, "phenotype"] == "Atrial fibrillation"
    with pytest.raises(InputError, match="each used once"):
        read_label_mapping(write(tmp_path, "m.csv", "label_idx,phecode,phenotype\n4,a,b\n4,c,d\n"))
