"""Config fields that name a registered component by a plain string (a reader, a channel mapper).

Checked when the config is validated, so that ``--set channel_mapper=nope`` is one usage
error (exit 2) before any work, not the same failure repeated for every study.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator

from sleepfm import registry
from sleepfm.registry_records import KINDS


def registered(kind: str, *, also: tuple[str, ...] = ()) -> AfterValidator:
    """A validator accepting the names registered for ``kind`` (and the special values ``also``)."""

    def check(name: str) -> str:
        known = registry.names(kind)
        if name in also or name in known:
            return name
        raise ValueError(f"no {KINDS[kind]} named {name!r}; registered: {', '.join([*also, *known])} "
                         f"(see `sleepfm plugins --kind {kind}`)")

    return AfterValidator(check)


#: A signal reader name, or ``auto`` to pick one by file.
ReaderName = Annotated[str, registered("readers", also=("auto",))]
#: A channel mapper name.
ChannelMapperName = Annotated[str, registered("channel_mappers")]
