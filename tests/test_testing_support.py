"""``sleepfm.testing.find_shared``: where the suite and plugin packages look for ../shared."""

from __future__ import annotations

from pathlib import Path

import pytest

from sleepfm.testing import ENVIRONMENT_VARIABLE, find_shared


def test_the_nearest_shared_folder_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENVIRONMENT_VARIABLE, raising=False)
    checkout = tmp_path / "sleepfm"
    package = checkout / "plugins_contrib" / "sleepfm-cohort-x"
    package.mkdir(parents=True)
    (tmp_path / "shared").mkdir()
    assert find_shared(checkout) == (tmp_path / "shared").resolve()
    assert find_shared(package) == (tmp_path / "shared").resolve()
    (checkout / "shared").mkdir()  # nearer to the package than the checkout's sibling
    assert find_shared(package) == (checkout / "shared").resolve()


def test_the_environment_variable_wins_and_must_name_a_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "shared").mkdir()
    elsewhere = tmp_path / "elsewhere"
    monkeypatch.setenv(ENVIRONMENT_VARIABLE, str(elsewhere))
    assert find_shared(tmp_path / "x") is None
    elsewhere.mkdir()
    assert find_shared(tmp_path / "x") == elsewhere
