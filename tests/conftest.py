"""Fixtures shared by the whole suite.

* ``shared`` — the ``../shared`` folder beside the checkout (reference data, real PSG files);
  tests that need it skip with a clear reason when it is absent (CI always has it).
* ``make_plugin`` — installs a real plugin distribution (a ``*.dist-info`` with an
  ``entry_points.txt``, found by ``importlib.metadata`` on ``sys.path``) into a temporary
  folder, the same mechanism pip uses, so registry tests never mock entry points.
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sleepfm import registry
from sleepfm.testing import shared  # noqa: F401  (the fixture, shared with plugin packages' tests)

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _fresh_registry() -> Iterator[None]:
    # Each test sees plugins installed by it and no others' leftovers.
    registry.reset_registry()
    yield
    registry.reset_registry()


PluginFactory = Callable[..., Path]


@pytest.fixture
def make_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PluginFactory]:
    site = tmp_path / "site-packages"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    created: list[str] = []

    def factory(distribution: str, source: str, *, module: str | None = None, entry_name: str | None = None,
                version: str = "1.0.0") -> Path:
        module = module or distribution.replace("-", "_")
        entry_name = entry_name or distribution
        (site / f"{module}.py").write_text(textwrap.dedent(source))
        dist_info = site / f"{distribution.replace('-', '_')}-{version}.dist-info"
        dist_info.mkdir()
        (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {distribution}\nVersion: {version}\n")
        (dist_info / "entry_points.txt").write_text(f"[sleepfm]\n{entry_name} = {module}\n")
        created.append(module)
        return site

    yield factory
    for module in created:
        sys.modules.pop(module, None)
