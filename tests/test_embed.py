"""The embedding runner and ``sleepfm.embed``: batching, missing modalities, partial chunks,
published-layout inputs and outputs. A small set-transformer (64-sample patches, 16 per
"chunk") keeps these fast; the real-size model is covered by test_parity_*."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

import sleepfm
from sleepfm.checkpoints import load_model, save_model
from sleepfm.errors import InputError, UsageError
from sleepfm.head.staging import LstmStagingHead
from sleepfm.interfaces.modality import Modality
from sleepfm.store.embedding_store import EmbeddingStore

from .helpers_models import SMALL_CHUNK, SMALL_STEPS, STUDY, channel_table, small_checkpoint, write_study


@pytest.fixture
def checkpoint(tmp_path: Path) -> Path:
    return small_checkpoint(tmp_path / "model")


def _reference(checkpoint: Path, data: dict[str, np.ndarray], names: list[str], chunk: int
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """The plain module on one chunk of the given channels (no batching, no fast path)."""
    model = load_model(checkpoint)
    x = torch.from_numpy(np.stack([data[n][chunk * SMALL_CHUNK: (chunk + 1) * SMALL_CHUNK] for n in names]))[None]
    with torch.no_grad():
        return model(x, torch.zeros(1, len(names), dtype=torch.bool))


def test_embeddings_match_the_plain_model_and_are_written(tmp_path: Path, checkpoint: Path) -> None:
    data = write_study(tmp_path / "night.h5", STUDY, 3 * SMALL_CHUNK)
    results = sleepfm.embed(tmp_path / "night.h5", checkpoint, tmp_path / "out", batch_size=2)
    study = results["night"]
    assert study.outputs == [tmp_path / "out" / "night.h5"]
    assert study.plan.channels[Modality.BAS] == ["C3-M2", "C4-M1", "E1-M2"] and study.plan.missing == []
    pooled, sequence = _reference(checkpoint, data, ["Thor", "SpO2"], chunk=2)
    assert np.abs(study.pooled["RESP"][2] - pooled[0].numpy()).max() < 1e-5
    assert np.abs(study.tokens["RESP"][2 * SMALL_STEPS:] - sequence[0].numpy()).max() < 1e-5
    with EmbeddingStore(tmp_path / "out" / "night.h5") as store:
        assert store.modalities == list(Modality) and store.attrs["n_chunks"] == 3
        assert store.attrs["channels"]["EMG"] == ["Chin", "Leg L"] and store.attrs["partial_chunk"] == "drop"
        assert store.attrs["checkpoint"] == str(checkpoint.resolve()) and store.attrs["padded_tokens"] == 0
        np.testing.assert_array_equal(store.tokens(Modality.EKG), study.tokens["EKG"])
        np.testing.assert_array_equal(store.pooled(Modality.BAS), study.pooled["BAS"])
    assert (tmp_path / "out" / "config.resolved.yaml").is_file()


def test_a_study_does_not_depend_on_its_batch(tmp_path: Path, checkpoint: Path) -> None:
    write_study(tmp_path / "a.h5", STUDY, 20 * SMALL_CHUNK, seed=1)  # more chunks than one unit
    other = {"C3-M2": Modality.BAS, "Thor": Modality.RESP, "Abdo": Modality.RESP, "Flow": Modality.RESP,
             "EKG": Modality.EKG, "EKG2": Modality.EKG, "Chin": Modality.EMG}
    write_study(tmp_path / "b.h5", other, 2 * SMALL_CHUNK, seed=2)
    alone = sleepfm.embed([tmp_path / "a.h5"], checkpoint, batch_size=1, threads=1)["a"]
    together = sleepfm.embed([tmp_path / "b.h5", tmp_path / "a.h5"], checkpoint, batch_size=4, threads=2)["a"]
    for modality in alone.tokens:  # the same bits, whatever the batch size, threads and neighbours
        np.testing.assert_array_equal(alone.tokens[modality], together.tokens[modality])
        np.testing.assert_array_equal(alone.pooled[modality], together.pooled[modality])


def test_a_missing_modality_is_recorded_and_the_rest_embedded(tmp_path: Path, checkpoint: Path) -> None:
    without_emg = {name: m for name, m in STUDY.items() if m is not Modality.EMG}
    write_study(tmp_path / "full.h5", STUDY, 2 * SMALL_CHUNK)
    write_study(tmp_path / "no_emg.h5", without_emg, 2 * SMALL_CHUNK)
    results = sleepfm.embed([tmp_path / "full.h5", tmp_path / "no_emg.h5"], checkpoint, tmp_path / "out")
    assert results["no_emg"].plan.missing == [Modality.EMG] and "EMG" not in results["no_emg"].tokens
    np.testing.assert_allclose(results["no_emg"].tokens["BAS"], results["full"].tokens["BAS"], atol=1e-5)
    with EmbeddingStore(tmp_path / "out" / "no_emg.h5") as store:
        assert store.missing == [Modality.EMG] and store.attrs["modalities_missing"] == ["EMG"]
        x, mask = store.stacked()
        assert mask[3].all() and not mask[:3].any() and x.shape == (4, 2 * SMALL_STEPS, 16)


def test_partial_chunk_drop_or_pad(tmp_path: Path, checkpoint: Path) -> None:
    real = 5 * 64 + 20  # five whole patches and a bit of a sixth
    data = write_study(tmp_path / "night.h5", STUDY, 2 * SMALL_CHUNK + real)
    dropped = sleepfm.embed(tmp_path / "night.h5", checkpoint)["night"]
    padded = sleepfm.embed(tmp_path / "night.h5", checkpoint, tmp_path / "out", partial_chunk="pad")["night"]
    assert dropped.plan.n_chunks == 2 and padded.plan.n_chunks == 3 and padded.plan.padded_tokens == SMALL_STEPS - 5
    assert dropped.plan.dropped_seconds == pytest.approx(real / 128) and padded.plan.dropped_seconds == 20 / 128
    np.testing.assert_allclose(padded.tokens["BAS"][: 2 * SMALL_STEPS], dropped.tokens["BAS"], atol=1e-6)
    # The padded chunk is what its five real patches give on their own.
    model = load_model(checkpoint)
    names = ["C3-M2", "C4-M1", "E1-M2"]
    x = torch.from_numpy(np.stack([data[n][2 * SMALL_CHUNK: 2 * SMALL_CHUNK + 5 * 64] for n in names]))[None]
    with torch.no_grad():
        pooled, sequence = model(x, torch.zeros(1, 3, dtype=torch.bool))
    assert np.abs(padded.pooled["BAS"][2] - pooled[0].numpy()).max() < 1e-5
    assert np.abs(padded.tokens["BAS"][2 * SMALL_STEPS: 2 * SMALL_STEPS + 5] - sequence[0].numpy()).max() < 1e-5
    assert not padded.tokens["BAS"][2 * SMALL_STEPS + 5:].any()
    with EmbeddingStore(tmp_path / "out" / "night.h5") as store:
        assert store.padded_tokens == SMALL_STEPS - 5 and store.attrs["partial_chunk"] == "pad"
        _, mask = store.stacked()
        assert mask[:, -(SMALL_STEPS - 5):].all() and not mask[:, : 2 * SMALL_STEPS + 5].any()


def test_published_converter_files_read_with_a_channel_map(tmp_path: Path, checkpoint: Path) -> None:
    ours = write_study(tmp_path / "ours.h5", STUDY, 2 * SMALL_CHUNK, seed=3)
    write_study(tmp_path / "theirs.hdf5", STUDY, 2 * SMALL_CHUNK, published=True, seed=3)
    table = channel_table(tmp_path / "groups.json", STUDY)
    notes: list[str] = []
    results = sleepfm.embed([tmp_path / "ours.h5", tmp_path / "theirs.hdf5"], checkpoint, channel_map=table,
                            notify=notes.append)
    assert results["theirs"].plan.rate_assumed and not results["ours"].plan.rate_assumed
    assert len(notes) == 1 and "assuming 128 Hz" in notes[0] and "theirs.hdf5" in notes[0]
    assert results["theirs"].plan.channels == results["ours"].plan.channels
    for modality in results["ours"].tokens:  # the same samples went into both files
        np.testing.assert_allclose(results["theirs"].tokens[modality], results["ours"].tokens[modality], atol=1e-5)
    assert ours


def test_published_output_layout(tmp_path: Path, checkpoint: Path) -> None:
    write_study(tmp_path / "night.h5", STUDY, 2 * SMALL_CHUNK + 3 * 64)
    results = sleepfm.embed(tmp_path / "night.h5", checkpoint, tmp_path / "emb", layout="published",
                            partial_chunk="pad")
    five_s, five_min = tmp_path / "emb" / "night.hdf5", tmp_path / "emb_5min_agg" / "night.hdf5"
    assert results["night"].outputs == [five_s, five_min]
    with EmbeddingStore(five_s) as store:
        assert store.published and store.n_tokens == 2 * SMALL_STEPS + 3  # padding rows are not written
        np.testing.assert_array_equal(store.pooled(Modality.EMG), results["night"].pooled["EMG"])
        np.testing.assert_array_equal(store.tokens(Modality.BAS), results["night"].tokens["BAS"][: 2 * SMALL_STEPS + 3])
    with h5py.File(five_s) as handle:
        assert sorted(handle) == ["BAS", "EKG", "EMG", "RESP"] and not dict(handle.attrs)
        assert handle["BAS"].maxshape == (None, 16)


def test_problems_are_explained(tmp_path: Path, checkpoint: Path) -> None:
    write_study(tmp_path / "short.h5", STUDY, SMALL_CHUNK - 1)
    with pytest.raises(InputError, match=r"7.99219 s long, shorter than one 8 s chunk.*--partial-chunk pad"):
        sleepfm.embed(tmp_path / "short.h5", checkpoint)
    write_study(tmp_path / "ok.h5", STUDY, SMALL_CHUNK)
    with pytest.warns(UserWarning, match="shorter"):
        assert list(sleepfm.embed([tmp_path / "short.h5", tmp_path / "ok.h5"], checkpoint)) == ["ok"]
    write_study(tmp_path / "unmapped.h5", {"Pos": None, "Light": None}, SMALL_CHUNK)
    with pytest.raises(InputError, match="no channel maps"):
        sleepfm.embed(tmp_path / "unmapped.h5", checkpoint)
    with pytest.raises(UsageError, match="overwrite an input"):
        sleepfm.embed(tmp_path / "ok.h5", checkpoint, tmp_path)
    head_dir = save_model(LstmStagingHead(LstmStagingHead.test_config()), tmp_path / "head")
    with pytest.raises(UsageError, match="embedding needs a base model"):
        sleepfm.embed(tmp_path / "ok.h5", head_dir)
    if not torch.cuda.is_available():
        with pytest.raises(UsageError, match="CUDA is not available"):
            sleepfm.embed(tmp_path / "ok.h5", checkpoint, device="cuda")
