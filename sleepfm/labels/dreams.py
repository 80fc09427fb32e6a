"""DREAMS database hypnograms: a ``[Hypnogram...]`` header line, then one 5-s epoch per line.

Two code tables exist, told apart by the header (``[HypnogramAASM]``) or, failing that, by
``AASM`` in the file name; ``dreams-rk`` and ``dreams-aasm`` force one:

========  ====  ===  ==  ==  ==  ==
variant   5     4    3   2   1   0
========  ====  ===  ==  ==  ==  ==
R&K       W     REM  N1  N2  N3  N3 (S4)
AASM      W     REM  N1  N2  N3  —
========  ====  ===  ==  ==  ==  ==

Negative codes follow the DREAMS description: -1 is movement time (*movement*), -2 and -3
are unknown stages (*unscored*). The files carry no clock time.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

from sleepfm.errors import InputError
from sleepfm.interfaces.label_reader import LabelReader
from sleepfm.labels.hypnogram import Hypnogram, Stage, StageMapping
from sleepfm.labels.vocabulary import Scored, stage_codes

Variant = Literal["auto", "rk", "aasm"]
EPOCH_SECONDS = 5.0
_NEGATIVE: dict[int, Scored] = {-1: "movement", -2: "unscored", -3: "unscored"}
CODES: dict[str, dict[int, Scored]] = {
    "rk": {5: Stage.W, 4: Stage.REM, 3: Stage.N1, 2: Stage.N2, 1: Stage.N3, 0: Stage.N3, **_NEGATIVE},
    "aasm": {5: Stage.W, 4: Stage.REM, 3: Stage.N1, 2: Stage.N2, 1: Stage.N3, **_NEGATIVE},
}


def _header(path: Path) -> str:
    with open(path, "rb") as handle:
        first = handle.readline(200)
    return first.decode("latin-1").strip()


class DreamsReader(LabelReader):
    """DREAMS text hypnogram, 5-s epochs; R&K or AASM codes decided from the header or file name."""

    extensions: ClassVar[tuple[str, ...]] = (".txt",)
    variant: ClassVar[Variant] = "auto"
    #: Forced variants are never chosen by format auto-detection.
    auto_detect: ClassVar[bool] = True

    def sniff(self, path: Path) -> bool:
        header = _header(path)
        return header.startswith("[") and header.endswith("]") and header[1:].lower().startswith("hypnogram")

    def detect_variant(self, path: Path) -> Literal["rk", "aasm"]:
        if self.variant != "auto":
            return self.variant
        return "aasm" if "aasm" in _header(path).lower() or "aasm" in Path(path).name.lower() else "rk"

    def read(self, path: Path, mapping: StageMapping | None = None) -> Hypnogram:
        mapping = mapping or StageMapping()
        path = Path(path)
        if not self.sniff(path):
            raise InputError("not a DREAMS hypnogram (first line is not a [Hypnogram...] header)", where=path)
        variant = self.detect_variant(path)
        table = CODES[variant]
        values: list[Scored] = []
        with open(path, encoding="latin-1") as handle:
            next(handle)
            for number, line in enumerate(handle, start=2):
                text = line.strip()
                if not text:
                    continue
                try:
                    values.append(table[int(text)])
                except (ValueError, KeyError):
                    hint = " (R&K stage 4: read it with --format dreams-rk)" if text == "0" else ""
                    raise InputError(f"line {number}: {text!r} is not a DREAMS {variant.upper()} code{hint}",
                                     where=path, fix=f"codes are {', '.join(map(str, table))}") from None
        if not values:
            raise InputError("DREAMS hypnogram has no epochs", where=path)
        return Hypnogram(stage_codes(values, mapping), epoch_seconds=EPOCH_SECONDS, source=path)


class DreamsRkReader(DreamsReader):
    """DREAMS text hypnogram read with R&K codes (5 W, 4 REM, 3 S1, 2 S2, 1 S3, 0 S4)."""

    variant: ClassVar[Variant] = "rk"
    auto_detect: ClassVar[bool] = False


class DreamsAasmReader(DreamsReader):
    """DREAMS text hypnogram read with AASM codes (5 W, 4 REM, 3 N1, 2 N2, 1 N3)."""

    variant: ClassVar[Variant] = "aasm"
    auto_detect: ClassVar[bool] = False
