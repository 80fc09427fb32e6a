"""The records the registry keeps: component kinds, plugin provenance, entries and failures.

Split from :mod:`sleepfm.registry` (which re-exports every name here) so that the loading
logic there stays readable on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sleepfm.errors import RegistryError
from sleepfm.lazy import import_target

DISTRIBUTION = "sleepfm"

#: Component kinds, each with its hook ``sleepfm_register_<kind>`` and the singular used in messages.
KINDS: dict[str, str] = {
    "readers": "signal reader",
    "label_readers": "label reader",
    "hypnogram_writers": "hypnogram writer",
    "channel_mappers": "channel mapper",
    "tokenizers": "tokenizer",
    "poolers": "pooler",
    "models": "model",
    "heads": "head",
    "losses": "loss",
    "cohorts": "cohort",
    "pairing_rules": "hypnogram pairing rule",
    "quality_checks": "quality check",
}
#: Not a component kind, but listed by ``sleepfm plugins`` next to them.
COMMANDS = "commands"


class PluginWarning(UserWarning):
    """A third-party plugin failed to import or register; the rest of sleepfm works on."""


@dataclass(frozen=True)
class PluginInfo:
    """Where a plugin came from."""

    name: str
    module: str
    distribution: str
    version: str

    @property
    def builtin(self) -> bool:
        return self.distribution == DISTRIBUTION


@dataclass
class ComponentEntry:
    """One registered component."""

    kind: str
    name: str
    target: Any
    description: str
    plugin: PluginInfo
    overrides: PluginInfo | None = None
    _loaded: Any = field(default=None, repr=False)

    def load(self) -> Any:
        """The component itself, importing it first when it was registered as ``"module:attr"``."""
        if self._loaded is None:
            self._loaded = import_target(self.target) if isinstance(self.target, str) else self.target
        return self._loaded

    def as_dict(self) -> dict[str, str]:
        return {
            "kind": self.kind,
            "name": self.name,
            "plugin": self.plugin.name,
            "distribution": self.plugin.distribution,
            "version": self.plugin.version,
            "description": self.description,
        }


@dataclass(frozen=True)
class PluginFailure:
    plugin: PluginInfo
    stage: str  # "import", "registration" or "commands"
    error: BaseException

    def __str__(self) -> str:
        return (
            f"plugin {self.plugin.name!r} from distribution {self.plugin.distribution} "
            f"{self.plugin.version} failed at {self.stage} and was skipped: "
            f"{type(self.error).__name__}: {self.error}"
        )


def first_doc_line(obj: Any) -> str:
    doc = obj if isinstance(obj, str) else getattr(obj, "__doc__", None) or ""
    for line in doc.strip().splitlines():
        if line.strip():
            return line.strip()
    return ""


def make_entry(kind: str, name: str, component: Any, description: str | None, info: PluginInfo) -> ComponentEntry:
    if not isinstance(name, str) or not name:
        raise RegistryError(f"plugin {info.name!r} registered a {KINDS[kind]} without a name")
    if isinstance(component, str):
        if ":" not in component:
            raise RegistryError(
                f"lazy {KINDS[kind]} {name!r} of plugin {info.name!r} is {component!r}",
                fix="write lazy components as 'package.module:Attribute'",
            )
        if not description:
            raise RegistryError(
                f"lazy {KINDS[kind]} {name!r} of plugin {info.name!r} has no description",
                fix="pass description= when registering an import string",
            )
    return ComponentEntry(kind, name, component, description or first_doc_line(component), info)
