"""``sleepfm qc`` end to end on synthetic nights with injected artifacts (sleepfm.demo.artifacts):
the three files per study, the cohort summary ranked by verdict, one bad input failing alone."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sleepfm.cli.app import main
from sleepfm.demo.artifacts import Artifact, ArtifactSpec, inject
from sleepfm.demo.synth import CHANNELS, synthesize_signals, write_hypnogram_edf, write_psg

from .helpers_clinical import NIGHT, START, error_lines


def _night(path: Path, spec: ArtifactSpec | None, seed: int, hypnogram: Path | None = None) -> list[Artifact]:
    from sleepfm.demo.physiology import Traits

    signals = synthesize_signals(np.asarray(NIGHT * 2), Traits(), np.random.default_rng(seed))
    artifacts, ranges = [], {}
    if spec is not None:
        artifacts, ranges = inject(signals, {c.label: c.rate for c in CHANNELS}, spec, np.random.default_rng(seed))
    write_psg(path, signals, start=START, patient="p", male=True, ranges=ranges)
    if hypnogram is not None:
        write_hypnogram_edf(hypnogram, np.asarray(NIGHT * 2), start=START)
    return artifacts


@pytest.mark.slow
def test_qc_writes_tables_verdicts_heat_maps_and_a_ranked_summary(tmp_path: Path, capsys) -> None:
    data = tmp_path / "data"
    data.mkdir()
    _night(data / "clean.edf", None, 0, hypnogram=tmp_path / "clean-hyp.edf")
    popped = ArtifactSpec(pop_off=1, saturation=0, movement=0, line_noise=0, nan_run=0, spo2_dropout=0, wrong_unit=0,
                          clean_fraction=0, kind_probability=1, pop_off_seconds=(1e9, 1e9))
    (pop,) = _night(data / "popped.edf", popped, 1)
    (data / "broken.edf").write_bytes(b"0       not an EDF at all" * 20)
    code = main(["qc", str(data), "--out", str(tmp_path / "qc"), "--hypnogram", str(tmp_path / "clean-hyp.edf"),
                 "--hypnogram", str(tmp_path / "clean-hyp.edf"), "--hypnogram", str(tmp_path / "clean-hyp.edf")])
    captured = capsys.readouterr()
    assert code == 1 and len(error_lines(captured.err)) == 1 and "broken.edf" in error_lines(captured.err)[0]
    assert "1 usable, 1 degraded, 0 unusable, 1 failed" in captured.out
    out = tmp_path / "qc"
    assert sorted(p.name for p in out.iterdir()) == [
        "clean.qc.csv", "clean.qc.json", "clean.qc.png", "config.resolved.yaml", "popped.qc.csv", "popped.qc.json",
        "popped.qc.png", "qc_summary.csv"]
    summary = pd.read_csv(out / "qc_summary.csv")
    assert summary["study"].tolist() == ["clean", "popped", "broken"]
    assert summary["verdict"].tolist() == ["usable", "degraded", "failed"] and summary["rank"].tolist() == [1, 2, 3]
    report = json.loads((out / "popped.qc.json").read_text())
    flat = report["channels"][pop.channel]["flags"]["flat"]
    assert flat == pytest.approx((pop.stop - pop.start) / 1200, abs=0.06)  # a third of 20 minutes
    assert report["modalities"]["BAS"]["usable_fraction"] == 1.0  # two other EEG channels stay
    assert f"{pop.channel} (BAS): bad in" in report["reasons"][0] and report["checks"]["flat"]
    table = pd.read_csv(out / "popped.qc.csv")
    rows = table[table["channel"] == pop.channel]
    assert rows.loc[rows["flat"] == 1, "onset"].min() == pytest.approx(pop.start // 30 * 30)
    assert table["clock_time"].iloc[0] == "2024-03-01T22:30:00"
    assert (out / "clean.qc.png").read_bytes().startswith(b"\x89PNG")
    assert json.loads((out / "clean.qc.json").read_text())["verdict"] == "usable"


def test_qc_refuses_bad_usage_with_one_line(tmp_path: Path, capsys) -> None:
    # The rule every command shares (sleepfm.read.discover): a missing input is a usage error.
    assert main(["qc", str(tmp_path / "missing.edf"), "--out", str(tmp_path / "o")]) == 2
    assert "input not found" in capsys.readouterr().err
    (tmp_path / "a.edf").write_bytes(b"x")
    assert main(["qc", str(tmp_path / "a.edf"), "--out", str(tmp_path / "o"), "--hypnogram", str(tmp_path / "a.edf"),
                 "--hypnogram", str(tmp_path / "a.edf")]) == 2
    assert "2 --hypnogram for 1 inputs" in capsys.readouterr().err
    assert main(["qc", str(tmp_path / "a.edf"), "--out", str(tmp_path / "o"), "--set",
                 "quality.checks=[{name: nope}]"]) == 2
    assert "no quality check named 'nope'" in capsys.readouterr().err


def test_qc_reuses_the_flags_preprocess_kept_only_when_made_the_same_way(tmp_path: Path) -> None:
    import h5py

    import sleepfm

    _night(tmp_path / "night.edf", None, 0)
    sleepfm.preprocess(tmp_path / "night.edf", tmp_path / "h5")
    store = tmp_path / "h5" / "night.h5"
    with h5py.File(store, "r+") as handle:  # mark C4-M1 flat in its first minute, as if preprocess had
        flags = handle["sleepfm_quality/flags"]
        names, checks = json.loads(flags.attrs["channels"]), json.loads(flags.attrs["checks"])
        bits = flags[()]
        bits[names.index("C4-M1"), :12] |= np.uint32(1 << checks.index("flat"))
        flags[...] = bits
    assert main(["qc", str(store), "--out", str(tmp_path / "reused"), "--no-plot"]) == 0
    reused = json.loads((tmp_path / "reused" / "night.qc.json").read_text())
    assert reused["channels"]["C4-M1"]["flags"] == {"flat": pytest.approx(2 / 40)}
    # Other thresholds: the kept flags do not say what they would give, so the store is checked again.
    assert main(["qc", str(store), "--out", str(tmp_path / "again"), "--no-plot", "--set",
                 "quality.mask_fraction=0.5"]) == 0
    assert json.loads((tmp_path / "again" / "night.qc.json").read_text())["channels"]["C4-M1"]["flags"] == {}


@pytest.mark.shared
def test_qc_finds_inputs_by_the_shared_rule(shared: Path, tmp_path: Path, capsys) -> None:
    """A folder holding a night as EDF and as BDF plus its hypnogram: the two recordings get
    distinct names (as in stage, risk and run), the hypnogram is set aside with one warning."""
    folder = shared / "data" / "psg" / "sleep-edf"
    assert main(["qc", str(folder), "--out", str(tmp_path / "qc"), "--no-plot"]) == 0
    captured = capsys.readouterr()
    assert sum("annotation-only file" in line and "SC4001EC-Hypnogram.edf" in line
               for line in captured.err.splitlines()) == 1, captured.err
    names = sorted(p.name for p in (tmp_path / "qc").glob("*.qc.json"))
    assert names == ["SC4001E0-PSG_first300s.bdf.qc.json", "SC4001E0-PSG_first300s.edf.qc.json"]
    summary = pd.read_csv(tmp_path / "qc" / "qc_summary.csv")
    assert sorted(summary["study"]) == ["SC4001E0-PSG_first300s.bdf", "SC4001E0-PSG_first300s.edf"]
    # A glob pattern works the same way.
    assert main(["qc", str(folder / "*PSG*.edf"), "--out", str(tmp_path / "glob"), "--no-plot"]) == 0
    assert [p.name for p in (tmp_path / "glob").glob("*.qc.json")] == ["SC4001E0-PSG_first300s.qc.json"]
