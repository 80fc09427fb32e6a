"""Channel mapping: which modality each channel label belongs to."""

from __future__ import annotations

from pathlib import Path

from sleepfm import registry
from sleepfm.interfaces.channel_mapper import ChannelMapper


def make_mapper(name: str, channel_map: Path | None = None) -> ChannelMapper:
    """The registered channel mapper ``name``, built with the table file ``channel_map`` (its
    ``path`` parameter, as the ``table`` mapper takes it) when one is given."""
    return registry.create("channel_mappers", name, {"path": channel_map} if channel_map is not None else None)


__all__ = ["make_mapper"]
