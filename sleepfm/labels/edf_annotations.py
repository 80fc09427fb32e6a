"""EDF+/BDF+ hypnograms: stages and events from the annotation signal (TALs).

The annotation signal is parsed here directly from the file bytes, so a file that pyedflib
refuses (out-of-range digital limits, non-ASCII labels, annotation-only files with a zero
record duration) still reads: only the fixed header fields and the ``EDF Annotations`` /
``BDF Annotations`` samples are used.

Stage vocabulary (case-insensitive): R&K ``Sleep stage W/1/2/3/4/R/?`` and ``Movement time``
(Sleep-EDF), AASM ``Sleep stage W/N1/N2/N3/R`` (HMC). R&K stages 3 and 4 both become N3;
``Sleep stage ?`` is *unscored* and ``Movement time`` is *movement* (see
:mod:`sleepfm.labels.vocabulary`). Every other annotation — ``Lights off``, arousals, apneas —
goes to the event table; EDF+'s ``text@@channel`` convention (HMC) fills the channel column.

Writer ``edf``: an annotation-only EDF+C file (no signals; one data record of duration 0, as
the Sleep-EDF and HMC hypnograms are), whose header holds the recording's start date and time
and whose annotation signal holds one ``Sleep stage W/N1/N2/N3/R/?`` annotation per epoch,
timed from that start. Without a known start, the EDF+ anonymised date 01.01.85 00.00.00.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import ClassVar

import numpy as np

from sleepfm.errors import InputError
from sleepfm.interfaces.hypnogram_writer import HypnogramExport, HypnogramWriter
from sleepfm.interfaces.label_reader import LabelReader
from sleepfm.labels.epochs import infer_epoch_seconds, runs_to_stages
from sleepfm.labels.hypnogram import Hypnogram, Stage, StageMapping
from sleepfm.labels.vocabulary import EventRow, Scored, canonical_event, events_frame, stage_code
from sleepfm.read.edf import read_record_columns
from sleepfm.read.edf_header import ANNOTATION_LABELS, read_edf_header
from sleepfm.read.edf_writer import write_edf

_ANNOTATION_LABELS = tuple(label.encode() for label in ANNOTATION_LABELS)
_STAGES: dict[str, Scored] = {
    "sleep stage w": Stage.W,
    "sleep stage 1": Stage.N1, "sleep stage n1": Stage.N1,
    "sleep stage 2": Stage.N2, "sleep stage n2": Stage.N2,
    "sleep stage 3": Stage.N3, "sleep stage 4": Stage.N3, "sleep stage n3": Stage.N3,
    "sleep stage r": Stage.REM, "sleep stage rem": Stage.REM,
    "sleep stage ?": "unscored",
    "movement time": "movement",
}
# One TAL: onset, optional duration, then annotation texts each closed by \x14.
_TAL = re.compile(rb"([+-]\d+(?:\.\d*)?)(?:\x15(\d+(?:\.\d*)?))?\x14(.*)", re.DOTALL)


@dataclass(frozen=True)
class EdfAnnotation:
    onset: float
    duration: float | None
    text: str


@dataclass(frozen=True)
class EdfAnnotations:
    """Everything in an EDF+ file's annotation signal, with the header's start time."""

    start_time: datetime | None
    annotations: list[EdfAnnotation]


def _start_time(header: bytes) -> datetime | None:
    try:
        day, month, year = (int(x) for x in header[168:176].split(b"."))
        hour, minute, second = (int(x) for x in header[176:184].split(b"."))
        # EDF: two-digit years 85-99 are 19xx, 00-84 are 20xx; EDF+ may give the full year.
        full_year = re.search(rb"Startdate \d{2}-[A-Z]{3}-(\d{4})", header[88:168])
        year = int(full_year.group(1)) if full_year else (1900 + year if year >= 85 else 2000 + year)
        return datetime(year, month, day, hour, minute, second)
    except (ValueError, AttributeError):
        return None


def read_edf_annotations(path: Path) -> EdfAnnotations:
    """Parse the annotation signal(s) of an EDF+ or BDF+ file.

    The header goes through the signal reader's checks (:func:`read_edf_header`): a file
    whose size does not match its header is refused here too.
    """
    path = Path(path)
    header = read_edf_header(path)
    if not header.annotation_signals:
        raise InputError("EDF file has no annotation signal (not EDF+/BDF+), so it holds no hypnogram", where=path,
                         fix="give the hypnogram file, not the signal file")
    if header.n_records == 0:
        raise InputError("EDF file holds no data records", where=path)
    with open(path, "rb") as handle:
        fixed = handle.read(256)
    width = header.sample_bytes
    # Only the bytes of the annotation signals are read, not a whole PSG's samples.
    columns = [read_record_columns(header, s.offset * width, s.samples_per_record * width)
               for s in header.annotation_signals]
    annotations: list[EdfAnnotation] = []
    for record in range(header.n_records):
        for column in columns:
            annotations.extend(_parse_tals(column[record].tobytes(), path, record))
    return EdfAnnotations(_start_time(fixed), annotations)


def _parse_tals(raw: bytes, path: Path, record: int) -> list[EdfAnnotation]:
    found = []
    for tal in raw.split(b"\x00"):
        if not tal:
            continue
        match = _TAL.fullmatch(tal)
        if match is None:
            raise InputError(f"malformed EDF+ annotation in data record {record + 1}: {tal[:40]!r}", where=path)
        onset = float(match.group(1))
        duration = float(match.group(2)) if match.group(2) else None
        # The texts are \x14-terminated; the first TAL of each record (time keeping) has none.
        for text in match.group(3).split(b"\x14"):
            if text:
                found.append(EdfAnnotation(onset, duration, _decode(text, path, record, onset)))
    return found


def _decode(text: bytes, path: Path, record: int, onset: float) -> str:
    # EDF+ annotations are UTF-8. Replacing a bad byte would turn "Sleep stage W" into an
    # unknown event and silently drop the epochs it scores, so the byte is named instead.
    try:
        return text.decode("utf-8").strip()
    except UnicodeDecodeError as exc:
        raise InputError(
            f"the EDF+ annotation at {onset:g} s (data record {record + 1}) holds byte 0x{text[exc.start]:02x}, "
            f"which is not UTF-8: {text!r}",
            where=path, fix="EDF+ annotations are UTF-8 text; the file is damaged or was written in another "
                            "encoding — re-export the hypnogram",
        ) from None


def _sniff_edf_plus(path: Path) -> bool:
    with open(path, "rb") as handle:
        head = handle.read(256)
        if len(head) < 256 or head[:8] not in (b"0       ", b"\xffBIOSEMI"):
            return False
        try:
            ns = int(head[252:256])
        except ValueError:
            return False
        labels = handle.read(16 * ns)
    return any(label in labels for label in _ANNOTATION_LABELS)


class EdfAnnotationReader(LabelReader):
    """EDF+/BDF+ hypnograms: Sleep-EDF R&K and AASM (HMC) stage annotations, plus events."""

    extensions: ClassVar[tuple[str, ...]] = (".edf", ".bdf", ".rec")
    epoch_seconds: ClassVar[float] = 30.0

    def sniff(self, path: Path) -> bool:
        return _sniff_edf_plus(path)

    def read(self, path: Path, mapping: StageMapping | None = None) -> Hypnogram:
        mapping = mapping or StageMapping()
        parsed = read_edf_annotations(path)
        runs: list[tuple[float, float, int]] = []
        events: list[EventRow] = []
        for note in parsed.annotations:
            value = _STAGES.get(" ".join(note.text.lower().split()))
            if value is not None:
                # A stage without a duration covers one epoch.
                runs.append((note.onset, note.duration or self.epoch_seconds, stage_code(value, mapping)))
            else:
                text, _, channel = note.text.partition("@@")
                events.append((note.onset, note.duration or 0.0, canonical_event(text), channel.strip(), np.nan))
        if not runs:
            raise InputError("EDF+ file has no sleep-stage annotations", where=path,
                             fix="stages must be annotated as 'Sleep stage W/1/2/3/4/N1/N2/N3/R/?' or 'Movement time'")
        epoch = infer_epoch_seconds([r[0] for r in runs], [r[1] for r in runs], self.epoch_seconds, where=str(path))
        onset, stages = runs_to_stages(runs, epoch, mapping.code("unscored"), where=str(path))
        return Hypnogram(stages, epoch_seconds=epoch, onset=onset, start_time=parsed.start_time,
                         events=events_frame(events), source=Path(path))


# ------------------------------------------------------------------------------- writing
#: The annotation text of each stage (AASM, as HMC writes them).
STAGE_TEXT: dict[int, str] = {Stage.W: "Sleep stage W", Stage.N1: "Sleep stage N1", Stage.N2: "Sleep stage N2",
                              Stage.N3: "Sleep stage N3", Stage.REM: "Sleep stage R", Stage.UNS: "Sleep stage ?"}
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
#: EDF+'s date for an unknown (anonymised) start.
ANONYMOUS_START = datetime(1985, 1, 1)


class EdfAnnotationWriter(HypnogramWriter):
    """EDF+C annotation file (no signals): 'Sleep stage W/N1/N2/N3/R/?' per epoch at the recording's start."""

    extensions = (".edf",)
    suffix = ".hypnogram.edf"
    reader = "edf"
    keeps_start_time = True

    def render(self, export: HypnogramExport, name: str) -> dict[str, bytes]:
        hypnogram = export.hypnogram
        start = (hypnogram.start_time or ANONYMOUS_START).replace(microsecond=0)
        annotations = [(float(onset), float(hypnogram.epoch_seconds), STAGE_TEXT[int(code)])
                       for onset, code in zip(export.onsets, hypnogram.stages, strict=True)]
        # EDF+ local recording identification: the full start date, so years past 2084 survive.
        recording = f"Startdate {start.day:02d}-{_MONTHS[start.month - 1]}-{start.year} X X sleepfm"
        buffer = io.BytesIO()
        write_edf(buffer, [], start=start, recording=recording, annotations=annotations)
        return {name: buffer.getvalue()}
