"""One discovery rule for every command that takes recordings or stores: files, folders and glob
patterns alike; annotation-only EDF+ files set aside however they are given; distinct output names."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from sleepfm.cli.app import main
from sleepfm.errors import InputError, UsageError
from sleepfm.read.discover import expand, find_recordings, find_stores, output_names

from .helpers_clinical import error_lines
from .test_cohort_edf import ANNOTATIONS, SIGNALS, write


@pytest.fixture
def lab(tmp_path: Path) -> Path:
    write(tmp_path / "a" / "night1.edf", SIGNALS)
    write(tmp_path / "a" / "night1-Hypnogram.edf", ANNOTATIONS)
    write(tmp_path / "a" / "night2.BDF", SIGNALS)
    write(tmp_path / "a" / "notes.txt", text="not a recording")
    write(tmp_path / "a" / ".partial" / "night3.edf", SIGNALS)      # hidden folder: skipped
    write(tmp_path / "b" / "night1.edf", SIGNALS)
    return tmp_path


def test_files_folders_and_patterns_give_the_same_recordings(lab: Path) -> None:
    by_folder = find_recordings([lab / "a"])
    by_pattern = find_recordings([str(lab / "a" / "*.*")])
    by_name = find_recordings([lab / "a" / "night1.edf", lab / "a" / "night1-Hypnogram.edf", lab / "a" / "night2.BDF"])
    for found in (by_folder, by_pattern, by_name):
        assert [p.name for p in found.recordings] == ["night1.edf", "night2.BDF"]
        assert [p.name for p in found.annotations] == ["night1-Hypnogram.edf"]
    recursive = find_recordings([str(lab / "**" / "*.edf")])
    assert sorted(p.relative_to(lab).as_posix() for p in recursive.recordings) == ["a/night1.edf", "b/night1.edf"]
    assert by_folder.set_aside_note() == \
        "1 annotation-only file (hypnograms, not recordings) set aside: night1-Hypnogram.edf"


def test_missing_inputs_and_empty_patterns_are_usage_errors(lab: Path) -> None:
    with pytest.raises(UsageError, match="input not found"):
        expand([lab / "absent.edf"], (".edf",))
    with pytest.raises(UsageError, match=r"no recordings match '.*\*\.rec'"):
        find_recordings([str(lab / "a" / "*.rec")])
    with pytest.raises(UsageError, match="no recordings given"):
        find_recordings([])


def test_only_annotation_files_is_an_error_saying_so(lab: Path) -> None:
    with pytest.raises(InputError, match="holds only annotations"):
        find_recordings([lab / "a" / "night1-Hypnogram.edf"])
    write(lab / "c" / "notes.txt", text="x")
    with pytest.raises(InputError, match="no recordings found"):
        find_recordings([lab / "c"])


def test_output_names_keep_suffix_then_folder_when_stems_clash(lab: Path) -> None:
    files = [lab / "a" / "x.edf", lab / "a" / "x.bdf", lab / "a" / "y.edf", lab / "b" / "y.edf", lab / "b" / "z.edf"]
    assert output_names(files) == ["x.edf", "x.bdf", "a__y.edf", "b__y.edf", "z"]


def test_embed_says_to_preprocess_a_recording_first(lab: Path, tmp_path: Path, capsys) -> None:
    with pytest.raises(InputError, match=r"this is a recording \(EDF\), not a signal store: preprocess it first"):
        find_stores([lab / "a" / "night1.edf"])
    with pytest.raises(InputError, match="holds recordings, not signal stores: preprocess them first"):
        find_stores([lab / "a"])
    assert main(["embed", str(lab / "a" / "night1.edf"), "--checkpoint", str(tmp_path), "--out",
                 str(tmp_path / "emb")]) == 1
    (line,) = error_lines(capsys.readouterr().err)
    assert "not a signal store: preprocess it first" in line and "sleepfm preprocess" in line
    assert "re-run" not in line


def test_channels_takes_a_folder_and_sets_hypnograms_aside(shared: Path, tmp_path: Path, capsys) -> None:
    folder = tmp_path / "sleep-edf"
    folder.mkdir()
    for name in ("SC4001E0-PSG_first300s.edf", "SC4001EC-Hypnogram.edf"):
        (folder / name).symlink_to(shared / "data" / "psg" / "sleep-edf" / name)
    assert main(["channels", str(folder)]) == 0
    captured = capsys.readouterr()
    assert f"# {folder / 'SC4001E0-PSG_first300s.edf'}: 7 channels" in captured.out
    assert "set aside: SC4001EC-Hypnogram.edf" in captured.err
    assert "no signal reader" not in captured.err + captured.out
    assert main(["channels", str(folder / "*.edf")]) == 0
    assert "EEG Fpz-Cz" in capsys.readouterr().out


def test_a_rec_file_is_read_as_edf(shared: Path, tmp_path: Path) -> None:
    # Sleep-EDF's first release named its EDF files .rec; the same reader takes them.
    from sleepfm.read import read_recording

    rec = Path(shutil.copy(shared / "data" / "psg" / "sleep-edf" / "SC4001E0-PSG_first300s.edf",
                           tmp_path / "SC4001E0-PSG.rec"))
    assert find_recordings([tmp_path]).recordings == [rec]
    with read_recording(rec) as recording:
        assert recording.channels[0].label == "EEG Fpz-Cz"
