"""The ``table`` channel mapper: exact label lookup in a JSON of the published shape.

The published ``channel_groups.json`` is ``{"BAS": [...], "EKG": [...], "RESP": [...],
"EMG": [...]}`` and is matched exactly and case-sensitively against dataset names, which is
what this mapper does — the way to reproduce published behaviour bit for bit.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sleepfm.errors import InputError
from sleepfm.interfaces.channel_mapper import ChannelAssignment, ChannelMapper
from sleepfm.interfaces.modality import Modality
from sleepfm.json_input import read_json


def read_channel_table(path: Path) -> dict[str, Modality]:
    """Label → modality from a published-shape JSON file, with one-line errors."""
    path = Path(path)
    data = read_json(path, "channel map", missing_fix="check the path given to --channel-map")
    if not isinstance(data, dict):
        raise InputError("channel map must be a JSON object of modality → list of labels", where=path)
    table: dict[str, Modality] = {}
    for key, labels in data.items():
        try:
            modality = Modality(key)
        except ValueError:
            raise InputError(f"channel map has unknown modality {key!r}", where=path,
                             fix=f"use {', '.join(m.value for m in Modality)}") from None
        if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
            raise InputError(f"channel map entry {key!r} must be a list of labels", where=path)
        for label in labels:
            previous = table.setdefault(label, modality)
            if previous is not modality:
                raise InputError(f"label {label!r} is in both {previous.value} and {modality.value}", where=path)
    return table


class TableMapper(ChannelMapper):
    """Exact, case-sensitive label lookup in a published-shape JSON table (``--channel-map``)."""

    def __init__(self, path: Path | None = None, table: dict[str, Modality] | None = None) -> None:
        if table is None:
            if path is None:
                raise InputError("the table channel mapper needs a JSON file", fix="pass --channel-map FILE")
            table = read_channel_table(path)
        self.path = Path(path) if path is not None else None
        self.table = table

    def assign(self, labels: Sequence[str]) -> list[ChannelAssignment]:
        out = []
        for label in labels:
            modality = self.table.get(label)
            if modality is None:
                out.append(ChannelAssignment(label, None, "table:no-entry", "label not in the channel map"))
            else:
                out.append(ChannelAssignment(label, modality, f"table:{modality.value}"))
        return out
