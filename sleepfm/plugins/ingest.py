"""Built-in plugin: signal ingestion (readers, channel mappers, ``preprocess``, ``channels``)."""

from __future__ import annotations

from sleepfm import hookimpl


@hookimpl
def sleepfm_register_channel_mappers(register):  # type: ignore[no-untyped-def]
    register(
        "table",
        "sleepfm.map.table:TableMapper",
        description="Exact label lookup in a JSON table of the published channel_groups.json shape.",
    )
