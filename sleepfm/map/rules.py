"""Label-rule channel mappers: ``rules`` (all modalities) and ``bas``, ``resp``, ``ekg``, ``emg``.

A label is normalised first — upper case, every run of characters other than ASCII
letters and digits (``-`` ``:`` ``/`` ``_`` ``.`` ``#`` brackets, spaces, mojibake) becomes
one space — so ``EOG(L)``, ``eog l`` and ``EOG-L`` all read ``EOG L``. Rules are regular
expressions over that text, tried in order; the first match decides and is reported as
``<group>:<rule>[<matched text>]`` (``sleepfm channels`` shows it).

Order: channels that are not physiological signals (impedance checks, body position and
motion, device and event channels) are excluded first; then EKG, RESP, EMG and BAS rules.
The order settles the few labels two groups could claim: ``O2-Masimo`` is oximetry
(RESP) before ``O2`` is an electrode (BAS); ``Chin_L-Cz`` is chin EMG before ``Cz`` is
an electrode.

On the 683 labels of the published ``channel_groups.json`` these rules agree with the
published group for more than 95 % (``tests/test_map_rules.py`` lists the exceptions:
mostly labels the published table files oddly, such as ``Pleth`` under EMG).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from sleepfm.interfaces.channel_mapper import ChannelAssignment, ChannelMapper
from sleepfm.interfaces.modality import MODALITIES, Modality

# 10-20 / 10-10 electrode names, mastoid (M) and ear (A) references.
_ELECTRODE = (
    r"(?:FP[12Z]|AF[3-8Z]|FT(?:[7-9]|10)|FC[1-6Z]|F[1-8Z]|CP[1-6Z]|C[1-6Z]|TP(?:[7-9]|10)|T(?:[3-9]|10)"
    r"|PO[3-8Z]|P[1-8Z]|O[12Z]|A[12]|M[12]|IZ|NZ)"
)
# A label made only of electrodes: "C3", "C3 M2", "C3M2", "FZ A1A2", "M2 M1 O1 M2", "O1 X",
# "C3 A22" (a trailing digit from a renamed duplicate).
_ELECTRODE_LABEL = rf"^{_ELECTRODE}+\d?(?: (?:{_ELECTRODE}+\d?|X|REF|AVG|\d+))*$"


@dataclass(frozen=True)
class Rule:
    """One label rule: a regular expression over the normalised label, and its verdict."""

    name: str
    modality: Modality | None  # None: excluded (stored, unmapped) with ``reason``
    pattern: str
    reason: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "_regex", re.compile(self.pattern))

    def match(self, text: str) -> str | None:
        found = self._regex.search(text)  # type: ignore[attr-defined]
        return found.group(0).strip() if found else None


def _tokens(*alternatives: str) -> str:
    """A pattern matching any whole token (space-delimited word) among ``alternatives``."""
    return rf"(?:^| )(?:{'|'.join(alternatives)})(?= |$)"


EXCLUSIONS: tuple[Rule, ...] = (
    Rule("impedance", None, _tokens(r"IMP\w*"), "impedance check, not a physiological signal"),
    Rule("position", None, _tokens(r"POS\w*", "BODY", "ACTIVITY", r"ACC\w*", "AXIS", "ELEVATION", "MOVEMENT",
                                   r"GYRO\w*", r"ACTI\w*"),
         "body position or motion: no SleepFM modality"),
    Rule("device", None, _tokens("VOLTAGE", "BATTERY", "LIGHT", "LUX", r"TEMP(?:ERATURE)?", r"EVENT\w*", "MARKER",
                                 r"HYPNOGRAM\w*", r"ANNOTATION\w*", "STATUS", "TRIGGER", "STIM"),
         "device, event or environment channel: no SleepFM modality"),
)

MODALITY_RULES: dict[Modality, tuple[Rule, ...]] = {
    Modality.EKG: (
        Rule("ecg", Modality.EKG, _tokens(r"ECG\w*", r"EKG\w*")),
    ),
    Modality.RESP: (
        Rule("oximetry", Modality.RESP, _tokens(r"SPO2\w*", r"SAO2\w*", "SA02", r"\w+SPO2", r"OXI\w*", "SAT",
                                                "SATURATION", "O2SAT", "OSAT") + r"|(?:^| )O2 (?:MASIMO|SAT)\b"),
        Rule("pulse", Modality.RESP, _tokens(r"\w*PPG", r"PLETH\w*", r"PULSE\w*", "PR", "HR", "HRATE", "HEARTRATE")
             + r"|(?:^| )HEART RATE\b|^H R$"),
        Rule("effort", Modality.RESP, _tokens(r"THOR\w*", "THO", r"CHEST\w*", r"ABD\w*", r"RIP\w*", "EFFORT", "BELT",
                                              "VTH", "VAB", "INDUCTANCE")),
        Rule("airflow", Modality.RESP, _tokens("AIRFLOW", r"FLOW\w*", r"NAS\w*", r"ORAL\w*", r"THERM\w*", "CANNULA",
                                               r"PRES\w*", r"NPRES\w*", r"NAF\d*", "CO2", "ETCO2", "NEWAIR", "CPAP",
                                               "PAP", "PTAF", r"RESP\w*") + r"|(?:^| )NEW A(?:IR)?(?= |$)"),
        Rule("snore", Modality.RESP, _tokens(r"SNOR\w*", r"MIC\w*", "PHONO", "SOUND")),
    ),
    Modality.EMG: (
        Rule("emg", Modality.EMG, _tokens(r"\w*EMG\w*")),
        Rule("chin", Modality.EMG, _tokens(r"CHIN\w*", "LCHIN", "RCHIN", "SUBMENTAL", "MENTALIS")),
        Rule("leg", Modality.EMG, _tokens(r"LEG\w*", r"LLEG\w*", r"RLEG\w*", "LAT", "RAT", r"TIB\w*", "FOOT", "FEET",
                                          r"PLM\w*", r"LIMB\w*")),
        Rule("arm", Modality.EMG, _tokens(r"ARM\w*", "LARM", "RARM", r"FLEXOR\w*", r"EXTENSOR\w*", r"EXT\d*",
                                          "DELTOID")),
        Rule("muscle", Modality.EMG, _tokens(r"MASS\w*", "TEMPORALIS", "SCM", "SCALENE", r"SHOULD\w*",
                                             "INTERCOSTAL")),
    ),
    Modality.BAS: (
        Rule("eog", Modality.BAS, _tokens(r"EOG\w*", "LOC", "ROC", "LEOG", "REOG", "HEOG", "VEOG",
                                          r"E[12](?:[AM][12])?")),
        Rule("eeg", Modality.BAS, _tokens(r"EEG\w*")),
        Rule("electrode", Modality.BAS, _ELECTRODE_LABEL),
    ),
}
# Which group wins when two could claim a label (see the module docstring).
PRECEDENCE: tuple[Modality, ...] = (Modality.EKG, Modality.RESP, Modality.EMG, Modality.BAS)


def normalise_label(label: str) -> str:
    """Upper case, runs of anything but ASCII letters and digits → one space, stripped."""
    return re.sub(r"[^0-9A-Z]+", " ", label.upper()).strip()


class RuleMapper(ChannelMapper):
    """Maps labels by ordered regular-expression rules over the normalised label."""

    modalities: ClassVar[tuple[Modality, ...]] = PRECEDENCE

    def __init__(self) -> None:
        self.rules: tuple[Rule, ...] = EXCLUSIONS + tuple(r for m in self.modalities for r in MODALITY_RULES[m])

    def assign_one(self, label: str) -> ChannelAssignment:
        text = normalise_label(label)
        for rule in self.rules:
            matched = rule.match(text)
            if matched is None:
                continue
            group = rule.modality.value.lower() if rule.modality is not None else "skip"
            name = f"{group}:{rule.name}[{matched}]"
            return ChannelAssignment(label, rule.modality, name, rule.reason or None)
        wanted = "/".join(m.value for m in self.modalities)
        return ChannelAssignment(label, None, "no-match", f"no {wanted} rule matches this label")

    def assign(self, labels: Sequence[str]) -> list[ChannelAssignment]:
        return [self.assign_one(label) for label in labels]


class RulesMapper(RuleMapper):
    """Label rules for all four modalities (BAS, RESP, EKG, EMG); the default channel mapper."""


class BasMapper(RuleMapper):
    """Label rules for BAS only (EEG and EOG): every other channel is unmapped."""

    modalities = (Modality.BAS,)


class RespMapper(RuleMapper):
    """Label rules for RESP only (effort, airflow, oximetry, pulse, snore)."""

    modalities = (Modality.RESP,)


class EkgMapper(RuleMapper):
    """Label rules for EKG only (ECG leads)."""

    modalities = (Modality.EKG,)


class EmgMapper(RuleMapper):
    """Label rules for EMG only (chin, legs, arms, other muscles)."""

    modalities = (Modality.EMG,)


assert set(PRECEDENCE) == set(MODALITIES)
