"""Seeded mutation fuzzing: EDF headers and record bytes, HDF5 attributes, NSRR XML and CSV
hypnograms, YAML configs. Every outcome must be a success with finite output or one clean line.

Each case is one seed of one family, so a failure names the seed that reproduces it. The
default run is small (``SLEEPFM_FUZZ_CASES``, default 6 per family, well under a minute on a
shared machine); CI or a developer may raise it. Cases run in this process (fast) under an
address-space ceiling (:func:`~tests.robustness.harness.memory_ceiling`), so a memory bomb
fails its case instead of the machine.
"""

from __future__ import annotations

import os
import random
import shutil
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml

from sleepfm.read.edf_writer import set_header_field

from .harness import Outcome, assert_contract, memory_ceiling, run_inprocess

CASES = int(os.environ.get("SLEEPFM_FUZZ_CASES", "6"))
SEEDS = range(CASES)
PSG_EDF = "sleep-edf/SC4001E0-PSG_first300s.edf"
HEADER_BYTES = 256 * 8  # the Sleep-EDF file: 7 signals
FIXED_FIELDS = ("start date", "start time", "header bytes", "reserved", "number of data records",
                "duration of a data record", "number of signals")
FIELDS = (*FIXED_FIELDS, "label", "unit", "physical minimum", "physical maximum", "digital minimum",
          "digital maximum", "samples per data record")

#: Values that broke readers somewhere: non-numbers, non-finite, huge, negative, empty, deep, binary.
NASTY_TEXT = ["", " ", "-1", "0", "1e308", "-1e308", "inf", "-inf", "nan", "NaN", "1e11", "99999999", "3.5",
              "abc", "\x00", "\xff\xfe", "é", "[[[[[[[[", "{", "&a", "*a", "!!python/object:os.system", "%",
              "1,5", "0x10", "--", "\u202e", "W\x00", "9" * 400]


def _mutate_text(text: str, rng: random.Random, edits: int = 3) -> str:
    """Replace, delete or insert a few characters, or swap a token for a nasty value."""
    chars = list(text)
    for _ in range(edits):
        choice = rng.random()
        position = rng.randrange(len(chars) + 1)
        if choice < 0.4 and chars:
            del chars[min(position, len(chars) - 1)]
        elif choice < 0.7:
            chars[position:position] = list(rng.choice(NASTY_TEXT))
        else:
            chars[position:position] = [chr(rng.choice([rng.randrange(32, 127), rng.randrange(0, 256)]))]
    return "".join(chars)


def _replace_fields(text: str, rng: random.Random, separators: str) -> str:
    """Swap one field between ``separators`` for a nasty value."""
    import re

    fields = re.split(f"([{re.escape(separators)}])", text)
    values = [i for i, f in enumerate(fields) if f and f not in separators]
    for index in rng.sample(values, k=min(2, len(values))):
        fields[index] = rng.choice(NASTY_TEXT)
    return "".join(fields)


def _check(outcome: Outcome, outputs: list[Path]) -> None:
    assert_contract(outcome, outputs=outputs)


# ----------------------------------------------------------------------------- EDF
@pytest.mark.shared
@pytest.mark.parametrize("seed", SEEDS)
def test_fuzz_edf_header(seed: int, psg: Path, tmp_path: Path) -> None:
    rng = random.Random(seed)
    data = bytearray((psg / PSG_EDF).read_bytes())
    for _ in range(rng.randint(1, 4)):
        offset = rng.randrange(HEADER_BYTES)
        value = (rng.choice(NASTY_TEXT).encode("latin-1", "replace") or b" ")[: HEADER_BYTES - offset]
        data[offset: offset + len(value)] = value  # overwritten in place: the size stays
    source = tmp_path / "in" / f"header-{seed}.edf"
    source.parent.mkdir()
    source.write_bytes(bytes(data))
    # And one whole field (numbers above all) set to a nasty value or a plausible wrong one.
    field = rng.choice(FIELDS)
    value = rng.choice([*NASTY_TEXT, "1", "2", "30", "-1", "100", "32767", "-32768", "1E8", "0.001"])
    set_header_field(source, field, value.encode("latin-1", "replace").decode("latin-1")[:80],
                     signal=None if field in FIXED_FIELDS else rng.randrange(7))
    with memory_ceiling():
        outcome = run_inprocess(["preprocess", source, "--out", tmp_path / "out"])
    _check(outcome, [tmp_path / "out"])


