"""cohort-shhs, tested installed: discovery in the NSRR layout, the channel map against the SHHS
montage, the NSRR XML stages and events, and the demographics and outcome tables."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyedflib
import pytest
from sleepfm_cohort_shhs.cohort import channel_map_path
from sleepfm_cohort_shhs.synthetic import SHHS1_MONTAGE, SyntheticStudy, write_shhs_cohort

from sleepfm import registry
from sleepfm.cohorts import load_cohort
from sleepfm.errors import ConfigError, InputError
from sleepfm.labels import read_hypnogram

STAGES = [0, 0, 0, 1, 1, 2, 2, 2, 3, 3, 2, 4, 4, 0, 2, 2, 3, 4, 4, 0]


@pytest.fixture
def cohort_folder(tmp_path: Path) -> Path:
    studies = [
        SyntheticStudy("200001", STAGES, age=55, male=True, hypopnea_epoch=6),
        SyntheticStudy("200077", STAGES[::-1], age=71.5, male=False, ecg_rate=250,
                       outcomes={"vital": 0, "censdate": 1200, "mi": 1, "mi_date": 800}),
    ]
    write_shhs_cohort(tmp_path / "shhs", studies)
    return tmp_path / "shhs"


def test_registered_through_its_distribution() -> None:
    entry = registry.entry("cohorts", "cohort-shhs")
    assert entry.plugin.distribution == "sleepfm-cohort-shhs" and entry.plugin.version == "0.1.0"


def test_discovers_nsrr_layout_and_pairs_xml(cohort_folder: Path) -> None:
    studies = load_cohort("cohort-shhs").discover(cohort_folder)
    assert [s.id for s in studies] == ["shhs1-200001", "shhs1-200077"]
    first = studies[0]
    assert first.participant == "200001" and first.extra["visit"] == 1
    assert first.signal_path.name == "shhs1-200001.edf"
    assert first.hypnogram_path.name == "shhs1-200001-nsrr.xml"
    assert first.label_reader == "nsrr-xml"


def test_flat_layout_other_files_and_a_missing_xml(tmp_path: Path) -> None:
    write_shhs_cohort(tmp_path, [SyntheticStudy("300001", STAGES), SyntheticStudy("300002", STAGES)], layout="flat")
    (tmp_path / "shhs1-300002-nsrr.xml").unlink()
    (tmp_path / "notes.edf").write_bytes(b"")
    (tmp_path / "shhs2-300001.edf").write_bytes((tmp_path / "shhs1-300001.edf").read_bytes())
    studies = {s.id: s for s in load_cohort("cohort-shhs").discover(tmp_path)}
    assert set(studies) == {"shhs1-300001", "shhs1-300002", "shhs2-300001"}
    assert studies["shhs1-300002"].hypnogram_path is None
    # Both visits of one person share the participant, so splits keep them together.
    assert studies["shhs2-300001"].participant == studies["shhs1-300001"].participant == "300001"


def test_written_montage_has_the_shhs1_labels_and_rates(cohort_folder: Path) -> None:
    studies = load_cohort("cohort-shhs").discover(cohort_folder)
    with pyedflib.EdfReader(str(studies[1].signal_path)) as reader:
        rates = dict(zip(reader.getSignalLabels(), reader.getSampleFrequencies(), strict=True))
        assert reader.getFileDuration() == len(STAGES) * 30
    expected = {label: rate for label, rate, _, _ in SHHS1_MONTAGE}
    assert rates == {**expected, "ECG": 250.0}


def test_channel_map_covers_the_physiological_channels(cohort_folder: Path) -> None:
    config = load_cohort("cohort-shhs").default_config()["preprocess"]
    assert Path(config["channel_map"]) == channel_map_path() and config["channel_mapper"] == "table"
    table = json.loads(channel_map_path().read_text())
    modality = {label: group for group, labels in table.items() for label in labels}
    montage = [label for label, *_ in SHHS1_MONTAGE]
    assert {label: modality.get(label) for label in montage} == {
        "SaO2": "RESP", "H.R.": "RESP", "EEG(sec)": "BAS", "ECG": "EKG", "EMG": "EMG", "EOG(L)": "BAS",
        "EOG(R)": "BAS", "EEG": "BAS", "THOR RES": "RESP", "ABDO RES": "RESP", "POSITION": None, "LIGHT": None,
        "NEW AIR": "RESP", "OX stat": None,
    }


def test_nsrr_xml_run_length_stages_and_hypopnea(cohort_folder: Path) -> None:
    study = load_cohort("cohort-shhs").discover(cohort_folder)[0]
    hypnogram = read_hypnogram(study.hypnogram_path, fmt=study.label_reader)
    assert hypnogram.stages.tolist() == STAGES
    assert hypnogram.start_time is not None and hypnogram.start_time.strftime("%H:%M") == "22:00"
    events = hypnogram.events.set_index("event")
    assert events.loc["hypopnea", "onset"] == pytest.approx(6 * 30 + 4.5)
    assert events.loc["desaturation", "nadir"] == 89.0


def test_demographics_gender_codes(cohort_folder: Path) -> None:
    frame = load_cohort("cohort-shhs").demographics(cohort_folder)
    assert frame.to_dict("list") == {"Study ID": ["shhs1-200001", "shhs1-200077"], "age": [55.0, 71.5],
                                     "sex": ["M", "F"]}


def test_outcomes_map_to_is_event_and_time_to_event(cohort_folder: Path) -> None:
    is_event, times = load_cohort("cohort-shhs").outcomes(cohort_folder)
    assert list(is_event.columns) == ["death", "Myocardial Infarction", "Heart Failure", "Stroke", "Angina"]
    assert is_event.loc["shhs1-200077"].tolist() == [1, 1, 0, 0, 0]
    assert is_event.loc["shhs1-200001"].tolist() == [0, 0, 0, 0, 0]
    # Events take their own day; the others are censored at last contact (censdate).
    assert times.loc["shhs1-200077"].tolist() == [1200.0, 800.0, 1200.0, 1200.0, 1200.0]
    assert np.all(times.loc["shhs1-200001"].to_numpy() == 5000.0)


def test_outcome_columns_are_configurable(cohort_folder: Path) -> None:
    cohort = load_cohort("cohort-shhs", {"outcomes": {"Stroke": {"event": "stroke", "time": "stk_date"}}})
    is_event, _ = cohort.outcomes(cohort_folder)
    assert list(is_event.columns) == ["Stroke"]
    with pytest.raises(ConfigError, match=r"cohort\.params\.outcomes"):
        load_cohort("cohort-shhs", {"outcomes": {"Stroke": {"event": "stroke"}}})


def test_bad_tables_are_one_line_errors(cohort_folder: Path) -> None:
    table = cohort_folder / "datasets" / "shhs1-dataset-0.21.0.csv"
    table.write_text("nsrrid,age_s1,gender\n200001,55,3\n")
    with pytest.raises(InputError, match="line 2: gender is '3', not one of 1, 2"):
        load_cohort("cohort-shhs").demographics(cohort_folder)
    table.write_text("nsrrid,gender\n200001,1\n")
    with pytest.raises(InputError, match="neither age_s1 nor age_s2"):
        load_cohort("cohort-shhs").demographics(cohort_folder)
