"""Signal and embedding stores: round trips, atomic writes, the published layouts."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from sleepfm import registry
from sleepfm.errors import InputError
from sleepfm.interfaces.modality import MODALITIES, Modality
from sleepfm.map.table import TableMapper, read_channel_table
from sleepfm.store.embedding_store import EmbeddingStore, write_embeddings
from sleepfm.store.signal_store import SignalStore
from sleepfm.store.signal_writer import SignalStoreWriter


def test_signal_store_round_trip_with_attributes(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    eeg, ecg = rng.standard_normal(38400 * 2), rng.standard_normal(38400 * 2)
    with SignalStoreWriter(tmp_path / "s.h5", rate=128.0, source_file="s.edf", start_time="2020-01-01T22:00:00") as w:
        w.add_channel("C3-M2", eeg, label="C3-M2 ", unit="µV", original_rate=256, modality=Modality.BAS, rule="r1")
        w.add_channel("ECG", ecg, label="ECG", unit="mV", original_rate=512, modality=Modality.EKG, rule="r2")
        w.add_channel("Pos", ecg[:10].repeat(7680), label="Pos", original_rate=1, reason="no rule")
    with SignalStore(tmp_path / "s.h5") as store:
        assert not store.published and store.rate == 128.0 and store.duration == 600.0
        assert [c.name for c in store.channels] == ["C3-M2", "ECG", "Pos"]
        groups = store.by_modality()
        assert [c.name for c in groups[Modality.BAS]] == ["C3-M2"] and groups[Modality.RESP] == []
        assert store.channels[0].label == "C3-M2 " and store.channels[0].unit == "µV"
        assert store.channels[1].original_rate == 512 and store.channels[2].modality is None
        np.testing.assert_array_equal(store.read("ECG", 100, 200), ecg[100:200].astype(np.float16).astype(np.float32))
        block = store.read_block(["C3-M2", "ECG"], 0, 38400)
        assert block.shape == (2, 38400) and block.dtype == np.float32
    with h5py.File(tmp_path / "s.h5") as handle:
        assert handle["ECG"].chunks == (38400,) and handle["ECG"].dtype == np.float16
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.h5"]


def test_signal_store_writer_leaves_nothing_on_error(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), SignalStoreWriter(tmp_path / "x.h5", rate=128.0) as writer:
        writer.add_channel("A", np.zeros(100), label="A")
        raise RuntimeError("crash mid-study")
    assert list(tmp_path.iterdir()) == []


def test_signal_store_refuses_bad_names(tmp_path: Path) -> None:
    with SignalStoreWriter(tmp_path / "y.h5", rate=128.0) as writer:
        writer.add_channel("A", np.zeros(10), label="A")
        with pytest.raises(ValueError, match="not unique"):
            writer.add_channel("A", np.zeros(10), label="A")
        with pytest.raises(ValueError, match="'/'"):
            writer.add_channel("F3/A2", np.zeros(10), label="F3/A2")


def test_signal_store_errors_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file not found"):
        SignalStore(tmp_path / "nope.h5")
    (tmp_path / "text.h5").write_text("hello")
    with pytest.raises(InputError, match="not a readable HDF5 file"):
        SignalStore(tmp_path / "text.h5")


@pytest.mark.shared
def test_published_signal_file_reads_with_the_published_table(shared: Path) -> None:
    mapper = TableMapper(shared / "reference" / "channel_groups.json")
    with SignalStore(shared / "reference" / "preprocessing" / "mixed_rates.reference.h5", mapper=mapper) as store:
        assert store.published and store.rate == 128.0 and store.n_samples == 76800
        groups = {m.value: [c.name for c in cs] for m, cs in store.by_modality().items()}
    # The channels the published embedding step used (reference README).
    assert groups == {
        "BAS": ["EEG1", "EEG2", "EEG3", "EOG-L", "EOG-R"],
        "RESP": ["Abdo", "Snore", "SpO2", "Therm", "Thor"],
        "EKG": ["EKG"],
        "EMG": ["EMG", "Leg"],
    }


@pytest.mark.shared
def test_published_channel_table_counts(shared: Path) -> None:
    table = read_channel_table(shared / "reference" / "channel_groups.json")
    counts = {m.value: sum(1 for v in table.values() if v is m) for m in Modality}
    assert counts == {"BAS": 345, "RESP": 119, "EKG": 32, "EMG": 187}
    assert registry.get("channel_mappers", "table") is TableMapper


def test_table_mapper_is_exact_and_explains_misses(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"BAS": ["C3-M2"], "EKG": ["ECG"]}))
    out = TableMapper(path).assign(["C3-M2", "c3-m2", "ECG"])
    assert [a.modality for a in out] == [Modality.BAS, None, Modality.EKG]
    assert out[1].reason == "label not in the channel map" and out[0].rule == "table:BAS"


@pytest.mark.parametrize(
    ("content", "message"),
    [("[1]", "must be a JSON object"), ('{"EEG": []}', "unknown modality 'EEG'"), ("{", "not valid JSON"),
     ('{"BAS": ["A"], "EMG": ["A"]}', "in both BAS and EMG"), ('{"BAS": "A"}', "must be a list")],
)
def test_table_errors(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "t.json"
    path.write_text(content)
    with pytest.raises(InputError, match=message):
        read_channel_table(path)


def _embeddings(n_chunks: int, modalities=MODALITIES) -> tuple[dict, dict]:
    rng = np.random.default_rng(1)
    tokens = {m: rng.standard_normal((n_chunks * 60, 128)).astype(np.float32) for m in modalities}
    pooled = {m: rng.standard_normal((n_chunks, 128)).astype(np.float32) for m in modalities}
    return tokens, pooled


def test_embedding_store_round_trip_with_missing_modality(tmp_path: Path) -> None:
    tokens, pooled = _embeddings(3, (Modality.BAS, Modality.RESP, Modality.EKG))
    write_embeddings(tmp_path / "e.h5", tokens, pooled, {"checkpoint": "ckpt", "channels": {"BAS": ["C3"]}})
    with EmbeddingStore(tmp_path / "e.h5") as store:
        assert store.modalities == [Modality.BAS, Modality.RESP, Modality.EKG]
        assert store.missing == [Modality.EMG] and store.attrs["modalities_missing"] == ["EMG"]
        assert store.attrs["channels"] == {"BAS": ["C3"]} and store.attrs["n_chunks"] == 3
        np.testing.assert_array_equal(store.tokens(Modality.RESP), tokens[Modality.RESP])
        np.testing.assert_array_equal(store.pooled("EKG"), pooled[Modality.EKG])
        x, mask = store.stacked()
        assert x.shape == (4, 180, 128) and mask.shape == (4, 180)
        assert mask[3].all() and not mask[:3].any() and not x[3].any()
        x, mask = store.stacked(max_tokens=100)
        assert x.shape == (4, 100, 128)
    assert [p.name for p in tmp_path.iterdir()] == ["e.h5"]


def test_embedding_store_masks_padded_tokens(tmp_path: Path) -> None:
    tokens, pooled = _embeddings(2)
    write_embeddings(tmp_path / "e.h5", tokens, pooled, {"partial_chunk": "pad", "padded_tokens": 24})
    with EmbeddingStore(tmp_path / "e.h5") as store:
        _, mask = store.stacked()
        assert (~mask).sum(axis=1).tolist() == [96] * 4
        _, mask = store.stacked(max_tokens=90)
        assert (~mask).sum(axis=1).tolist() == [90] * 4


def test_published_embedding_layout_reads(tmp_path: Path) -> None:
    tokens, pooled = _embeddings(2)
    (tmp_path / "mesa").mkdir()
    (tmp_path / "mesa_5min_agg").mkdir()
    with h5py.File(tmp_path / "mesa" / "s1.hdf5", "w") as five_s, \
            h5py.File(tmp_path / "mesa_5min_agg" / "s1.hdf5", "w") as five_min:
        for m in MODALITIES:
            five_s.create_dataset(m.value, data=tokens[m], chunks=(128, 128), maxshape=(None, 128))
            five_min.create_dataset(m.value, data=pooled[m])
    with EmbeddingStore(tmp_path / "mesa" / "s1.hdf5") as store:
        assert store.published and store.modalities == list(MODALITIES)
        np.testing.assert_array_equal(store.pooled(Modality.EMG), pooled[Modality.EMG])
        assert store.n_tokens == 120 and store.embed_dim == 128
