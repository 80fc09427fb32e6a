"""``cohort-bids``: a BIDS tree generated here from synthetic demo nights — discovery, channel types
from channels.tsv (not labels), participants.tsv demographics, _hypnogram.tsv and events.tsv scoring —
and `sleepfm run --plugin cohort-bids` giving the same per-study stages as `cohort-edf` on the same EDFs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sleepfm.cli.app import main
from sleepfm.cohorts import load_cohort
from sleepfm.demo.synth import CHANNELS
from sleepfm.interfaces.modality import Modality
from sleepfm.map.bids_channels import BidsChannelsMapper

from .helpers_clinical import COMPAT, NIGHT, START, write_night

BIDS_TYPES = {"F4-M1": "EEG", "C4-M1": "EEG", "O2-M1": "EEG", "E1-M2": "EOG", "E2-M2": "EOG",
              "Chin1-Chin2": "EMG", "ECG": "ECG", "Leg L": "EMG", "Thor": "RESP", "Abdo": "RESP", "Airflow": "RESP",
              "SpO2": "MISC"}
STAGE_WORDS = {0: "Wake", 1: "N1", 2: "N2", 3: "N3", 4: "REM"}


def _channels_tsv(path: Path, types: dict[str, str], status: dict[str, str] | None = None) -> None:
    rows = [{"name": c.label, "type": types[c.label], "units": c.unit, "sampling_frequency": c.rate,
             "status": (status or {}).get(c.label, "good")} for c in CHANNELS]
    pd.DataFrame(rows).to_csv(path, sep="\t", index=False)


def bids_tree(root: Path, edfs: Path) -> Path:
    """Two participants: sub-01 with two sessions (a _hypnogram.tsv, an events.tsv), sub-02 unscored."""
    edfs.mkdir(parents=True)
    root.mkdir(parents=True)
    (root / "dataset_description.json").write_text(json.dumps({"Name": "synthetic", "BIDSVersion": "1.9.0"}))
    pd.DataFrame({"participant_id": ["sub-01", "sub-02"], "age": ["54", "n/a"], "sex": ["F", "M"]}).to_csv(
        root / "participants.tsv", sep="\t", index=False)
    nights = {"sub-01_ses-1_task-sleep": (NIGHT, 0), "sub-01_ses-2_task-sleep": (NIGHT[::-1], 1),
              "sub-02_task-sleep": (NIGHT[:12], 2)}
    for study, (stages, seed) in nights.items():
        subject, *rest = study.split("_")
        session = [p for p in rest if p.startswith("ses-")]
        folder = root / subject / (session[0] if session else "") / "eeg"
        folder.mkdir(parents=True, exist_ok=True)
        write_night(edfs / f"{study}.edf", stages, seed=seed)
        shutil.copy(edfs / f"{study}.edf", folder / f"{study}_eeg.edf")
        _channels_tsv(folder / f"{study}_channels.tsv", BIDS_TYPES)
        onsets = 30.0 * np.arange(len(stages))
        if study.endswith("ses-1_task-sleep"):
            pd.DataFrame({"onset": onsets, "duration": 30.0, "stage": [STAGE_WORDS[s] for s in stages]}).to_csv(
                folder / f"{study}_hypnogram.tsv", sep="\t", index=False)
        elif "ses-2" in study:
            events = pd.DataFrame({"onset": [12.5, *onsets], "duration": [0.0, *[30.0] * len(stages)],
                                   "trial_type": ["lights off", *(f"Sleep stage {STAGE_WORDS[s][0]}"
                                                                  if s in (0, 4) else f"Sleep stage N{s}"
                                                                  for s in stages)]})
            events.to_csv(folder / f"{study}_events.tsv", sep="\t", index=False)
    return root


def test_discovery_demographics_and_scoring(tmp_path: Path) -> None:
    root = bids_tree(tmp_path / "bids", tmp_path / "edf")
    cohort = load_cohort("cohort-bids", {})
    studies = {s.id: s for s in cohort.discover(root)}
    assert list(studies) == ["sub-01_ses-1_task-sleep", "sub-01_ses-2_task-sleep", "sub-02_task-sleep"]
    assert studies["sub-01_ses-2_task-sleep"].participant == "sub-01"
    assert studies["sub-01_ses-1_task-sleep"].hypnogram_path.name.endswith("_hypnogram.tsv")
    assert studies["sub-01_ses-2_task-sleep"].hypnogram_path.name.endswith("_events.tsv")
    assert studies["sub-02_task-sleep"].hypnogram_path is None
    from sleepfm.labels import read_hypnogram

    for study, truth in (("sub-01_ses-1_task-sleep", NIGHT), ("sub-01_ses-2_task-sleep", NIGHT[::-1])):
        scored = read_hypnogram(studies[study].hypnogram_path, fmt=studies[study].label_reader)
        assert scored.stages.tolist() == truth and scored.onset == 0.0
    events = read_hypnogram(studies["sub-01_ses-2_task-sleep"].hypnogram_path).events
    assert events["event"].tolist() == ["lights off"]
    demographics = cohort.demographics(root)
    assert demographics.to_dict(orient="list") == {
        "Study ID": ["sub-01_ses-1_task-sleep", "sub-01_ses-2_task-sleep", "sub-02_task-sleep"],
        "age": [54.0, 54.0, pytest.approx(np.nan, nan_ok=True)], "sex": ["F", "F", "M"]}
    assert cohort.default_config() == {"preprocess": {"channel_mapper": "bids-channels"}}


def test_channel_types_decide_not_labels(tmp_path: Path) -> None:
    recording = tmp_path / "sub-01_task-sleep_eeg.edf"
    recording.touch()
    types = {**BIDS_TYPES, "F4-M1": "EMG", "E1-M2": "MISC", "ECG": "TRIG", "Thor": "EEG"}
    _channels_tsv(tmp_path / "sub-01_task-sleep_channels.tsv", types, status={"Abdo": "bad"})
    mapper = BidsChannelsMapper().for_recording(recording)
    decided = {a.label: a for a in mapper.assign([c.label for c in CHANNELS] + ["Snore"])}
    assert decided["F4-M1"].modality is Modality.EMG and decided["F4-M1"].rule == "bids:EMG"  # type over label
    assert decided["Thor"].modality is Modality.BAS
    assert decided["E1-M2"].modality is Modality.BAS and decided["E1-M2"].rule.startswith("bids:MISC→bas:eog")
    assert decided["SpO2"].modality is Modality.RESP and decided["SpO2"].rule.startswith("bids:MISC→resp:")
    assert decided["ECG"].modality is None and "not a physiological signal" in decided["ECG"].reason
    assert decided["Abdo"].modality is None and decided["Abdo"].reason == "marked bad in channels.tsv"
    assert decided["Snore"].rule.startswith("bids:not in channels.tsv→resp:")
    # Without a channels.tsv the label rules decide.
    alone = tmp_path / "other" / "sub-02_task-sleep_eeg.edf"
    alone.parent.mkdir()
    alone.touch()
    assert BidsChannelsMapper().for_recording(alone).assign(["C4-M1"])[0].rule.startswith("bids:no channels.tsv→")


@pytest.mark.slow
def test_run_on_bids_gives_the_stages_of_cohort_edf(shared: Path, tmp_path: Path, capsys) -> None:
    root = bids_tree(tmp_path / "bids", tmp_path / "edf")
    common = ["--checkpoints", str(shared / COMPAT), "--set", "risk.enabled=off", "--set", "staging.plots=false"]
    assert main(["run", "--plugin", "cohort-bids", "--data", str(root), "--out", str(tmp_path / "a"),
                 "--format", "csv,bids", *common]) == 0, capsys.readouterr().err
    assert main(["run", "--plugin", "cohort-edf", "--data", str(tmp_path / "edf"), "--out", str(tmp_path / "b"),
                 *common]) == 0, capsys.readouterr().err
    bids = json.loads((tmp_path / "a" / "report.json").read_text())
    edf = {s["id"]: s for s in json.loads((tmp_path / "b" / "report.json").read_text())["studies"]}
    assert bids["summary"]["evaluated"] == 2 and bids["bland_altman"][0]["label"] == "TST"
    for study in bids["studies"]:
        twin = edf[study["id"]]
        assert study["modalities"] == twin["modalities"] == ["BAS", "RESP", "EKG", "EMG"]
        ours = pd.read_csv(tmp_path / "a" / study["outputs"]["hypnogram"])
        theirs = pd.read_csv(tmp_path / "b" / twin["outputs"]["hypnogram"])
        assert ours["stage"].tolist() == theirs["stage"].tolist()
        np.testing.assert_array_equal(ours.filter(like="p_").to_numpy(), theirs.filter(like="p_").to_numpy())
        assert (tmp_path / "a" / study["outputs"]["hypnogram_bids"]).name.endswith("_hypnogram.tsv")
    resolved = (tmp_path / "a" / "config.resolved.yaml").read_text()
    assert "channel_mapper: bids-channels" in resolved
    assert START.isoformat() in (tmp_path / "a" / bids["studies"][0]["outputs"]["hypnogram"]).read_text()


def test_unknown_hypnogram_format_is_refused_before_any_work(tmp_path: Path, capsys) -> None:
    from .helpers_clinical import assert_refused

    edf = tmp_path / "night.edf"
    edf.write_bytes(b"not read")
    assert_refused(main, [
        (["run", "--data", str(tmp_path), "--out", str(tmp_path / "o"), "--checkpoints", str(tmp_path),
          "--format", "csv,vendor"], 2, "no hypnogram writer named 'vendor'"),
        (["stage", str(edf), "--checkpoints", str(tmp_path), "--out", str(tmp_path / "o"), "--format", "edf,nsr"],
         2, "no hypnogram writer named 'nsr'"),
    ], capsys)
    assert not (tmp_path / "o").exists()
