"""Training data: signal and embedding datasets, collation, stage labels, outcomes, splits."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from sleepfm.errors import InputError
from sleepfm.interfaces.modality import Modality
from sleepfm.labels.tables import read_demographics, read_outcomes
from sleepfm.map.table import TableMapper
from sleepfm.store.signal_writer import SignalStoreWriter
from sleepfm.train.datasets import (
    EmbeddingDataset,
    PadSignals,
    SignalChunkDataset,
    collate_embeddings,
    find_embedding_files,
    index_signal_stores,
)
from sleepfm.train.labels import (
    align_tokens,
    find_label_files,
    hypnogram_to_tokens,
    read_stage_tokens,
)
from sleepfm.train.sampler import ResumableSampler
from sleepfm.train.splits import (
    ParticipantMap,
    generate_split,
    participant_overlaps,
    read_split_file,
    write_split_file,
)

from .test_train_support import CHUNK, write_embedding_cohort, write_outcomes, write_signal_cohort, write_stage_csv


# ---------------------------------------------------------------------------- signals
def test_index_keeps_whole_chunks_of_complete_studies(tmp_path: Path) -> None:
    paths = write_signal_cohort(tmp_path, n_studies=2, n_chunks=3)
    with SignalStoreWriter(tmp_path / "no-emg.h5", rate=128.0) as writer:
        writer.add_channel("C3", np.zeros(CHUNK * 2), label="C3", modality=Modality.BAS)
    with SignalStoreWriter(tmp_path / "fast.h5", rate=256.0) as writer:
        writer.add_channel("C3", np.zeros(CHUNK * 2), label="C3", modality=Modality.BAS)
    studies, skipped = index_signal_stores([*paths, tmp_path / "no-emg.h5", tmp_path / "fast.h5"])
    assert [s.n_chunks for s in studies] == [3, 3], "the trailing partial chunk is left out"
    assert studies[0].channels[0] == ("C3-M2", "C4-M1", "E1-M2") and studies[0].channels[2] == ("ECG",)
    reasons = dict((p.name, r) for p, r in skipped)
    assert "RESP" in reasons["no-emg.h5"] and "EMG" in reasons["no-emg.h5"]
    assert "256 Hz" in reasons["fast.h5"]


def test_published_files_need_a_channel_map(tmp_path: Path) -> None:
    with h5py.File(tmp_path / "published.hdf5", "w") as handle:  # the published converter's layout
        for name in ("C3-M2", "THOR", "ECG", "Chin"):
            handle.create_dataset(name, data=np.zeros(CHUNK, np.float16))
    _, skipped = index_signal_stores([tmp_path / "published.hdf5"])
    assert "set data.channel_map" in skipped[0][1]
    table = TableMapper(table={"C3-M2": Modality.BAS, "THOR": Modality.RESP, "ECG": Modality.EKG,
                               "Chin": Modality.EMG})
    studies, skipped = index_signal_stores([tmp_path / "published.hdf5"], table)
    assert not skipped and studies[0].channels == (("C3-M2",), ("THOR",), ("ECG",), ("Chin",))


def test_signal_items_read_the_right_chunk_and_pad_to_fixed_widths(tmp_path: Path) -> None:
    paths = write_signal_cohort(tmp_path, n_studies=2, n_chunks=2)
    studies, _ = index_signal_stores(paths)
    dataset = SignalChunkDataset(studies, widths=(4, 2, 1, 1))
    assert len(dataset) == 4
    item = dataset[3]
    assert (item["study"], item["chunk"]) == ("study-001", 1)
    with h5py.File(paths[1]) as handle:
        expected = handle["C4-M1"][CHUNK : 2 * CHUNK].astype(np.float32)
    np.testing.assert_array_equal(item["signals"][0][1], expected)
    batch = PadSignals(dataset.widths)([dataset[0], dataset[3]])
    assert [tuple(x.shape) for x in batch["signals"]] == [(2, 4, CHUNK), (2, 2, CHUNK), (2, 1, CHUNK), (2, 1, CHUNK)]
    assert batch["masks"][0].tolist() == [[False, False, False, True]] * 2
    alone = PadSignals(dataset.widths)([dataset[3]])
    assert torch.equal(alone["signals"][0][0], batch["signals"][0][1]), "an item does not depend on its batch"
    capped = SignalChunkDataset(studies, widths=(2, 2, 1, 1))
    assert capped[0]["signals"][0].shape == (2, CHUNK)


def test_files_open_lazily_once_per_process_and_never_pickle(tmp_path: Path) -> None:
    paths = write_signal_cohort(tmp_path, n_studies=2, n_chunks=2)
    dataset = SignalChunkDataset(index_signal_stores(paths)[0])
    opened: list[Path] = []
    real_opener = dataset._files.opener
    dataset._files.opener = lambda p: opened.append(p) or real_opener(p)
    for i in range(len(dataset)):
        dataset[i]
    assert opened == paths, "each file opened once, on first use"
    dataset._files.opener = real_opener
    clone = pickle.loads(pickle.dumps(dataset))
    assert len(clone._files._open) == 0 and len(clone) == len(dataset)
    loader = DataLoader(dataset, batch_size=2, num_workers=2, collate_fn=PadSignals(dataset.widths))
    assert sum(b["signals"][0].shape[0] for b in loader) == 4


# ---------------------------------------------------------------------------- embeddings
def test_embedding_items_carry_aligned_targets_and_pad_per_batch(tmp_path: Path) -> None:
    stages = {"a": np.array([0, 1, 2, 3, 4] * 12), "b": np.array([2] * 50)}
    paths = write_embedding_cohort(tmp_path / "emb", ["a"], n_chunks=2, stages=stages)
    paths |= write_embedding_cohort(tmp_path / "emb", ["b"], n_chunks=1)
    assert find_embedding_files(tmp_path / "emb") == paths
    dataset = EmbeddingDataset(paths, stages=stages)
    a, b = dataset[0], dataset[1]
    assert a["x"].shape == (4, 120, 16) and a["targets"][:5].tolist() == [0, 1, 2, 3, 4]
    assert (a["targets"][60:] == -1).all(), "labels shorter than the night: the rest is unscored"
    assert b["targets"].shape == (60,) and (b["targets"][50:] == -1).all()
    batch = collate_embeddings([a, b])
    assert batch["x"].shape == (2, 4, 120, 16) and batch["mask"][1, :, 60:].all()
    assert (batch["targets"][1, 60:] == -1).all()
    capped = EmbeddingDataset(paths, stages=stages, max_tokens=30, unscored="wake")
    assert capped[1]["x"].shape[1] == 30 and (capped[1]["targets"] >= 0).all()


def test_published_embedding_layout_is_found_without_its_5min_twin(tmp_path: Path) -> None:
    for folder, rows in (("mesa", 120), ("mesa_5min_agg", 2)):
        (tmp_path / folder).mkdir()
        with h5py.File(tmp_path / folder / "mesa-sleep-0001.hdf5", "w") as handle:
            for m in ("BAS", "RESP", "EKG", "EMG"):
                handle[m] = np.zeros((rows, 128), np.float32)
    found = find_embedding_files(tmp_path)
    assert list(found) == ["mesa-sleep-0001"] and found["mesa-sleep-0001"].parent.name == "mesa"


# ---------------------------------------------------------------------------- labels
def test_stage_csv_at_5s_30s_and_long_rows_give_the_same_tokens(tmp_path: Path) -> None:
    epochs = np.array([-1, 0, 1, 2, 3, 4, 2])
    tokens = np.repeat(epochs, 6)
    five = read_stage_tokens(write_stage_csv(tmp_path / "five.csv", tokens))
    thirty = read_stage_tokens(write_stage_csv(tmp_path / "thirty.csv", epochs, seconds=30))
    np.testing.assert_array_equal(five, tokens)
    np.testing.assert_array_equal(thirty, tokens)
    (tmp_path / "long.csv").write_text("Start,Stop,StageName,StageNumber\n0.0,5190.0,Wake,0\n")  # README's row
    long_row = read_stage_tokens(tmp_path / "long.csv")
    assert long_row.size == 1038 and (long_row == 0).all()


def test_hypnogram_onset_and_alignment_policies() -> None:
    tokens = hypnogram_to_tokens(np.array([2, 3]), epoch_seconds=30, onset=10)
    assert tokens.tolist() == [-1, -1] + [2] * 6 + [3] * 6, "tokens take the stage at their midpoint"
    assert align_tokens(tokens, 4).tolist() == [-1, -1, 2, 2]
    assert align_tokens(tokens, 16, unscored="wake").tolist() == [0, 0] + [2] * 6 + [3] * 6 + [0, 0]


def test_label_files_match_studies_by_stem(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    for name in ("a.csv", "sub/mesa-sleep-0001-nsrr.xml", "notes.pdf"):
        (tmp_path / name).write_text("x")
    assert set(find_label_files(tmp_path)) == {"a", "mesa-sleep-0001"}
    (tmp_path / "sub" / "a.csv").write_text("x")
    with pytest.raises(InputError, match="two label files for study 'a'"):
        find_label_files(tmp_path)


def test_outcomes_and_demographics(tmp_path: Path) -> None:
    is_event, time_to_event, demographics = write_outcomes(tmp_path, ["s1", "s2", "s3"], n_outcomes=2)
    outcomes = read_outcomes(is_event, time_to_event)
    assert outcomes.ids == ["s1", "s2", "s3"] and outcomes.names == ["8.0", "9.0"]
    assert outcomes.events.shape == (3, 2) and outcomes.times.dtype == np.float32
    covariates, names = read_demographics(demographics)
    assert names == ["age", "gender"] and covariates["s2"].shape == (2,)
    text = time_to_event.read_text().splitlines()
    time_to_event.write_text("\n".join([text[0], text[1].rsplit(",", 1)[0] + ",", *text[2:]]) + "\n")
    assert np.isnan(read_outcomes(is_event, time_to_event).times[0, 1]), "an empty cell is unknown"
    time_to_event.write_text(text[0].replace("9.0", "10.0") + "\n" + "\n".join(text[1:]) + "\n")
    with pytest.raises(InputError, match="different outcome columns"):
        read_outcomes(is_event, time_to_event)


# ---------------------------------------------------------------------------- splits
def test_split_file_paths_resolve_against_the_data_root(tmp_path: Path) -> None:
    path = write_split_file(tmp_path / "split.json", {
        "train": ["mesa/mesa-sleep-0001.hdf5", "/abs/x.v2.hdf5"], "test": ["mros/visit1/mros-visit1-aa0001.hdf5"]})
    split = read_split_file(path, root=tmp_path / "data")
    assert split.paths_of("train")[0] == tmp_path / "data" / "mesa" / "mesa-sleep-0001.hdf5"
    assert split.ids("train") == ["mesa-sleep-0001", "x.v2"], "IDs are stems and may contain dots"
    with pytest.raises(InputError, match=r"no split 'validation'.*train, test"):
        split.ids("validation")
    (tmp_path / "bad.json").write_text(json.dumps({"train": "a.h5"}))
    with pytest.raises(InputError, match="maps split names to lists of paths"):
        read_split_file(tmp_path / "bad.json")


def test_published_style_split_leak_is_found() -> None:
    # The shape of SPEC §10.16: a MrOS participant's visits on both sides.
    splits = {"pretrain": ["mros-visit1-aa0001", "mros-visit1-aa0002", "mesa-sleep-0001"],
              "test": ["mros-visit2-aa0001", "mesa-sleep-0002"]}
    overlaps = participant_overlaps(splits, ParticipantMap())
    assert list(overlaps) == [("pretrain", "test")] and len(overlaps[("pretrain", "test")]) == 1


def test_generated_split_never_puts_a_participant_in_two_splits(tmp_path: Path) -> None:
    ids = [f"mros-visit{v}-aa{p:04d}" for p in range(60) for v in (1, 2) if (p + v) % 5] + \
          [f"shhs{v}-2{p:05d}" for p in range(40) for v in (1, 2)] + [f"lab-{i}" for i in range(30)]
    splits = generate_split(ids, ParticipantMap(), fractions={"validation": 0.1, "test": 0.2}, rest="train", seed=7)
    assert sorted(s for members in splits.values() for s in members) == sorted(ids)
    assert participant_overlaps(splits, ParticipantMap()) == {}
    assert 0.15 < len(splits["test"]) / len(ids) < 0.25
    again = generate_split(list(reversed(ids)), ParticipantMap(), fractions={"validation": 0.1, "test": 0.2},
                           rest="train", seed=7)
    assert again == splits, "the same seed gives the same split whatever the listing order"
    other = generate_split(ids, ParticipantMap(), fractions={"validation": 0.1, "test": 0.2}, rest="train", seed=8)
    assert other != splits


def test_participants_from_a_table_or_a_pattern(tmp_path: Path) -> None:
    table = tmp_path / "participants.csv"
    table.write_text("study,participant\nnight-a,p1\nnight-b,p1\n")
    mapping = ParticipantMap(table)
    assert mapping("night-a") == mapping("night-b") != mapping("night-c")
    by_pattern = ParticipantMap(pattern=r"^(\w+)_night\d$")
    assert by_pattern("x12_night1") == by_pattern("x12_night2") != by_pattern("x13_night1")
    splits = generate_split(["night-a", "night-b", "night-c", "night-d"], mapping,
                            fractions={"test": 0.5}, rest="train", seed=0)
    assert participant_overlaps(splits, mapping) == {}


def test_resumable_sampler_order_depends_on_seed_and_epoch_only() -> None:
    sampler = ResumableSampler(10, shuffle=True, seed=3)
    sampler.set_epoch(1)
    full = list(sampler)
    sampler.skip(4)
    assert list(sampler) == full[4:] and len(sampler) == 6
    sampler.set_epoch(2)
    assert list(sampler) != full and sorted(sampler) == list(range(10))
    shares = [list(ResumableSampler(10, shuffle=True, seed=3, rank=r, world=3)) for r in range(3)]
    assert all(len(s) == 4 for s in shares) and {i for s in shares for i in s} == set(range(10))
