"""EDFbrowser's plain-text annotation list (its "Export annotations → ASCII/CSV" layout).

EDFbrowser writes a header line ``Onset,Duration,Annotation`` (``Onset,Annotation`` without
durations; a tab may replace the comma), then one line per annotation: the onset in seconds
relative to the start of the file with an explicit sign and seven decimals (``+30.0000000``),
the duration in seconds, and the text with commas and control characters replaced by ``.``.
Its default file name is ``<recording>_annotations.txt``. EDFbrowser's ASCII/CSV annotation
import reads the same layout back (onset column 1, duration column 2, description column 3,
data from line 2, onsets in seconds relative to the start of the file).

Writer ``edfbrowser``: one ``Sleep stage W/N1/N2/N3/R/?`` line per epoch, as the EDF+ writer
names them. Reader ``edfbrowser``: stage lines become the hypnogram (any stage spelling of
:func:`~sleepfm.labels.vocabulary.stage_from_text`), other lines events. Onsets written as
clock times (EDFbrowser's ``hh:mm:ss`` export options) are refused with a one-line error: they
need the recording's date to be placed.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import ClassVar

from sleepfm.errors import InputError
from sleepfm.interfaces.hypnogram_writer import HypnogramExport, HypnogramWriter
from sleepfm.interfaces.label_reader import LabelReader
from sleepfm.labels.edf_annotations import STAGE_TEXT
from sleepfm.labels.epochs import annotated_hypnogram
from sleepfm.labels.hypnogram import Hypnogram, StageMapping

HEADERS = (("onset", "duration", "annotation"), ("onset", "annotation"))


def _header(path: Path) -> tuple[str, tuple[str, ...]] | None:
    """The separator and lower-cased column names when the first line is an EDFbrowser header."""
    with open(path, encoding="latin-1") as handle:
        first = handle.readline(200).strip()
    for separator in (",", "\t"):
        columns = tuple(cell.strip().lower() for cell in first.split(separator))
        if columns in HEADERS:
            return separator, columns
    return None


class EdfBrowserReader(LabelReader):
    """EDFbrowser annotation export (Onset,Duration,Annotation; onsets in seconds from the file start)."""

    extensions: ClassVar[tuple[str, ...]] = (".txt", ".csv")

    def sniff(self, path: Path) -> bool:
        return _header(path) is not None

    def read(self, path: Path, mapping: StageMapping | None = None) -> Hypnogram:
        path = Path(path)
        header = _header(path)
        if header is None:
            raise InputError("first line is not EDFbrowser's 'Onset,Duration,Annotation' header", where=path)
        separator, columns = header
        notes = []
        # EDFbrowser writes Latin-1 (it converts UTF-8 texts before export).
        with open(path, encoding="latin-1", newline="") as handle:
            rows = csv.reader(handle, delimiter=separator)
            next(rows)
            for line, row in enumerate(rows, start=2):
                if not any(cell.strip() for cell in row):
                    continue
                if len(row) < len(columns):
                    raise InputError(f"line {line}: {len(row)} fields, expected {len(columns)}", where=path)
                onset_text, text = row[0].strip(), separator.join(row[len(columns) - 1 :]).strip()
                try:
                    onset = float(onset_text)
                except ValueError:
                    raise InputError(f"line {line}: onset {onset_text!r} is not seconds from the file start",
                                     where=path, fix="export from EDFbrowser with 'seconds relative to start of "
                                     "file'") from None
                duration = None
                if len(columns) == 3 and row[1].strip():
                    try:
                        duration = float(row[1])
                    except ValueError:
                        raise InputError(f"line {line}: duration {row[1]!r} is not a number", where=path) from None
                notes.append((onset, duration if duration and duration > 0 else None, text))
        return annotated_hypnogram(notes, mapping or StageMapping(), path=path)


class EdfBrowserWriter(HypnogramWriter):
    """EDFbrowser annotation list: Onset,Duration,Annotation with one 'Sleep stage X' line per epoch."""

    extensions = ("_annotations.txt", ".txt")
    suffix = "_annotations.txt"
    reader = "edfbrowser"

    def render(self, export: HypnogramExport, name: str) -> dict[str, bytes]:
        epoch = f"{export.hypnogram.epoch_seconds:g}"
        lines = ["Onset,Duration,Annotation"]
        lines += [f"{onset:+.7f},{epoch},{STAGE_TEXT[int(code)]}"
                  for onset, code in zip(export.onsets, export.hypnogram.stages, strict=True)]
        return {name: ("\n".join(lines) + "\n").encode("latin-1")}
