"""Non-finite samples in a signal store never become NaN embeddings (issue: messy inputs, class 1).

A channel with NaN or ±inf samples is left out of the 5-minute chunks that hold them; a modality
left with no channel there is marked missing; the output's attributes record both. Run through the
real command line under the harness's memory and time ceilings.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from sleepfm.interfaces.modality import Modality
from sleepfm.store.embedding_store import EmbeddingStore

from ..helpers_models import SMALL_CHUNK, SMALL_STEPS, STUDY, small_checkpoint, write_study
from .harness import assert_quiet, assert_success, leftovers, run_sleepfm


def _poison(path: Path, values: dict[str, tuple[slice, float]]) -> None:
    """Overwrite samples of stored channels (as a damaged or hand-edited store holds them)."""
    with h5py.File(path, "r+") as handle:
        for name, (where, value) in values.items():
            data = handle[name][()]
            data[where] = value
            handle[name][...] = data


@pytest.mark.parametrize(("mode", "published"), [("mask", False), ("off", True)],
                         ids=["mask-sleepfm-store", "off-published-store"])
def test_nan_run_in_one_eeg_channel_masks_that_channel_in_that_chunk(tmp_path: Path, published: bool,
                                                                     mode: str) -> None:
    checkpoint = small_checkpoint(tmp_path / "model")
    store = tmp_path / "night.h5"
    write_study(store, STUDY, 3 * SMALL_CHUNK, published=published)
    # 400 NaN samples inside chunk 1 of C4-M1 (the 4,000 at the published model's scale).
    _poison(store, {"C4-M1": (slice(SMALL_CHUNK + 100, SMALL_CHUNK + 500), np.nan)})
    extra = ["--channel-map", str(_table(tmp_path))] if published else []
    outcome = run_sleepfm(["embed", store, "--checkpoint", checkpoint, "--out", tmp_path / "out",
                           "--quality", mode, *extra])
    assert_success(outcome, outputs=[tmp_path / "out"])
    with EmbeddingStore(tmp_path / "out" / "night.h5") as result:
        for modality in result.modalities:
            assert np.isfinite(result.tokens(modality)).all() and np.isfinite(result.pooled(modality)).all()
        assert result.attrs["masked_channels"] == {"C4-M1": [1]}
        assert result.attrs["masked_reasons"] == {"C4-M1": ["non_finite"]}
        assert result.attrs["chunks_missing"] == {} and result.attrs["quality"] == mode
        _, mask = result.stacked()
        assert not mask[0].any()  # BAS kept its two other channels in chunk 1
    assert "left out by quality masking" in outcome.stdout


def test_inf_in_every_channel_marks_every_modality_missing_in_that_chunk(tmp_path: Path) -> None:
    checkpoint = small_checkpoint(tmp_path / "model")
    store = tmp_path / "night.h5"
    write_study(store, STUDY, 3 * SMALL_CHUNK)
    _poison(store, {name: (slice(2 * SMALL_CHUNK + 7, 2 * SMALL_CHUNK + 9), np.inf if i % 2 else -np.inf)
                    for i, name in enumerate(STUDY)})
    outcome = run_sleepfm(["embed", store, "--checkpoint", checkpoint, "--out", tmp_path / "out"])
    assert_success(outcome, outputs=[tmp_path / "out"])
    mapped = [m.value for m in dict.fromkeys(v for v in STUDY.values() if v is not None)]
    with EmbeddingStore(tmp_path / "out" / "night.h5") as result:
        assert result.attrs["chunks_missing"] == {m: [2] for m in mapped}
        for modality in result.modalities:
            tokens = result.tokens(modality)
            assert np.isfinite(tokens).all() and not tokens[2 * SMALL_STEPS:].any()
        _, mask = result.stacked()
        assert mask[:, 2 * SMALL_STEPS:].all() and not mask[:, : 2 * SMALL_STEPS].any()
        assert sorted(result.attrs["masked_channels"]) == sorted(n for n, m in STUDY.items() if m is not None)


def _table(folder: Path) -> Path:
    from ..helpers_models import channel_table

    return channel_table(folder / "groups.json", STUDY)


def test_masking_leaves_clean_studies_unchanged(tmp_path: Path) -> None:
    """Quality masking on a clean store gives the very numbers of --quality off."""
    import sleepfm

    checkpoint = small_checkpoint(tmp_path / "model")
    write_study(tmp_path / "night.h5", STUDY, 3 * SMALL_CHUNK)
    on = sleepfm.embed(tmp_path / "night.h5", checkpoint)["night"]
    off = sleepfm.embed(tmp_path / "night.h5", checkpoint, quality={"mode": "off"})["night"]
    assert on.masks is not None and on.masks.record()["masked_fraction"] == 0
    for modality in on.tokens:
        assert np.array_equal(on.tokens[modality], off.tokens[modality])
    assert Modality.BAS in on.tokens


def test_a_store_with_no_finite_sample_fails_alone_with_one_line(tmp_path: Path) -> None:
    checkpoint = small_checkpoint(tmp_path / "model")
    write_study(tmp_path / "good.h5", STUDY, 2 * SMALL_CHUNK)
    write_study(tmp_path / "dead.h5", STUDY, 2 * SMALL_CHUNK)
    _poison(tmp_path / "dead.h5", {name: (slice(None), np.nan) for name in STUDY})
    outcome = run_sleepfm(["embed", tmp_path / "good.h5", tmp_path / "dead.h5", "--checkpoint", checkpoint,
                           "--out", tmp_path / "out"])
    # The dead store fails with its own line; the other is embedded; the exit code says one failed.
    assert outcome.code != 0, outcome.describe()
    (line,) = [line for line in outcome.error_lines if "dead.h5" in line]
    assert "no usable signal" in line and "good.h5" not in line
    assert_quiet(outcome)
    assert not leftovers([tmp_path / "out"])
    assert (tmp_path / "out" / "good.h5").is_file() and not (tmp_path / "out" / "dead.h5").exists()
