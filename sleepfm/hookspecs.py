"""The hooks a sleepfm plugin can implement.

Every component hook receives one argument, ``register``, a callable::

    register(name, component, *, description=None, override=False)

``component`` is the class (or factory) itself, or a lazy import string
``"package.module:Attribute"`` so that listing plugins does not import torch. When a
lazy string is given, ``description`` is required; otherwise it defaults to the first
line of the component's docstring. ``override=True`` replaces a component of the same
kind and name registered by a plugin loaded earlier (built-ins load first).

Plugins implement hooks with :data:`sleepfm.hookimpl`; see ``docs/plugins.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import pluggy

if TYPE_CHECKING:
    import typer

hookspec = pluggy.HookspecMarker("sleepfm")
hookimpl = pluggy.HookimplMarker("sleepfm")


class Register(Protocol):
    """The ``register`` callable handed to every component hook."""

    def __call__(
        self,
        name: str,
        component: Any,
        *,
        description: str | None = None,
        override: bool = False,
    ) -> None: ...


@hookspec
def sleepfm_register_readers(register: Register) -> None:
    """Register SignalReader classes (:mod:`sleepfm.interfaces.signal_reader`)."""


@hookspec
def sleepfm_register_label_readers(register: Register) -> None:
    """Register LabelReader classes (:mod:`sleepfm.interfaces.label_reader`)."""


@hookspec
def sleepfm_register_hypnogram_writers(register: Register) -> None:
    """Register HypnogramWriter classes (:mod:`sleepfm.interfaces.hypnogram_writer`)."""


@hookspec
def sleepfm_register_channel_mappers(register: Register) -> None:
    """Register ChannelMapper classes (:mod:`sleepfm.interfaces.channel_mapper`)."""


@hookspec
def sleepfm_register_tokenizers(register: Register) -> None:
    """Register Tokenizer modules (:mod:`sleepfm.interfaces.tokenizer`)."""


@hookspec
def sleepfm_register_poolers(register: Register) -> None:
    """Register Pooler modules (:mod:`sleepfm.interfaces.pooler`)."""


@hookspec
def sleepfm_register_models(register: Register) -> None:
    """Register encoder models assembled from a tokenizer and poolers (:mod:`sleepfm.interfaces.model`)."""


@hookspec
def sleepfm_register_heads(register: Register) -> None:
    """Register Head modules (:mod:`sleepfm.interfaces.head`)."""


@hookspec
def sleepfm_register_losses(register: Register) -> None:
    """Register Loss modules (:mod:`sleepfm.interfaces.loss`)."""


@hookspec
def sleepfm_register_cohorts(register: Register) -> None:
    """Register Cohort adapters (:mod:`sleepfm.interfaces.cohort`)."""


@hookspec
def sleepfm_register_pairing_rules(register: Register) -> None:
    """Register PairingRule classes: hypnogram naming conventions (:mod:`sleepfm.interfaces.pairing_rule`)."""


@hookspec
def sleepfm_register_quality_checks(register: Register) -> None:
    """Register QualityCheck classes (:mod:`sleepfm.interfaces.quality_check`)."""


@hookspec
def sleepfm_register_commands(app: typer.Typer) -> None:
    """Add sub-commands to the ``sleepfm`` command line (a :class:`typer.Typer`)."""
