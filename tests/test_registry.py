"""The plugin registry: real distributions, duplicates, unknown names, broken plugins, env vars."""

from __future__ import annotations

import sys
import warnings
from importlib import metadata

import pytest
import tomllib

from sleepfm import registry
from sleepfm.errors import DuplicateComponentError, RegistryError, UnknownComponentError
from sleepfm.registry import KINDS, PluginWarning, Registry, declared_builtins

from .conftest import REPO

LOSS_PLUGIN = """
    from sleepfm import hookimpl

    class HingeLoss:
        '''A hinge loss for tests.'''

    @hookimpl
    def sleepfm_register_losses(register):
        register("{name}", HingeLoss{extra})
"""


def loss_plugin(name: str = "hinge", extra: str = "") -> str:
    return LOSS_PLUGIN.format(name=name, extra=extra)


def external_losses(reg: Registry) -> list[str]:
    """Losses registered by plugins other than sleepfm's built-ins."""
    return [entry.name for entry in reg.entries("losses") if not entry.plugin.builtin]


def test_builtins_are_declared_once_and_installed_as_declared() -> None:
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["entry-points"]["sleepfm"]
    assert declared_builtins() == list(declared.items())
    modules = {f"sleepfm.plugins.{p.stem}" for p in (REPO / "sleepfm" / "plugins").glob("*.py") if p.stem != "__init__"}
    assert set(declared.values()) == modules, "every module of sleepfm/plugins is a declared built-in"
    installed = {(ep.name, ep.value) for ep in metadata.distribution("sleepfm").entry_points if ep.group == "sleepfm"}
    assert installed == set(declared.items()), "reinstall sleepfm (make venv) after changing its entry points"


def test_builtins_load_through_entry_points_with_provenance() -> None:
    reg = Registry().load()
    core = reg.plugins["core"]
    assert (core.distribution, core.module) == ("sleepfm", "sleepfm.plugins.core")
    assert core.version == metadata.version("sleepfm")


def test_contrib_package_registers_through_its_installed_distribution() -> None:
    entry = registry.entry("losses", "focal")
    assert entry.plugin.distribution == "sleepfm-loss-focal"
    assert entry.plugin.version == metadata.version("sleepfm-loss-focal")
    assert entry.description.startswith("Focal loss")
    assert "focal" in registry.names("losses")


def test_third_party_plugin_from_a_new_distribution(make_plugin) -> None:
    make_plugin("sleepfm-hinge", loss_plugin(), version="2.3.4")
    entry = Registry().load().entry("losses", "hinge")
    assert (entry.plugin.distribution, entry.plugin.version) == ("sleepfm-hinge", "2.3.4")
    assert entry.description == "A hinge loss for tests."
    assert entry.load().__name__ == "HingeLoss"


def test_duplicate_name_names_both_distributions(make_plugin) -> None:
    make_plugin("sleepfm-dup-a", loss_plugin("twin"))
    make_plugin("sleepfm-dup-b", loss_plugin("twin"))
    with pytest.raises(DuplicateComponentError) as info:
        Registry().load()
    message = str(info.value)
    assert "sleepfm-dup-a" in message and "sleepfm-dup-b" in message and "'twin'" in message


def test_duplicate_of_a_contrib_component_is_refused(make_plugin) -> None:
    make_plugin("sleepfm-other-focal", loss_plugin("focal"))
    with pytest.raises(DuplicateComponentError) as info:
        Registry().load()
    assert "sleepfm-loss-focal" in str(info.value) and "sleepfm-other-focal" in str(info.value)


def test_override_opt_in_replaces_and_records_what_it_replaced(make_plugin) -> None:
    make_plugin("sleepfm-better-focal", loss_plugin("focal", extra=", override=True"))
    entry = Registry().load().entry("losses", "focal")
    assert entry.plugin.distribution == "sleepfm-better-focal"
    assert entry.overrides is not None and entry.overrides.distribution == "sleepfm-loss-focal"


def test_unknown_name_lists_registered_and_closest() -> None:
    with pytest.raises(UnknownComponentError) as info:
        registry.get("losses", "focla")
    message = str(info.value)
    assert "no loss named 'focla'" in message
    assert "did you mean 'focal'" in message
    assert "registered losses: " in message


def test_unknown_kind_suggests() -> None:
    with pytest.raises(UnknownComponentError, match="did you mean losses"):
        registry.names("loss")


def test_plugin_failing_at_import_warns_with_its_distribution(make_plugin) -> None:
    make_plugin("sleepfm-broken-import", "raise RuntimeError('missing CUDA toolkit')\n")
    make_plugin("sleepfm-fine", loss_plugin("fine"))
    with pytest.warns(PluginWarning, match=r"sleepfm-broken-import 1\.0\.0 failed at import.*missing CUDA toolkit"):
        reg = Registry().load()
    assert "fine" in reg.names("losses") and "focal" in reg.names("losses")


