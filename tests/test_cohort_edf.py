"""``cohort-edf``: the naming rule that finds recordings and their hypnograms, IDs, tables, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from sleepfm.cohorts import available_cohorts, load_cohort
from sleepfm.cohorts.files import data_signal_count
from sleepfm.errors import ConfigError, InputError, UsageError


def edf_header(labels: list[str]) -> bytes:
    """A syntactically valid EDF header with these signal labels (no data records needed here)."""
    n = len(labels)
    fixed = (b"0".ljust(8) + b"X X X X".ljust(80) + b"Startdate 01-JAN-2020 X X X".ljust(80) + b"01.01.20"
             + b"22.00.00" + str(256 * (n + 1)).encode().ljust(8) + b"EDF+C".ljust(44) + b"0".ljust(8)
             + b"1".ljust(8) + str(n).encode().ljust(4))
    per_signal = b"".join(label.encode().ljust(16) for label in labels)
    for width in (80, 8, 8, 8, 8, 8, 80, 8, 32):
        per_signal += b" " * width * n
    return fixed + per_signal


def write(path: Path, labels: list[str] | None = None, text: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if labels is None:
        path.write_text(text)
    else:
        path.write_bytes(edf_header(labels))
    return path


SIGNALS = ["EEG C3-M2", "ECG"]
ANNOTATIONS = ["EDF Annotations"]


def test_naming_rule_pairs_recordings_with_their_hypnograms(tmp_path: Path) -> None:
    write(tmp_path / "night1.edf", SIGNALS)
    write(tmp_path / "night1-Hypnogram.edf", ANNOTATIONS)
    write(tmp_path / "night1.csv", text="onset,stage\n0,W\n")          # rank 2: loses to the marked file
    write(tmp_path / "SN001.edf", SIGNALS)
    write(tmp_path / "SN001_sleepscoring.edf", ANNOTATIONS)          # HMC naming
    write(tmp_path / "slp01a.bdf", SIGNALS)
    write(tmp_path / "slp01a.an", text="x")                          # same stem, hypnogram suffix
    write(tmp_path / "alone.rec", SIGNALS)
    write(tmp_path / "alone-notes.txt", text="not a marker")
    write(tmp_path / "night10.edf", SIGNALS)                         # night1's hypnogram is not night10's
    write(tmp_path / ".partial.edf", SIGNALS)                        # hidden: skipped

    studies = load_cohort("cohort-edf").discover(tmp_path)

    found = {s.id: (s.signal_path.name, s.hypnogram_path.name if s.hypnogram_path else None) for s in studies}
    assert found == {
        "SN001": ("SN001.edf", "SN001_sleepscoring.edf"),
        "alone": ("alone.rec", None),
        "night1": ("night1.edf", "night1-Hypnogram.edf"),
        "night10": ("night10.edf", None),
        "slp01a": ("slp01a.bdf", "slp01a.an"),
    }
    assert [s.id for s in studies] == sorted(found)
    assert all(s.participant == s.id for s in studies)


def test_annotation_only_edf_is_not_a_recording(tmp_path: Path) -> None:
    hypnogram = write(tmp_path / "scoring.edf", ANNOTATIONS)
    assert data_signal_count(hypnogram) == 0
    assert data_signal_count(write(tmp_path / "psg.edf", [*SIGNALS, "EDF Annotations"])) == 2
    assert load_cohort("cohort-edf").discover(tmp_path)[0].id == "psg"


def test_unreadable_header_is_still_discovered_so_it_can_be_reported(tmp_path: Path) -> None:
    write(tmp_path / "broken.edf", text="not an EDF")
    assert [s.id for s in load_cohort("cohort-edf").discover(tmp_path)] == ["broken"]


def test_clashing_names_in_sub_folders_get_folder_prefixes(tmp_path: Path) -> None:
    write(tmp_path / "site_a" / "night.edf", SIGNALS)
    write(tmp_path / "site_b" / "night.edf", SIGNALS)
    write(tmp_path / "site_b" / "night.hypnogram.csv", text="onset,stage\n")
    write(tmp_path / "site_b" / "other.edf", SIGNALS)
    studies = {s.id: s for s in load_cohort("cohort-edf").discover(tmp_path)}
    assert set(studies) == {"site_a-night", "site_b-night", "other"}
    assert studies["site_b-night"].hypnogram_path.name == "night.hypnogram.csv"
    assert studies["site_a-night"].hypnogram_path is None


def test_parameters_recursive_markers_and_format(tmp_path: Path) -> None:
    write(tmp_path / "top.edf", SIGNALS)
    write(tmp_path / "top_expert.xml", text="<x/>")
    write(tmp_path / "deep" / "inner.edf", SIGNALS)
    cohort = load_cohort("cohort-edf", {"recursive": False, "hypnogram_markers": ["expert"],
                                        "hypnogram_format": "nsrr-xml"})
    (study,) = cohort.discover(tmp_path)
    assert study.hypnogram_path.name == "top_expert.xml"
    assert study.label_reader == "nsrr-xml" and study.extra == {}


def test_demographics_and_published_outcomes_are_read(tmp_path: Path) -> None:
    (tmp_path / "demographics.csv").write_text("Study ID,age,sex\nnight1,54,F\nnight2,61.5,male\nnight3,,\n")
    (tmp_path / "is_event.csv").write_text("Study ID,death,327.3\nnight1,0,1\nnight2,1,0\n")
    (tmp_path / "time_to_event.csv").write_text("Study ID,death,327.3\nnight1,3845,1814\nnight2,200,3000\n")
    cohort = load_cohort("cohort-edf")
    demographics = cohort.demographics(tmp_path)
    assert demographics["Study ID"].tolist() == ["night1", "night2", "night3"]
    assert demographics["sex"].tolist() == ["F", "M", None]
    assert demographics["age"].iloc[1] == 61.5 and demographics["age"].isna().iloc[2]
    is_event, times = cohort.outcomes(tmp_path)
    assert is_event.loc["night2", "death"] == 1 and times.loc["night1", "327.3"] == 1814.0
    assert list(is_event.columns) == ["death", "327.3"]


@pytest.mark.parametrize(("row", "message"), [
    ("night1,250,F", "line 2: age 250 is outside 0-120 years"),
    ("night1,old,F", "line 2: age is 'old', not a number"),
    ("night1,50,X", "line 2: sex is 'X', not one of"),
])
def test_bad_demographics_name_the_line(tmp_path: Path, row: str, message: str) -> None:
    (tmp_path / "demographics.csv").write_text(f"Study ID,age,sex\n{row}\n")
    with pytest.raises(InputError, match=message):
        load_cohort("cohort-edf").demographics(tmp_path)


def test_missing_or_non_folder_data_is_one_line(tmp_path: Path) -> None:
    cohort = load_cohort("cohort-edf")
    with pytest.raises(InputError, match="data folder not found"):
        cohort.discover(tmp_path / "absent")
    with pytest.raises(InputError, match="not a folder"):
        cohort.discover(write(tmp_path / "file.edf", SIGNALS))


def test_unknown_cohort_names_the_available_ones() -> None:
    assert "cohort-edf" in available_cohorts()
    with pytest.raises(UsageError) as caught:
        load_cohort("cohort-nope")
    message = str(caught.value)
    assert "unknown cohort 'cohort-nope'" in message and "cohort-edf" in message and "\n" not in message


def test_unknown_parameter_is_a_config_error_naming_it() -> None:
    with pytest.raises(ConfigError, match=r"cohort\.params\.recursiv: unknown key"):
        load_cohort("cohort-edf", {"recursiv": False})


def test_hypnograms_in_a_folder_of_their_own(tmp_path: Path) -> None:
    write(tmp_path / "psg" / "night1.edf", SIGNALS)
    write(tmp_path / "psg" / "night2.edf", SIGNALS)
    write(tmp_path / "psg" / "night2-hypnogram.csv", text="onset,stage\n")    # beside it: preferred
    write(tmp_path / "hypnograms" / "night1.edf", ANNOTATIONS)                # same name, other folder
    write(tmp_path / "hypnograms" / "night2.edf", ANNOTATIONS)
    cohort = load_cohort("cohort-edf", {"hypnogram_folder": "hypnograms"})
    found = {s.id: s.hypnogram_path.relative_to(tmp_path).as_posix() for s in cohort.discover(tmp_path)}
    assert found == {"night1": "hypnograms/night1.edf", "night2": "psg/night2-hypnogram.csv"}
    with pytest.raises(InputError, match="hypnogram folder not found"):
        load_cohort("cohort-edf", {"hypnogram_folder": "absent"}).discover(tmp_path)
