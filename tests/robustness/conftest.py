"""Inputs the robustness cases start from: the real recordings in ../shared/data/psg, a small
base model, synthetic signal stores and a synthetic 10-minute night (written once per session)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ..helpers_clinical import COMPAT, NIGHT, write_night
from ..helpers_models import SMALL_CHUNK, STUDY, small_checkpoint, write_study


@pytest.fixture(scope="session")
def psg(shared: Path) -> Path:
    """The real recordings and hypnograms (read in place; cases write mutated copies)."""
    return shared / "data" / "psg"


@pytest.fixture(scope="session")
def compat(shared: Path) -> Path:
    """The release's checkpoints/ layout (published format, random weights)."""
    return shared / COMPAT


@pytest.fixture(scope="session")
def small_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small base-model checkpoint (8-s chunks of 1024 samples) for fast embedding cases."""
    return small_checkpoint(tmp_path_factory.mktemp("model") / "base")


@pytest.fixture(scope="session")
def good_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A well-formed signal store of three small-model chunks."""
    path = tmp_path_factory.mktemp("stores") / "good.h5"
    write_study(path, STUDY, 3 * SMALL_CHUNK)
    return path


@pytest.fixture(scope="session")
def night(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic 10-minute PSG (EDF+, 22:30:00) whose channels map to all four modalities."""
    return write_night(tmp_path_factory.mktemp("night") / "night.edf", NIGHT)