@pytest.mark.shared
@pytest.mark.parametrize("seed", SEEDS)
def test_fuzz_edf_record_bytes(seed: int, psg: Path, tmp_path: Path) -> None:
    rng = np.random.default_rng(seed)
    data = np.frombuffer((psg / PSG_EDF).read_bytes(), dtype=np.uint8).copy()
    where = rng.integers(HEADER_BYTES, data.size, size=rng.integers(1, 5000))
    data[where] = rng.integers(0, 256, size=where.size, dtype=np.uint8)
    source = tmp_path / "in" / f"records-{seed}.edf"
    source.parent.mkdir()
    source.write_bytes(data.tobytes())
    with memory_ceiling():
        outcome = run_inprocess(["preprocess", source, "--out", tmp_path / "out"])
    # Any bytes are valid samples: the file must convert.
    assert outcome.code == 0, outcome.describe()
    _check(outcome, [tmp_path / "out"])


# ----------------------------------------------------------------------------- HDF5
_ATTRIBUTE_VALUES: list[object] = [
    "", "abc", "XYZ", "BAS", b"\xff\xfe", float("nan"), float("inf"), -1.0, 0.0, 1e300, 128, "128", "[", "{}",
    '[{"label": 1}]', "null", np.array([1.0, 2.0]), np.array([], dtype=np.float64), np.int64(-5),
]


@pytest.mark.parametrize("seed", SEEDS)
def test_fuzz_store_attributes(seed: int, good_store: Path, small_model: Path, tmp_path: Path) -> None:
    rng = random.Random(seed)
    store = tmp_path / "signals" / f"attrs-{seed}.h5"
    store.parent.mkdir()
    shutil.copy(good_store, store)
    with h5py.File(store, "r+") as handle:
        for _ in range(rng.randint(1, 3)):
            names = ["/", *handle]
            owner = handle[rng.choice(names)]
            attribute = rng.choice([*owner.attrs, "sampling_rate", "modality", "notes", "dropped_channels",
                                    "format", "original_rate"])
            owner.attrs[attribute] = rng.choice(_ATTRIBUTE_VALUES)
    with memory_ceiling():
        outcome = run_inprocess(["embed", store.parent, "--checkpoint", small_model, "--out", tmp_path / "emb",
                                 "--device", "cpu", "--partial-chunk", "pad"])
    _check(outcome, [tmp_path / "emb"])


# ----------------------------------------------------------------------------- hypnograms
def _nsrr(rng: random.Random) -> str:
    stages = ["Wake|0", "Stage 1 sleep|1", "Stage 2 sleep|2", "Stage 3 sleep|3", "REM sleep|5", "Unscored|9"]
    events = ["<ScoredEvent><EventType/><EventConcept>Recording Start Time</EventConcept><Start>0</Start>"
              "<Duration>600</Duration><ClockTime>00.00.00 22.30.00</ClockTime></ScoredEvent>"]
    events += [f"<ScoredEvent><EventType>Stages|Stages</EventType><EventConcept>{rng.choice(stages)}</EventConcept>"
               f"<Start>{30 * k}</Start><Duration>30</Duration></ScoredEvent>" for k in range(12)]
    events += ["<ScoredEvent><EventType>Respiratory|Respiratory</EventType><EventConcept>Hypopnea|Hypopnea"
               "</EventConcept><Start>65.5</Start><Duration>12</Duration><SignalLocation>NEW AIR</SignalLocation>"
               "<SpO2Nadir>88</SpO2Nadir></ScoredEvent>"]
    return ("<?xml version='1.0'?><PSGAnnotation><EpochLength>30</EpochLength><ScoredEvents>"
            + "".join(events) + "</ScoredEvents></PSGAnnotation>")