def test_plugin_failing_at_registration_contributes_nothing(make_plugin) -> None:
    make_plugin(
        "sleepfm-half",
        """
        from sleepfm import hookimpl

        class Good:
            '''fine'''

        @hookimpl
        def sleepfm_register_readers(register):
            register("half-reader", Good)

        @hookimpl
        def sleepfm_register_losses(register):
            raise ValueError("bad weights file")
        """,
    )
    with pytest.warns(PluginWarning, match="sleepfm-half.*registration.*bad weights file"):
        reg = Registry().load()
    assert "half-reader" not in reg.names("readers")
    assert "half" not in reg.plugins


def test_plugin_with_misspelt_hook_is_dropped_not_fatal(make_plugin) -> None:
    make_plugin(
        "sleepfm-typo",
        """
        from sleepfm import hookimpl

        @hookimpl
        def sleepfm_register_reader(register):
            pass
        """,
    )
    with pytest.warns(PluginWarning, match="sleepfm-typo"):
        reg = Registry().load()
    assert "focal" in reg.names("losses")


def test_lazy_component_needs_description_and_import_string(make_plugin) -> None:
    make_plugin(
        "sleepfm-lazy",
        """
        from sleepfm import hookimpl

        @hookimpl
        def sleepfm_register_losses(register):
            register("lazy", "sleepfm_lazy:Thing")
        """,
    )
    with pytest.warns(PluginWarning, match="no description"):
        Registry().load()


def test_lazy_component_is_imported_only_when_used(make_plugin) -> None:
    make_plugin(
        "sleepfm-lazy-ok",
        """
        from sleepfm import hookimpl

        @hookimpl
        def sleepfm_register_losses(register):
            register("lazy-ok", "sleepfm_lazy_ok_impl:Thing", description="imported on use")
        """,
    )
    reg = Registry().load()
    assert reg.entry("losses", "lazy-ok").description == "imported on use"
    assert "sleepfm_lazy_ok_impl" not in sys.modules
    with pytest.raises(ModuleNotFoundError):
        reg.get("losses", "lazy-ok")


def test_disable_plugins_env_blocks_by_name_and_distribution(make_plugin, monkeypatch) -> None:
    make_plugin("sleepfm-hinge", loss_plugin())
    monkeypatch.setenv("SLEEPFM_DISABLE_PLUGINS", "sleepfm-hinge, loss-focal")
    reg = Registry().load()
    assert external_losses(reg) == []
    assert reg.pm.is_blocked("loss-focal")


def test_load_plugins_env_loads_only_the_named_external_plugins(make_plugin, monkeypatch) -> None:
    make_plugin("sleepfm-hinge", loss_plugin())
    monkeypatch.setenv("SLEEPFM_LOAD_PLUGINS", "sleepfm-hinge")
    reg = Registry().load()
    assert external_losses(reg) == ["hinge"]
    assert "core" in reg.plugins, "built-ins always load"


def test_load_plugins_env_empty_loads_no_external_plugin(monkeypatch) -> None:
    monkeypatch.setenv("SLEEPFM_LOAD_PLUGINS", "")
    reg = Registry().load()
    assert external_losses(reg) == []
    assert set(reg.plugins) == {name for name in reg.plugins if reg.plugins[name].builtin}


def test_loading_is_lazy_and_happens_once(make_plugin) -> None:
    reg = Registry()
    assert not reg.plugins, "nothing is imported before first use"
    reg.load()
    count = len(reg.entries())
    make_plugin("sleepfm-late", loss_plugin("late"))
    reg.load()
    assert len(reg.entries()) == count


def test_source_tree_fallback_uses_the_builtin_tuple(monkeypatch) -> None:
    # Without installed metadata the same modules load from the entry points pyproject.toml declares.
    monkeypatch.setattr(Registry, "_entry_points", lambda self: [])
    reg = Registry().load()
    assert reg.plugins["core"].module == "sleepfm.plugins.core"
    assert reg.plugins["core"].distribution == "sleepfm"


def test_component_without_name_is_refused(make_plugin) -> None:
    make_plugin(
        "sleepfm-noname",
        """
        from sleepfm import hookimpl

        @hookimpl
        def sleepfm_register_losses(register):
            register("", object)
        """,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        Registry().load()
    assert any("without a name" in str(w.message) for w in caught)


def test_every_kind_has_a_hook() -> None:
    from sleepfm import hookspecs

    for kind in KINDS:
        assert hasattr(hookspecs, f"sleepfm_register_{kind}")


def test_registry_error_is_one_line() -> None:
    err = RegistryError("x\ny", where="a", fix="b")
    assert "\n" not in str(err)
