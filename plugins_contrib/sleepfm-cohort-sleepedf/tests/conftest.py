"""The ``shared`` fixture for this package's tests: the reference folder beside the sleepfm
checkout (``../shared``), or ``$SLEEPFM_SHARED``; tests that need it skip when it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHECKOUT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def shared() -> Path:
    folder = Path(os.environ.get("SLEEPFM_SHARED", CHECKOUT.parent / "shared"))
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent: the real-file tests need the shared reference folder (or $SLEEPFM_SHARED)")
    return folder