def _epoch_csv(rng: random.Random) -> str:
    rows = [f"{30 * k},30,{rng.choice(['W', 'N1', 'N2', 'N3', 'REM', 'UNS'])}" for k in range(12)]
    return "onset,duration,stage\n" + "\n".join(rows) + "\n"


def _published_csv(rng: random.Random) -> str:
    names = {-1: "Unknown", 0: "Wake", 1: "Stage 1", 2: "Stage 2", 3: "Stage 3", 4: "REM"}
    rows = []
    for k in range(24):
        number = rng.choice(list(names))
        rows.append(f"{5 * k},{5 * k + 5},{names[number]},{number}")
    return "Start,Stop,StageName,StageNumber\n" + "\n".join(rows) + "\n"


def _bids_tsv(rng: random.Random) -> str:
    rows = [f"{30 * k}\t30\t{rng.choice(['W', 'N1', 'N2', 'N3', 'R', 'Lights off'])}" for k in range(12)]
    return "onset\tduration\tstage\n" + "\n".join(rows) + "\n"


def _edfbrowser(rng: random.Random) -> str:
    rows = [f"+{30 * k}.000000,30,Sleep stage {rng.choice(['W', 'N1', 'N2', 'N3', 'R', '?'])}" for k in range(12)]
    return "Onset,Duration,Annotation\n" + "\n".join([*rows, "+65.5,12,Hypopnea"]) + "\n"


HYPNOGRAMS: dict[str, tuple[str, Callable[[random.Random], str], str]] = {
    "nsrr-xml": (".xml", _nsrr, "<>"),
    "epoch-csv": (".csv", _epoch_csv, ",\n"),
    "published-csv": (".csv", _published_csv, ",\n"),
    "bids-tsv": (".tsv", _bids_tsv, "\t\n"),
    "edfbrowser": (".txt", _edfbrowser, ",\n"),
}


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("kind", list(HYPNOGRAMS))
def test_fuzz_hypnogram(kind: str, seed: int, tmp_path: Path) -> None:
    rng = random.Random(f"{kind}-{seed}")
    suffix, make, separators = HYPNOGRAMS[kind]
    text = make(rng)
    text = _replace_fields(text, rng, separators) if rng.random() < 0.5 else _mutate_text(text, rng)
    source = tmp_path / f"{kind}-{seed}{suffix}"
    source.write_bytes(text.encode("utf-8", "surrogateescape"))
    out = tmp_path / "out"
    with memory_ceiling():
        outcome = run_inprocess(["hypnogram", source, "--format", kind, "--out", out / "epochs.csv",
                                 "--stats", out / "stats.json", "--events", out / "events.csv"])
    _check(outcome, [out])
    if outcome.code == 0:
        import json

        json.loads((out / "stats.json").read_text(), parse_constant=lambda name: pytest.fail(f"{name} in stats"))


# ----------------------------------------------------------------------------- YAML
@pytest.mark.parametrize("seed", SEEDS)
def test_fuzz_yaml_config(seed: int, tmp_path: Path) -> None:
    rng = random.Random(seed)
    base = yaml.safe_dump({"workflow": "embed", "inputs": ["a.h5"], "batch_size": 4, "device": "cpu",
                           "channel_mapper": "rules", "partial_chunk": "pad", "threads": None})
    text = _replace_fields(base, rng, ":\n ") if rng.random() < 0.5 else _mutate_text(base, rng, edits=4)
    config = tmp_path / f"config-{seed}.yaml"
    config.write_bytes(text.encode("utf-8", "surrogateescape"))
    with memory_ceiling():
        outcome = run_inprocess(["config", "show", config])
    _check(outcome, [tmp_path])
