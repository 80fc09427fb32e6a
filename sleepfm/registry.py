"""The component registry: every reader, mapper, model, head, loss and cohort sleepfm knows.

Plugins are Python modules advertised as entry points in group ``sleepfm``. sleepfm's own
built-ins (the modules of :mod:`sleepfm.plugins`) are declared the same way, once, in its
``pyproject.toml``, and load through the same code path as a lab's pip package; only when
sleepfm runs from a source tree without installed metadata are those declarations read from
the ``pyproject.toml`` itself (:func:`declared_builtins`).

Loading is lazy (first :func:`get`, :func:`names` or CLI start-up) and happens once.
Environment variables:

``SLEEPFM_DISABLE_PLUGINS=a,b``
    Block these plugins (entry-point name or distribution name), built-in or external.
``SLEEPFM_LOAD_PLUGINS=a,b``
    Load only these external plugins; built-ins always load. Set it empty to load none.
"""

from __future__ import annotations

import difflib
import importlib
import os
import warnings
from collections.abc import Callable, Iterator, Mapping
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pluggy

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: no source-tree fallback (see declared_builtins)
    tomllib = None  # type: ignore[assignment]

from sleepfm import __version__, factory, hookspecs
from sleepfm.errors import ConfigError, DuplicateComponentError, RegistryError, SleepfmError, UnknownComponentError
from sleepfm.registry_records import (  # re-exported: the registry's public records
    COMMANDS,
    DISTRIBUTION,
    KINDS,
    ComponentEntry,
    PluginFailure,
    PluginInfo,
    PluginWarning,
    first_doc_line,
    make_entry,
)

if TYPE_CHECKING:
    import typer

ENTRY_POINT_GROUP = "sleepfm"
#: The folder holding sleepfm's pyproject.toml when it runs from a source tree.
SOURCE_TREE = Path(__file__).resolve().parents[1]


def _env_list(var: str) -> list[str] | None:
    value = os.environ.get(var)
    if value is None:
        return None
    return [item.strip() for item in value.split(",") if item.strip()]


def check_kind(kind: str, *, allow_commands: bool = False) -> str:
    """Return ``kind`` if it is a known component kind, else raise with the closest matches."""
    known = list(KINDS) + ([COMMANDS] if allow_commands else [])
    if kind in known:
        return kind
    close = difflib.get_close_matches(kind.replace("-", "_"), known, n=3, cutoff=0.5)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    raise UnknownComponentError(
        f"unknown component kind {kind!r}",
        fix=f"{hint}kinds are: {', '.join(known)}",
    )


