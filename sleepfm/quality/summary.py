"""From a study's flags to what people read: per-epoch table, fractions, usable modalities, verdict.

An epoch (30 s) of a channel is *bad* when any of the masking checks (``quality.mask_checks``)
flagged one of its patches. A modality is *usable* in an epoch when at least one of its checked
channels is not bad there. The verdict:

* **unusable** — no BAS channel, or BAS usable in less than ``verdict.unusable_below`` of the
  epochs (staging rests on it);
* **degraded** — otherwise, when a modality present is usable in less than
  ``verdict.degraded_below`` of the epochs, a channel is flagged in more than
  ``verdict.channel_degraded`` of them, or a channel's z-score is dominated by artifacts;
* **usable** — none of these.

Every reason is kept as a sentence a technician can act on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sleepfm.config.quality import QualityConfig
from sleepfm.interfaces.modality import MODALITIES, Modality
from sleepfm.interfaces.quality_check import EPOCH_SECONDS
from sleepfm.quality.flags import QualityFlags
from sleepfm.store.signal_store import StoredChannel

VERDICTS = ("usable", "degraded", "unusable")


@dataclass
class StudyQuality:
    """The judged quality of one study."""

    verdict: str
    reasons: list[str]
    modalities: dict[str, dict[str, Any]]
    channels: dict[str, dict[str, Any]]
    unchecked: list[str] = field(default_factory=list)
    n_epochs: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "reasons": self.reasons, "epochs": self.n_epochs,
                "modalities": self.modalities, "channels": self.channels, "unchecked_channels": self.unchecked}

    @property
    def usable_fraction(self) -> float:
        """Mean usable fraction over the modalities present (0 when none)."""
        values = [m["usable_fraction"] for m in self.modalities.values() if m["channels"]]
        return float(np.mean(values)) if values else 0.0


def _percent(value: float) -> str:
    return f"{100 * value:.0f} %" if value >= 0.01 or value == 0 else "<1 %"


def judge(flags: QualityFlags, channels: list[StoredChannel], config: QualityConfig | None = None) -> StudyQuality:
    """The study's fractions, usable modalities and verdict (module docstring)."""
    config = config or QualityConfig()
    by_name = {c.name: c for c in channels}
    checked = [name for name in flags.channels if name in by_name]
    rows = [flags.row(name) for name in checked]
    bad = flags.epochs(flags.flagged(config.mask_checks)[rows]) if rows else np.zeros((0, 0), dtype=bool)
    n_epochs = bad.shape[1] if bad.ndim == 2 else 0
    per_check = {name: flags.epochs(flags.by_check(name)[rows]) for name in flags.checks} if rows else {}
    reasons: list[str] = []
    channel_report: dict[str, dict[str, Any]] = {}
    for row, name in enumerate(checked):
        info = by_name[name]
        fractions = {check: round(float(per_check[check][row].mean()), 4) for check in flags.checks
                     if n_epochs and per_check[check][row].any()}
        flagged = float(bad[row].mean()) if n_epochs else 0.0
        channel_report[name] = {"label": info.label, "modality": info.modality.value if info.modality else None,
                                "bad_fraction": round(flagged, 4), "flags": fractions,
                                "details": flags.details.get(name, {})}
        if info.modality is not None and flagged > config.verdict.channel_degraded:
            worst = max((c for c in fractions if c in config.mask_checks), key=fractions.get, default=None)
            what = f"{worst.replace('_', ' ')} ({_percent(fractions[worst])})" if worst else ""
            reasons.append(f"{info.label} ({info.modality.value}): bad in {_percent(flagged)} of the epochs"
                           + (f", mostly {what}" if what else ""))
        if "zscore_dominated" in fractions and info.modality is not None:
            ratio = flags.details.get(name, {}).get("std_over_robust")
            reasons.append(f"{info.label} ({info.modality.value}): its z-score is dominated by artifacts"
                           + (f" (standard deviation {ratio:g}× the robust one)" if ratio else "")
                           + " — re-run `sleepfm preprocess --scale robust`")
    modalities: dict[str, dict[str, Any]] = {}
    for modality in MODALITIES:
        members = [row for row, name in enumerate(checked) if by_name[name].modality is modality]
        usable = float((~bad[members]).any(axis=0).mean()) if members and n_epochs else 0.0
        modalities[modality.value] = {"channels": [checked[r] for r in members], "usable_fraction": round(usable, 4)}
    verdict = _verdict(modalities, config, reasons)
    unchecked = [c.name for c in channels if c.name not in flags.channels]
    return StudyQuality(verdict, reasons, modalities, channel_report, unchecked, n_epochs)


def _verdict(modalities: dict[str, dict[str, Any]], config: QualityConfig, reasons: list[str]) -> str:
    """Decide, adding the modality-level reasons in front of the channel-level ones."""
    rules = config.verdict
    front: list[str] = []
    bas = modalities[Modality.BAS.value]
    unusable = False
    if not bas["channels"]:
        front.append("no BAS (EEG/EOG) channel: staging cannot be trusted")
        unusable = True
    elif bas["usable_fraction"] < rules.unusable_below:
        front.append(f"BAS usable in only {_percent(bas['usable_fraction'])} of the epochs "
                     f"(below {_percent(rules.unusable_below)})")
        unusable = True
    for name, modality in modalities.items():
        if modality["channels"] and modality["usable_fraction"] < rules.degraded_below and not (
                unusable and name == Modality.BAS.value):
            front.append(f"{name} usable in {_percent(modality['usable_fraction'])} of the epochs "
                         f"(below {_percent(rules.degraded_below)})")
    reasons[:0] = front
    if unusable:
        return "unusable"
    return "degraded" if reasons else "usable"


def epoch_table(flags: QualityFlags, channels: list[StoredChannel], start_time: str = "") -> pd.DataFrame:
    """One row per checked channel × 30-s epoch: ``channel, label, modality, epoch, onset`` (s),
    ``clock_time`` (when the start is known), then 0/1 per check and ``any``."""
    by_name = {c.name: c for c in channels}
    names = [n for n in flags.channels if n in by_name]
    per_check = {check: flags.epochs(flags.by_check(check)) for check in flags.checks}
    n_epochs = next(iter(per_check.values())).shape[1] if per_check else 0
    frames = []
    onsets = np.arange(n_epochs) * EPOCH_SECONDS
    clock = None
    if start_time:
        try:
            clock = (pd.Timestamp(start_time) + pd.to_timedelta(onsets, unit="s")).strftime("%Y-%m-%dT%H:%M:%S")
        except ValueError:
            clock = None
    for name in names:
        row = flags.row(name)
        info = by_name[name]
        frame = pd.DataFrame({"channel": name, "label": info.label,
                              "modality": info.modality.value if info.modality else "",
                              "epoch": np.arange(n_epochs), "onset": onsets})
        if clock is not None:
            frame["clock_time"] = clock
        any_flag = np.zeros(n_epochs, dtype=bool)
        for check, values in per_check.items():
            frame[check] = values[row].astype(np.int8)
            any_flag |= values[row]
        frame["any"] = any_flag.astype(np.int8)
        frames.append(frame)
    columns = ["channel", "label", "modality", "epoch", "onset", *(["clock_time"] if clock is not None else []),
               *flags.checks, "any"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
