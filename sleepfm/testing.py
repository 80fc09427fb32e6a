"""Test support for sleepfm and for plugin packages: the ``shared`` reference folder.

The real-file and parity tests read ``../shared`` (reference fixtures, real PSG recordings) in
place, beside the sleepfm checkout. A plugin package's ``conftest.py`` takes the same fixture
with one line::

    from sleepfm.testing import shared  # noqa: F401  (the fixture)

Importing this module needs pytest, which only the test environment has.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ENVIRONMENT_VARIABLE = "SLEEPFM_SHARED"


def find_shared(start: Path) -> Path | None:
    """``$SLEEPFM_SHARED``, else the first ``shared`` folder beside ``start`` or one of its parents."""
    configured = os.environ.get(ENVIRONMENT_VARIABLE)
    if configured:
        return Path(configured) if Path(configured).is_dir() else None
    start = start.resolve()
    for folder in (start, *start.parents):
        candidate = folder.parent / "shared"
        if candidate.is_dir():
            return candidate
    return None


@pytest.fixture(scope="session")
def shared(request: pytest.FixtureRequest) -> Path:
    """The shared reference folder; skips the test, saying why, when there is none."""
    root = Path(request.config.rootpath)
    folder = find_shared(root)
    if folder is None:
        pytest.skip(f"no 'shared' folder beside {root} or its parents (and ${ENVIRONMENT_VARIABLE} unset): "
                    "reference and real-recording tests need it")
    return folder