class Registry:
    """A pluggy plugin manager plus the components its plugins registered."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
        self.pm.add_hookspecs(hookspecs)
        self.plugins: dict[str, PluginInfo] = {}
        self.failures: list[PluginFailure] = []
        self.commands: list[tuple[str, PluginInfo, str]] = []
        self._components: dict[str, dict[str, ComponentEntry]] = {kind: {} for kind in KINDS}
        self._order: list[str] = []
        self._loaded = False

    # ------------------------------------------------------------------ loading
    def _entry_points(self) -> list[tuple[metadata.EntryPoint, PluginInfo]]:
        found = []
        seen: set[tuple[str, str]] = set()
        for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
            dist = ep.dist
            dist_name = dist.metadata["Name"] if dist is not None else "unknown"
            version = dist.version if dist is not None else "unknown"
            # The same distribution can be visible twice (an editable install plus a
            # source tree on sys.path); load it once.
            if (ep.name, ep.value) in seen:
                continue
            seen.add((ep.name, ep.value))
            found.append((ep, PluginInfo(ep.name, ep.value, _canonical(dist_name), version)))
        return found

    def load(self) -> Registry:
        """Import every plugin and collect its components (once)."""
        if self._loaded:
            return self
        self._loaded = True
        disabled = set(_env_list("SLEEPFM_DISABLE_PLUGINS") or [])
        only = _env_list("SLEEPFM_LOAD_PLUGINS")

        entry_points = self._entry_points()
        builtin_eps = [(ep, info) for ep, info in entry_points if info.builtin]
        # Third-party plugins load in a fixed order (by distribution), not sys.path order.
        external_eps = sorted(
            ((ep, info) for ep, info in entry_points if not info.builtin),
            key=lambda item: (item[1].distribution, item[1].name),
        )

        if builtin_eps:
            builtin_loaders = [(info, ep.load) for ep, info in builtin_eps]
        else:
            # Running from a source tree with no installed metadata: the entry points its
            # pyproject.toml declares, loaded the same way.
            builtin_loaders = [(PluginInfo(name, module, DISTRIBUTION, __version__), _importer(module))
                               for name, module in declared_builtins()]

        for info, loader in builtin_loaders:
            if _blocked(info, disabled):
                self.pm.set_blocked(info.name)
                continue
            # A broken built-in is a bug in sleepfm itself: let it raise.
            self._register_plugin(info, loader())

        for ep, info in external_eps:
            if _blocked(info, disabled) or (only is not None and not _selected(info, only)):
                self.pm.set_blocked(info.name)
                continue
            try:
                module = ep.load()
            except Exception as exc:  # noqa: BLE001 - any import failure of a third party
                self._fail(PluginFailure(info, "import", exc))
                continue
            try:
                self._register_plugin(info, module)
            except Exception as exc:  # noqa: BLE001
                self._fail(PluginFailure(info, "registration", exc))

        self._check_pending()
        self._collect_components()
        return self

    def _check_pending(self) -> None:
        # check_pending() refuses hook implementations that match no hook (a typo such as
        # ``sleepfm_register_reader``). A third-party plugin with one is dropped with a
        # warning instead of taking every other plugin down with it.
        while True:
            try:
                self.pm.check_pending()
                return
            except pluggy.PluginValidationError as exc:
                name = self.pm.get_name(exc.plugin)
                info = self.plugins.get(name) if name else None
                if info is None or info.builtin:
                    raise
                self.pm.unregister(name=name)
                self._order.remove(name)
                self._fail(PluginFailure(info, "registration", exc))

    def _register_plugin(self, info: PluginInfo, module: ModuleType) -> None:
        self.pm.register(module, name=info.name)
        self.plugins[info.name] = info
        self._order.append(info.name)

    def _fail(self, failure: PluginFailure) -> None:
        self.failures.append(failure)
        warnings.warn(str(failure), PluginWarning, stacklevel=3)

    def _impls_in_load_order(self, hook_name: str) -> Iterator[tuple[PluginInfo, Callable[..., Any]]]:
        # Hook implementations are called one plugin at a time, in load order (built-ins
        # first), rather than through pluggy's fan-out call: that is what lets each entry
        # record which plugin registered it, and lets one third-party plugin fail alone.
        impls = {impl.plugin_name: impl.function for impl in getattr(self.pm.hook, hook_name).get_hookimpls()}
        for name in self._order:
            if name in impls:
                yield self.plugins[name], impls[name]

    def _collect_components(self) -> None:
        staged: dict[str, list[tuple[str, ComponentEntry, bool]]] = {}
        failed: set[str] = set()
        for kind in KINDS:
            for info, function in self._impls_in_load_order(f"sleepfm_register_{kind}"):
                if info.name in failed:
                    continue
                calls: list[tuple[str, ComponentEntry, bool]] = []

                def register(
                    name: str,
                    component: Any,
                    *,
                    description: str | None = None,
                    override: bool = False,
                    _kind: str = kind,
                    _info: PluginInfo = info,
                    _calls: list = calls,
                ) -> None:
                    _calls.append((_kind, make_entry(_kind, name, component, description, _info), override))

                try:
                    function(register=register)
                except Exception as exc:
                    if info.builtin:
                        raise
                    # A plugin that fails half-way contributes nothing, not half its components.
                    failed.add(info.name)
                    self._fail(PluginFailure(info, "registration", exc))
                    continue
                staged.setdefault(info.name, []).extend(calls)

        for name in failed:
            self.pm.unregister(name=name)
            self._order.remove(name)
        # Overrides are applied after every plain registration, so an override wins whatever
        # the load order of the two plugins; two overrides of one name still clash.
        for pass_overrides in (False, True):
            for name in self._order:
                for kind, entry, override in staged.get(name, []):
                    if override == pass_overrides:
                        self._add(kind, entry, override)

    def _add(self, kind: str, entry: ComponentEntry, override: bool) -> None:
        existing = self._components[kind].get(entry.name)
        if existing is not None:
            if not override or existing.overrides is not None:
                raise DuplicateComponentError(
                    f"{KINDS[kind]} {entry.name!r} is registered twice: by {existing.plugin.distribution} "
                    f"(plugin {existing.plugin.name!r}) and by {entry.plugin.distribution} "
                    f"(plugin {entry.plugin.name!r})",
                    fix="uninstall one of them, block one with SLEEPFM_DISABLE_PLUGINS, "
                    "or register with override=True",
                )
            entry.overrides = existing.plugin
        self._components[kind][entry.name] = entry

    def add_commands(self, app: typer.Typer) -> None:
        """Let every plugin add its sub-commands to ``app``."""
        self.load()
        for info, function in self._impls_in_load_order("sleepfm_register_commands"):
            before = _command_help(app)
            try:
                function(app=app)
            except Exception as exc:
                if info.builtin:
                    raise
                self._fail(PluginFailure(info, "commands", exc))
                continue
            for name, help_line in sorted(_command_help(app).items()):
                if name not in before:
                    self.commands.append((name, info, help_line))

    # ------------------------------------------------------------------ queries
    def entries(self, kind: str | None = None) -> list[ComponentEntry]:
        self.load()
        kinds = [check_kind(kind)] if kind else list(KINDS)
        return [entry for k in kinds for entry in sorted(self._components[k].values(), key=lambda e: e.name)]

    def entry(self, kind: str, name: str) -> ComponentEntry:
        self.load()
        registered = self._components[check_kind(kind)]
        if name in registered:
            return registered[name]
        close = difflib.get_close_matches(name, list(registered), n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(repr(c) for c in close)}? " if close else ""
        listing = ", ".join(sorted(registered)) or "none"
        raise UnknownComponentError(
            f"no {KINDS[kind]} named {name!r}",
            fix=f"{hint}registered {kind}: {listing} (see `sleepfm plugins --kind {kind}`)",
        )

    def get(self, kind: str, name: str) -> Any:
        return self.entry(kind, name).load()

    def names(self, kind: str) -> list[str]:
        return [entry.name for entry in self.entries(kind)]

    def create(self, kind: str, name: str, params: Mapping[str, Any] | None = None, **options: Any) -> Any:
        """The component ``kind``/``name`` built from ``params`` (:func:`sleepfm.registry.create`)."""
        return factory.build(self.get(kind, name), kind, name, params, **options)


def declared_builtins(pyproject: Path = SOURCE_TREE / "pyproject.toml") -> list[tuple[str, str]]:
    """``(name, module)`` of sleepfm's built-in plugins, read from the entry points its
    ``pyproject.toml`` declares — the one place they are listed. Used only when sleepfm runs
    from a source tree without installed metadata."""
    if tomllib is None or not pyproject.is_file():
        raise RegistryError("sleepfm's built-in plugins are not installed: no entry points and no pyproject.toml",
                            where=pyproject.parent, fix="install sleepfm (pip install -e . in its source tree)")
    declared = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["entry-points"][ENTRY_POINT_GROUP]
    return [(str(name), str(module)) for name, module in declared.items()]


def _canonical(dist_name: str) -> str:
    return dist_name.replace("_", "-").lower()


def _importer(module_name: str) -> Callable[[], ModuleType]:
    return lambda: importlib.import_module(module_name)


def _blocked(info: PluginInfo, disabled: set[str]) -> bool:
    return info.name in disabled or info.distribution in {_canonical(d) for d in disabled}


def _selected(info: PluginInfo, only: list[str]) -> bool:
    return info.name in only or info.distribution in {_canonical(o) for o in only}


def _command_help(app: typer.Typer) -> dict[str, str]:
    """Name → first help line of every command and command group on ``app``."""
    found: dict[str, str] = {}
    for command in app.registered_commands:
        callback = command.callback
        name = command.name or (callback.__name__.replace("_", "-") if callback else "")
        found[name] = first_doc_line(command.help) if command.help else first_doc_line(callback)
    for group in app.registered_groups:
        info = group.typer_instance.info if group.typer_instance else None
        name = group.name or (info.name if info else "") or ""
        text = group.help or (info.help if info else None)
        found[name] = text.strip().splitlines()[0] if isinstance(text, str) and text.strip() else ""
    return found


# ---------------------------------------------------------------------- module-level API
_registry: Registry | None = None


def get_registry() -> Registry:
    """The process-wide registry, loaded on first use."""
    global _registry
    if _registry is None:
        _registry = Registry()
    return _registry.load()


def reset_registry() -> None:
    """Forget the loaded registry (tests; after installing a plugin in-process)."""
    global _registry
    _registry = None


def get(kind: str, name: str) -> Any:
    """The component of ``kind`` registered as ``name`` (e.g. ``get("heads", "lstm-staging")``)."""
    return get_registry().get(kind, name)


def names(kind: str) -> list[str]:
    """The registered names of ``kind``, sorted."""
    return get_registry().names(kind)


def entry(kind: str, name: str) -> ComponentEntry:
    """The registry entry (component plus provenance) of ``kind``/``name``."""
    return get_registry().entry(kind, name)


def create(
    kind: str,
    name: str,
    params: Mapping[str, Any] | None = None,
    *,
    given: Mapping[str, Any] | None = None,
    defaults: Mapping[str, Any] | None = None,
    task: str | None = None,
    key: str | None = None,
    error: type[SleepfmError] = ConfigError,
    where: str | Path | None = None,
    given_by: str = "data",
) -> Any:
    """Build the registered ``kind``/``name`` from ``params``: the one way every component is made.

    ``given`` holds the values the data decide (``{"embed_dim": 128, "num_classes": 5}``); the
    component must declare each in ``data_given``, and a user value that differs is refused.
    ``defaults`` fill fields the params leave unset (a parent's dropout). ``task`` refuses a
    head or loss of another task. ``key`` is the config key naming the component (``"head"``),
    used in messages (``head.params.num_classes``); ``error`` and ``where`` say how a problem is
    raised; ``given_by`` names who gives ``given`` (``"model"`` for a model's parts). See
    :mod:`sleepfm.factory`.
    """
    return get_registry().create(kind, name, params, given=given, defaults=defaults, task=task, key=key,
                                 error=error, where=where, given_by=given_by)
