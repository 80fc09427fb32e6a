"""Checks of a signal store's attributes and channel datasets before anything is read from it.

A store may come from sleepfm, from the published converter, or from anywhere: every value
the reader relies on (the sampling rate, a channel's modality, the JSON attributes, a
channel's declared length) is checked here and refused in one line naming the file and the
attribute, instead of surfacing later as a ``ValueError`` in the middle of a batch or as an
allocation of the size a damaged header asks for.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from sleepfm.errors import InputError
from sleepfm.interfaces.modality import MODALITIES, Modality
from sleepfm.limits import check_recording_seconds

#: What a user can do about a damaged store.
REDO = "the store is damaged or was not written by a converter sleepfm knows; re-run `sleepfm preprocess`"


def text_attribute(value: Any) -> str:
    """An attribute as text (bytes are UTF-8; missing is empty)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return "" if value is None else str(value)


def shown(value: Any) -> str:
    """``value`` for a message, at most 40 characters."""
    text = repr(value.tolist() if isinstance(value, np.ndarray) else value)
    return text if len(text) <= 40 else text[:37] + "..."


def number_attribute(value: Any, what: str, path: Path, *, positive: bool = False) -> float:
    """A real scalar attribute as a float; NaN stands for "unknown" unless ``positive`` is asked."""
    array = np.asarray(value)
    real = array.size == 1 and array.dtype.kind in "fiub"
    number = float(array.reshape(-1)[0]) if real else math.nan
    if real and math.isnan(number) and not positive:
        return number
    if not math.isfinite(number) or (positive and number <= 0):
        raise InputError(f"{what} is {shown(value)}, not a {'positive ' if positive else ''}number",
                         where=path, fix=REDO)
    return number


def json_list_attribute(attrs: h5py.AttributeManager, name: str, path: Path) -> list[Any]:
    """A JSON-list attribute (``notes``, ``dropped_channels``); absent is empty."""
    text = text_attribute(attrs.get(name))
    try:
        value = json.loads(text or "[]")
    except (ValueError, RecursionError):
        value = None
    if not isinstance(value, list):
        raise InputError(f"attribute {name!r} is {shown(text)}, not a JSON list", where=path, fix=REDO)
    return value


def modality_attribute(value: Any, name: str, path: Path) -> Modality | None:
    """A channel's stored modality (empty: unmapped)."""
    text = text_attribute(value)
    try:
        return Modality(text) if text else None
    except ValueError:
        raise InputError(f"channel {name!r} has modality {shown(text)}; expected one of "
                         f"{', '.join(m.value for m in MODALITIES)} or none", where=path,
                         fix="re-run `sleepfm preprocess`, or pass --channel-map to assign modalities") from None


def check_channel(dataset: h5py.Dataset, rate: float, path: Path) -> None:
    """A channel holds numbers, all the samples its shape declares, and no more than a recording can last."""
    name = dataset.name.lstrip("/")
    if dataset.dtype.kind not in "fiu":
        raise InputError(f"dataset {name!r} holds {dataset.dtype} values, not signal samples", where=path,
                         fix="a signal store holds one numeric dataset per channel; " + REDO)
    length = int(dataset.shape[0])
    check_recording_seconds(length / rate, f"channel {name!r} declares {length} samples at {rate:g} Hz, which",
                            where=path, fix=REDO)
    # Unwritten chunks read as zeros: a shape the file does not hold would be silent garbage.
    if dataset.chunks is not None:
        expected, held, unit = -(-length // dataset.chunks[0]), dataset.id.get_num_chunks(), "chunks"
    else:
        expected, held, unit = length * dataset.dtype.itemsize, dataset.id.get_storage_size(), "bytes"
    if held < expected:
        raise InputError(f"channel {name!r} declares {length} samples but the file holds {held} of their "
                         f"{expected} {unit}", where=path, fix=REDO)
