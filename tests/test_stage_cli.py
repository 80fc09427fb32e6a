"""``sleepfm stage`` end to end on a synthetic 10-minute night with a known hypnogram, with the
release-layout random-weight checkpoints of ../shared: the three outputs, statistics that match
the hand-computed ones, and bad input refused in one line with nothing half written."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from sleepfm.cli.app import main
from sleepfm.clinical.models import StagingRunner

from .helpers_clinical import (
    COMPAT,
    NIGHT,
    assert_refused,
    error_lines,
    token_probabilities,
    write_night,
)

# Hand-computed statistics of NIGHT (see helpers_clinical): window = the 20 epochs.
EXPECTED = {"time_in_bed": 10.0, "total_sleep_time": 7.0, "sleep_efficiency": 70.0, "sleep_onset_latency": 1.0,
            "sleep_period_time": 8.5, "waso": 2.0, "rem_latency": 4.5, "awakenings": 3,
            "stage_minutes": {"W": 3.0, "N1": 1.0, "N2": 3.5, "N3": 1.0, "REM": 1.5, "UNS": 0.0}}


@pytest.fixture
def night(tmp_path: Path) -> tuple[Path, Path]:
    return write_night(tmp_path / "night.edf", hypnogram=tmp_path / "night-hypnogram.edf"), \
        tmp_path / "night-hypnogram.edf"


def _matches(stats: dict, expected: dict) -> None:
    for key, value in expected.items():
        assert stats[key] == pytest.approx(value), key


@pytest.mark.slow
def test_stage_writes_the_three_outputs_and_hand_checked_statistics(shared: Path, night, tmp_path: Path,
                                                                      capsys) -> None:
    edf, hypnogram = night
    out = tmp_path / "out"
    code = main(["stage", str(edf), "--checkpoints", str(shared / COMPAT), "--out", str(out),
                 "--hypnogram", str(hypnogram), "--detail-5s"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert sorted(p.name for p in out.iterdir()) == ["night.hypnogram-5s.csv", "night.hypnogram.csv", "night.png",
                                                     "night.stats.json"]  # the work folder is gone
    table = pd.read_csv(out / "night.hypnogram.csv")
    assert len(table) == 20 and table["onset"].tolist() == [30.0 * i for i in range(20)]
    assert table["clock_time"].iloc[0] == "2024-03-01T22:30:00"
    assert len(pd.read_csv(out / "night.hypnogram-5s.csv")) == 120
    assert (out / "night.png").read_bytes()[:4] == b"\x89PNG"

    stats = json.loads((out / "night.stats.json").read_text())
    assert stats["recording"]["duration_s"] == 600.0 and stats["recording"]["epochs"] == 20
    assert stats["recording"]["modalities"] == ["BAS", "RESP", "EKG", "EMG"]
    _matches(stats["scored"], EXPECTED)
    # The random-weight model's night: its statistics follow from its own table.
    predicted = table["stage"].tolist()
    sleep = [s != "W" for s in predicted]
    assert stats["predicted"]["total_sleep_time"] == sum(sleep) * 0.5
    assert stats["predicted"]["stage_minutes"]["W"] == predicted.count("W") * 0.5
    truth = ["W" if s == 0 else "REM" if s == 4 else f"N{s}" for s in NIGHT]
    assert stats["agreement"]["accuracy"] == pytest.approx(sum(a == b for a, b in zip(truth, predicted,
                                                                                      strict=True)) / 20)
    assert "night.hypnogram.csv" in captured.out


@pytest.mark.slow
def test_known_model_output_gives_the_hand_computed_night(shared: Path, night, tmp_path: Path,
                                                          monkeypatch) -> None:
    """The staging head replaced by known probabilities: every figure of the predicted night is
    the hand-computed one, through the whole pipeline (preprocess, embed, fold, statistics), here
    called through the Python API."""
    import sleepfm
    from sleepfm.clinical.stage import StageOptions

    edf, hypnogram = night
    monkeypatch.setattr(StagingRunner, "probabilities", lambda self, path: token_probabilities(NIGHT))
    out = tmp_path / "out"
    (recording,) = sleepfm.stage(edf, shared / COMPAT, out, hypnograms=[hypnogram],
                                 options=StageOptions(plot=False))
    assert recording.ok and recording.key == "night"
    stats = json.loads((out / "night.stats.json").read_text())
    _matches(stats["predicted"], EXPECTED)
    assert stats["agreement"]["accuracy"] == 1.0 and stats["agreement"]["kappa"] == 1.0
    assert not (out / "night.png").exists()
    # The call returns the night itself; its files are where the caller asked, and nothing else stays.
    assert recording.files == [out / "night.hypnogram.csv", out / "night.stats.json"]
    assert recording.statistics["predicted"] == stats["predicted"]
    assert recording.stages == [("W", "N1", "N2", "N3", "REM")[s] for s in NIGHT]
    assert recording.hypnogram.n_epochs == 20 and list(recording.probabilities["stage"]) == recording.stages
    assert sorted(p.name for p in out.iterdir()) == ["night.hypnogram.csv", "night.stats.json"]
    assert recording.warnings == []  # a clean night: nothing a user needs to hear
    # Without an output folder nothing is written at all.
    (alone,) = sleepfm.stage(edf, shared / COMPAT, options=StageOptions(plot=False))
    assert alone.files == [] and alone.stages == recording.stages


def test_bad_input_is_one_line_before_any_work(shared: Path, tmp_path: Path, capsys) -> None:
    compat = str(shared / COMPAT)
    not_edf = tmp_path / "notes.edf"
    not_edf.write_text("hello")
    a_file = tmp_path / "file"
    a_file.write_text("x")
    cases = [
        (["stage", str(tmp_path / "absent.edf"), "--checkpoints", compat, "--out", str(tmp_path / "o1")], 2,
         "input not found: " + str(tmp_path / "absent.edf")),
        (["stage", str(not_edf), "--checkpoints", str(tmp_path), "--out", str(tmp_path / "o2")], 1,
         "no model_base, model_sleep_staging"),
        (["stage", str(not_edf), "--checkpoints", compat, "--out", str(a_file)], 2, "--out is a file"),
        (["stage", str(not_edf), "--checkpoints", compat, "--out", str(tmp_path / "o3"), "--hypnogram",
          str(not_edf), "--hypnogram", str(not_edf)], 2, "2 --hypnogram for 1 recordings"),
        (["stage", str(not_edf), "--checkpoints", compat, "--out", str(tmp_path / "o4"), "--hypnogram",
          str(not_edf)], 1, "not a hypnogram format sleepfm recognises"),
        (["stage", str(not_edf), "--checkpoints", compat, "--out", str(tmp_path / "o5"), "--unscored", "X"], 2,
         "unscored: 'X' is not a stage"),
    ]
    assert_refused(main, cases, capsys)
    assert not any((tmp_path / name).exists() for name in ("o1", "o2", "o3", "o4", "o5"))


def test_folders_and_patterns_are_taken_and_hypnograms_among_them_set_aside(shared: Path, tmp_path: Path,
                                                                             capsys) -> None:
    # The inputs are discovered (files, folders, patterns alike) before the checkpoints are looked
    # at: an empty checkpoints folder is what stops these, not the folder or the hypnogram EDF.
    folder = tmp_path / "sleep-edf"
    folder.mkdir()
    for name in ("SC4001E0-PSG_first300s.edf", "SC4001EC-Hypnogram.edf"):
        (folder / name).symlink_to(shared / "data" / "psg" / "sleep-edf" / name)
    for given in ([str(folder)], [str(folder / "*.edf")]):
        assert main(["stage", *given, "--checkpoints", str(tmp_path), "--out", str(tmp_path / "o")]) == 1
        (line,) = error_lines(capsys.readouterr().err)
        assert "no model_base, model_sleep_staging" in line
    assert main(["stage", str(folder / "SC4001EC-Hypnogram.edf"), "--checkpoints", str(tmp_path), "--out",
                 str(tmp_path / "o")]) == 1
    assert "holds only annotations (a hypnogram, not a recording)" in capsys.readouterr().err
    assert main(["stage", str(folder / "*.bdf"), "--checkpoints", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert "no recordings match" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_a_recording_that_fails_is_reported_and_the_others_are_staged(shared: Path, tmp_path: Path,
                                                                      capsys) -> None:
    good = write_night(tmp_path / "good.edf", NIGHT[:10])
    bad = tmp_path / "bad.edf"
    bad.write_bytes(b"0       " + b"garbage" * 40)
    out = tmp_path / "out"
    code = main(["stage", str(good), str(bad), "--checkpoints", str(shared / COMPAT), "--out", str(out),
                 "--no-plot"])
    err = capsys.readouterr().err
    assert code == 1
    (line,) = error_lines(err)
    assert line.startswith(f"error: {bad}: preprocess failed:") and "Traceback" not in err
    assert sorted(p.name for p in out.iterdir()) == ["good.hypnogram.csv", "good.stats.json"]


@pytest.mark.slow
def test_a_fine_tuned_head_replaces_the_published_one(shared: Path, tmp_path: Path, capsys) -> None:
    """A sleepfm-format staging head (as `sleepfm finetune` saves it) given by --staging-head; its
    positional encoding (64 steps) is shorter than the night (120), so it stages in windows."""
    from sleepfm import registry
    from sleepfm.checkpoints import save_model

    cls = registry.get("heads", "lstm-staging")
    head = cls.from_config({"embed_dim": 128, "num_heads": 2, "pooling_head": 2, "dim_feedforward": 32,
                            "max_seq_length": 64})
    folder = save_model(head, tmp_path / "best")
    edf = write_night(tmp_path / "night.edf")
    out = tmp_path / "out"
    assert main(["stage", str(edf), "--checkpoints", str(shared / COMPAT), "--out", str(out), "--no-plot",
                 "--staging-head", str(folder)]) == 0, capsys.readouterr().err
    stats = json.loads((out / "night.stats.json").read_text())
    assert stats["model"]["staging"] == str(folder) and stats["recording"]["epochs"] == 20
    assert main(["stage", str(edf), "--checkpoints", str(shared / COMPAT), "--out", str(out),
                 "--staging-head", str(tmp_path)]) == 1
    assert "no config.json in the checkpoint folder" in error_lines(capsys.readouterr().err)[0]


@pytest.mark.slow
def test_an_unexpected_error_in_one_recording_spares_the_others(shared: Path, tmp_path: Path, monkeypatch,
                                                                 capsys) -> None:
    first = write_night(tmp_path / "first.edf", NIGHT[:10])
    second = write_night(tmp_path / "second.edf", NIGHT[:10], seed=1)
    original = StagingRunner.probabilities

    def flaky(self, path):  # type: ignore[no-untyped-def]
        if path.stem == "first":
            raise RuntimeError("CUDA error: device-side assert triggered")
        return original(self, path)

    monkeypatch.setattr(StagingRunner, "probabilities", flaky)
    out, work = tmp_path / "out", tmp_path / "work"
    argv = ["stage", str(first), str(second), "--checkpoints", str(shared / COMPAT), "--out", str(out), "--no-plot",
            "--work", str(work)]
    assert main(argv) == 1
    err = capsys.readouterr().err
    (line,) = error_lines(err)
    assert "first.edf: stage failed: unexpected RuntimeError: CUDA error" in line and "Traceback" not in err
    assert sorted(p.name for p in out.iterdir()) == ["second.hypnogram.csv", "second.stats.json"]
    # --debug shows where it came from (the stores of the first run are reused).
    assert main(["--debug", *argv]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "in flaky" in err and "RuntimeError: CUDA error" in err


@pytest.mark.slow
def test_stage_writes_each_format_read_back_by_an_independent_reader(shared: Path, night, tmp_path: Path,
                                                                      capsys) -> None:
    """`sleepfm stage night.edf --format edf,bids,nsrr,yasa`: four hypnograms (and the BIDS sidecar), read by
    MNE, pandas, sleepfm's NSRR reader and yasa (when installed) with the stages and onsets of the CSV."""
    import mne

    from sleepfm.labels import read_hypnogram
    from sleepfm.labels.hypnogram import Stage

    edf, _ = night
    out = tmp_path / "out"
    code = main(["stage", str(edf), "--checkpoints", str(shared / COMPAT), "--out", str(out), "--no-plot",
                 "--format", "edf,bids", "--format", "nsrr,yasa", "--format", "csv"])
    assert code == 0, capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == [
        "night-nsrr.xml", "night.hypnogram.csv", "night.hypnogram.edf", "night.stats.json", "night.yasa.csv",
        "night_hypnogram.json", "night_hypnogram.tsv"]
    table = pd.read_csv(out / "night.hypnogram.csv")
    stages, onsets = table["stage"].tolist(), table["onset"].to_numpy()

    annotations = mne.read_annotations(out / "night.hypnogram.edf")
    edf_names = {"Sleep stage W": "W", "Sleep stage N1": "N1", "Sleep stage N2": "N2", "Sleep stage N3": "N3",
                 "Sleep stage R": "REM"}
    assert [edf_names[d] for d in annotations.description] == stages
    assert annotations.onset.tolist() == onsets.tolist()

    bids = pd.read_csv(out / "night_hypnogram.tsv", sep="\t")
    bids_names = {"Wake": "W", "N1": "N1", "N2": "N2", "N3": "N3", "REM": "REM"}
    expanded = [bids_names[row.stage] for row in bids.itertuples() for _ in range(round(row.duration / 30))]
    assert expanded == stages and bids["onset"].iloc[0] == 0.0
    assert json.loads((out / "night_hypnogram.json").read_text())["Scorer"] == "sleepfm"

    nsrr = read_hypnogram(out / "night-nsrr.xml", fmt="nsrr-xml")
    assert [Stage(int(code)).name for code in nsrr.stages] == stages and nsrr.onset == 0.0
    assert nsrr.start_time.isoformat() == "2024-03-01T22:30:00"

    yasa_table = pd.read_csv(out / "night.yasa.csv")
    assert yasa_table["onset"].tolist() == onsets.tolist()
    assert [{"WAKE": "W"}.get(s, s) for s in yasa_table["stage"]] == stages
    yasa = pytest.importorskip("yasa", reason="yasa is a dev extra (Python >= 3.11)")
    hyp = yasa.Hypnogram(yasa_table["stage"].tolist(), start=yasa_table["time"].iloc[0],
                         proba=yasa_table[["WAKE", "N1", "N2", "N3", "REM"]])
    assert [{"WAKE": "W"}.get(s, s) for s in hyp.hypno] == stages and hyp.n_epochs == 20


@pytest.mark.slow
def test_a_kept_work_folder_is_reused_only_for_the_same_quality_mode(shared: Path, night, tmp_path: Path,
                                                                    capsys) -> None:
    import h5py

    edf, _ = night
    common = ["stage", str(edf), "--checkpoints", str(shared / COMPAT), "--out", str(tmp_path / "out"), "--no-plot",
              "--no-pair", "--work", str(tmp_path / "work")]
    stored = tmp_path / "work" / "embeddings" / "night.h5"
    for mode, embedded in (("mask", "embed: 1 done"), ("mask", "embed: 0 done, 1 reused"),
                           ("off", "embed: 1 done"), ("off", "embed: 0 done, 1 reused")):
        assert main([*common, "--quality", mode]) == 0
        assert embedded in capsys.readouterr().err, mode
        with h5py.File(stored) as handle:
            assert handle.attrs["quality"] == mode
    assert main([*common, "--quality", "sometimes"]) == 2
    assert "allowed values are mask and off" in capsys.readouterr().err
