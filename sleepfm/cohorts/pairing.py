"""Which scored hypnogram goes with which recording, and whether it scores the same night.

Pairing
    Every registered ``pairing_rules`` component (:mod:`sleepfm.cohorts.pairing_rules` for the
    built-ins; ``sleepfm plugins --kind pairing_rules``) is asked about every file of the
    recording's folder that is not itself a recording. Of the files some rule pairs with the
    recording, the one of the most preferred rule wins (lowest ``priority``), then the first by
    name. Files of a separate hypnogram folder come after every file beside the recording.
Unpaired annotation files
    An annotation-only EDF+ file, or a file a rule's naming marks as a hypnogram, that no
    recording took is reported: one warning line each (and a count), so that a typo in a name
    does not silently turn into "0 studies evaluated".
Same night
    A hypnogram file dated on another day than its recording scores another night, even when its
    clock times overlap. Dates are compared only when both files carry a real one: anonymised
    files carry placeholders (NSRR, EDF's "unknown" 1985, MNE's 2000, HMC's 2001 — all on
    1 January, or before 1986), and text formats carry none. Two real start times more than
    12 hours apart are another night.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sleepfm import registry
from sleepfm.cohorts.pairing_rules import MarkedRule
from sleepfm.errors import InputWarning
from sleepfm.interfaces.pairing_rule import PairingRule

#: Rules of files in a separate hypnogram folder rank after every file beside the recording.
ELSEWHERE = 1000
#: Start times further apart than this are another night.
SAME_NIGHT_HOURS = 12.0


def pairing_rules(names: Sequence[str] | None = None, *, markers: Sequence[str] | None = None) -> list[PairingRule]:
    """The registered rules (``names`` to choose some), built; ``markers`` replaces the words of ``marked``."""


    rules = []
    for name in registry.names("pairing_rules") if names is None else names:
        cls = registry.get("pairing_rules", name)
        rules.append(MarkedRule(tuple(markers)) if markers is not None and issubclass(cls, MarkedRule) else cls())
    return rules


@dataclass(frozen=True)
class Paired:
    """A recording's hypnogram and the label reader its rule names (``None``: detect the format)."""

    path: Path
    label_reader: str | None


@dataclass
class Pairing:
    """The hypnogram found for each recording (``None``: none), and the annotation files left over."""

    hypnograms: dict[Path, Paired | None] = field(default_factory=dict)
    unpaired: list[Path] = field(default_factory=list)

    def warn_unpaired(self, limit: int = 10) -> None:
        """One warning line per unpaired annotation file (at most ``limit``, then how many more)."""
        if not self.unpaired:
            return
        count = len(self.unpaired)
        warnings.warn(f"{count} annotation file{'s' * (count != 1)} not paired with any recording "
                      "(no recording of the name its convention expects; see docs/run.md)", InputWarning, stacklevel=2)
        for path in self.unpaired[:limit]:
            warnings.warn(f"{path}: annotation file not paired with any recording", InputWarning, stacklevel=2)
        if count > limit:
            warnings.warn(f"… and {count - limit} more annotation files not paired", InputWarning, stacklevel=2)


def _candidates(recording: Path, files: Iterable[Path], rules: Sequence[PairingRule], rank: int
                ) -> list[tuple[int, str, Path, PairingRule]]:
    return [(rank + rule.priority, path.name, path, rule) for path in files if path != recording
            for rule in rules if rule.pairs(recording, path)]


def pair_hypnograms(recordings: Sequence[Path], files: Iterable[Path], rules: Sequence[PairingRule], *,
                    elsewhere: Sequence[Path] = (), elsewhere_rules: Sequence[PairingRule] = ()) -> Pairing:
    """Pair each recording with a hypnogram among ``files`` of its own folder, then ``elsewhere``
    (with ``elsewhere_rules`` added); ``files`` may include the recordings (they are never candidates)."""
    from sleepfm.read.edf_header import is_annotation_file

    taken = set(recordings)
    by_folder: dict[Path, list[Path]] = {}
    for path in files:
        if path not in taken:
            by_folder.setdefault(path.parent, []).append(path)
    others = [p for p in elsewhere if p not in taken]
    pairing = Pairing()
    used: set[Path] = set()
    for recording in recordings:
        ranked = _candidates(recording, by_folder.get(recording.parent, []), rules, 0) + _candidates(
            recording, others, [*rules, *elsewhere_rules], ELSEWHERE)
        if ranked:
            _, _, path, rule = min(ranked, key=lambda item: item[:2])
            pairing.hypnograms[recording] = Paired(path, rule.label_reader)
            used.add(path)
        else:
            pairing.hypnograms[recording] = None
    leftovers = [p for folder in by_folder.values() for p in folder] + others
    pairing.unpaired = sorted(
        p for p in leftovers
        if p not in used and (any(rule.claims(p) for rule in rules) or is_annotation_file(p)))
    return pairing


def is_placeholder_date(moment: datetime) -> bool:
    """Whether a header's date is a stand-in for "unknown" or "anonymised" (module docstring)."""
    return moment.year < 1986 or (moment.month, moment.day) == (1, 1)


def other_night(recording_start: datetime | None, scored_start: datetime | None) -> str | None:
    """Why a scored hypnogram does not score the recording's night, or ``None`` when it may."""
    if recording_start is None or scored_start is None:
        return None
    if is_placeholder_date(recording_start) or is_placeholder_date(scored_start):
        return None
    hours = (scored_start - recording_start).total_seconds() / 3600
    if abs(hours) <= SAME_NIGHT_HOURS:
        return None
    when = f"{abs(hours) / 24:.1f} days" if abs(hours) >= 24 else f"{abs(hours):.1f} h"
    return (f"the scored hypnogram starts {scored_start:%Y-%m-%d %H:%M:%S}, {when} "
            f"{'after' if hours > 0 else 'before'} the recording ({recording_start:%Y-%m-%d %H:%M:%S}): "
            "it scores another night")
