"""The ``bids-channels`` channel mapper: modalities from the BIDS ``channels.tsv`` ``type`` column.

A BIDS EEG recording ``<entities>_eeg.edf`` comes with ``<entities>_channels.tsv`` in the same
folder (columns ``name``, ``type``, ``units``, optionally ``status``). Its ``type`` decides:

========================  =========================================================
``EEG``, ``EOG``,         BAS
``HEOG``, ``VEOG``
``ECG``                   EKG
``EMG``                   EMG
``RESP``, ``PPG``         RESP (breathing effort/airflow; pulse oximetry)
``MISC`` and types        the label rules (``rules`` mapper), e.g. ``SpO2`` or ``Snore``
sleepfm does not know
``TRIG``, ``SYSCLOCK``,   not mapped (not a physiological signal)
``REF``, ``AUDIO``
========================  =========================================================

A channel whose ``status`` is ``bad`` is not mapped (it is still stored). A channel missing
from ``channels.tsv``, or a recording without one, falls back to the label rules; the rule
column (``sleepfm channels``) says which decided: ``bids:EEG``, ``bids:MISC→eog:...``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from sleepfm.errors import InputError
from sleepfm.interfaces.channel_mapper import ChannelAssignment, ChannelMapper
from sleepfm.interfaces.modality import Modality
from sleepfm.map.rules import RulesMapper

TYPE_MODALITY: dict[str, Modality] = {
    "EEG": Modality.BAS, "EOG": Modality.BAS, "HEOG": Modality.BAS, "VEOG": Modality.BAS,
    "ECG": Modality.EKG, "EMG": Modality.EMG, "RESP": Modality.RESP, "PPG": Modality.RESP,
}
NOT_SIGNALS = frozenset({"TRIG", "SYSCLOCK", "REF", "AUDIO"})


def channels_tsv(recording: Path) -> Path:
    """``sub-01_task-sleep_eeg.edf`` → ``sub-01_task-sleep_channels.tsv`` beside it."""
    recording = Path(recording)
    stem = re.sub(r"_(eeg|ieeg|meg)$", "", recording.stem)
    return recording.with_name(f"{stem}_channels.tsv")


def read_channel_types(path: Path) -> dict[str, tuple[str, str]]:
    """Channel name → (BIDS type upper-cased, status) from a ``channels.tsv``, with one-line errors."""
    try:
        frame = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputError(f"unreadable channels.tsv ({' '.join(str(exc).split())})", where=path) from None
    missing = [c for c in ("name", "type") if c not in frame.columns]
    if missing:
        raise InputError(f"channels.tsv lacks column(s) {', '.join(missing)}", where=path,
                         fix="BIDS channels.tsv files have name, type and units columns")
    status = frame["status"] if "status" in frame.columns else pd.Series("", index=frame.index)
    return {name.strip(): (kind.strip().upper(), state.strip().lower())
            for name, kind, state in zip(frame["name"], frame["type"], status, strict=True)}


class BidsChannelsMapper(ChannelMapper):
    """Modalities from the BIDS channels.tsv type column (EEG/EOG, ECG, EMG, RESP); MISC and others by label."""

    def __init__(self, types: dict[str, tuple[str, str]] | None = None, source: Path | None = None) -> None:
        self.types = types or {}
        self.source = source
        self.rules = RulesMapper()

    def for_recording(self, path: Path) -> BidsChannelsMapper:
        table = channels_tsv(path)
        return BidsChannelsMapper(read_channel_types(table), table) if table.is_file() else BidsChannelsMapper()

    def assign(self, labels: Sequence[str]) -> list[ChannelAssignment]:
        return [self._assign_one(label) for label in labels]

    def _assign_one(self, label: str) -> ChannelAssignment:
        entry = self.types.get(label.strip())
        if entry is None:
            by_label = self.rules.assign_one(label)
            where = "not in channels.tsv" if self.source is not None else "no channels.tsv"
            return ChannelAssignment(label, by_label.modality, f"bids:{where}→{by_label.rule}", by_label.reason)
        kind, status = entry
        if status == "bad":
            return ChannelAssignment(label, None, f"bids:{kind}", "marked bad in channels.tsv")
        if kind in TYPE_MODALITY:
            return ChannelAssignment(label, TYPE_MODALITY[kind], f"bids:{kind}")
        if kind in NOT_SIGNALS:
            return ChannelAssignment(label, None, f"bids:{kind}", f"BIDS type {kind} is not a physiological signal")
        by_label = self.rules.assign_one(label)
        return ChannelAssignment(label, by_label.modality, f"bids:{kind}→{by_label.rule}", by_label.reason)
