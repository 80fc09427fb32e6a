"""EDF / EDF+ / BDF / BDF+ header parsing with one-line errors for every way a file can be bad.

The header is read and checked before any library sees the file, so that a zero-byte
file, a text file named ``.edf``, a truncated recording, a record count larger than the
data or garbage in a numeric field each get their own message instead of a library's
generic one (or a crash). The layout it computes (where each channel's samples sit in a
data record) is what :mod:`sleepfm.read.edf` reads samples with.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sleepfm.errors import InputError
from sleepfm.limits import check_recording_seconds

log = logging.getLogger(__name__)

ANNOTATION_LABELS = ("EDF Annotations", "BDF Annotations")
_FIXED = 256
_PER_SIGNAL = 256
# (name, width) of the per-signal header fields, in file order.
_SIGNAL_FIELDS = (
    ("label", 16),
    ("transducer", 80),
    ("unit", 8),
    ("physical minimum", 8),
    ("physical maximum", 8),
    ("digital minimum", 8),
    ("digital maximum", 8),
    ("prefiltering", 80),
    ("samples per data record", 8),
    ("reserved", 32),
)


@dataclass(frozen=True)
class SignalHeader:
    """Header of one signal as written in the file (annotation signals included)."""

    position: int  # position among all signals of the header
    label: str
    transducer: str
    unit: str  # as written (stripped), not normalised
    physical_min: float
    physical_max: float
    digital_min: int
    digital_max: int
    prefilter: str
    samples_per_record: int
    offset: int  # first sample of this signal inside a data record (in samples)

    @property
    def annotation(self) -> bool:
        return self.label in ANNOTATION_LABELS


@dataclass(frozen=True)
class EdfHeader:
    """Parsed and checked header of an EDF-family file."""

    path: Path
    kind: str  # "EDF", "EDF+C", "EDF+D", "BDF", "BDF+C" or "BDF+D"
    patient: str
    recording: str
    start_time: datetime | None
    header_bytes: int
    n_records: int
    record_seconds: float
    signals: list[SignalHeader] = field(default_factory=list)

    @property
    def bdf(self) -> bool:
        return self.kind.startswith("BDF")

    @property
    def sample_bytes(self) -> int:
        return 3 if self.bdf else 2

    @property
    def samples_per_record(self) -> int:
        return sum(s.samples_per_record for s in self.signals)

    @property
    def record_bytes(self) -> int:
        return self.samples_per_record * self.sample_bytes

    @property
    def data_signals(self) -> list[SignalHeader]:
        return [s for s in self.signals if not s.annotation]

    @property
    def annotation_signals(self) -> list[SignalHeader]:
        return [s for s in self.signals if s.annotation]


def _text(raw: bytes) -> str:
    # EDF headers are ASCII; real files carry Latin-1 and UTF-8 bytes in labels. Latin-1
    # never fails and is what MNE (and so the published converter) uses, which keeps our
    # dataset names equal to the published ones. Some writers pad with NUL bytes, not spaces.
    return raw.rstrip(b"\x00 ").decode("latin-1").strip()


def _label(raw: bytes, position: int, path: Path) -> str:
    label = _text(raw)
    if "\x00" in label:
        raise InputError(
            f"the label of signal #{position + 1} holds a NUL byte ({label!r})",
            where=path,
            fix="the header is damaged; re-export the recording, or rename the channel in an EDF editor",
        )
    return label


def _int_field(raw: bytes, name: str, path: Path, *, signal: str | None = None) -> int:
    text = _text(raw)
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not text or not math.isfinite(value) or value != int(value):
        owner = f" of signal {signal!r}" if signal is not None else ""
        raise InputError(
            f"header field {name!r}{owner} is not a whole number: {text!r}",
            where=path,
            fix="the header is damaged; re-export the recording from the acquisition software",
        )
    return int(value)


def _float_field(raw: bytes, name: str, path: Path, *, signal: str | None = None) -> float:
    text = _text(raw)
    try:
        value = float(text.replace(",", "."))  # some exporters write a decimal comma
    except ValueError:
        value = float("nan")
    if value != value or value in (float("inf"), float("-inf")):
        owner = f" of signal {signal!r}" if signal is not None else ""
        raise InputError(
            f"header field {name!r}{owner} is not a number: {text!r}",
            where=path,
            fix="the header is damaged; re-export the recording from the acquisition software",
        )
    return value


def _start_time(date: str, time: str, path: Path) -> datetime | None:
    try:
        day, month, year = (int(p) for p in date.split("."))
        hour, minute, second = (int(p) for p in time.replace(":", ".").split("."))
        # EDF years are two digits: 85-99 is 1985-1999, the rest 2000-2084 (EDF+ clipping date).
        year += 1900 if year >= 85 else 2000
        return datetime(year, month, day, hour, minute, second)
    except ValueError:
        log.debug("%s: start date/time %r %r unreadable; stored without a start time", path, date, time)
        return None


def signal_labels(path: Path) -> list[str] | None:
    """The signal labels of an EDF/BDF header (annotation signals included), read from the
    labels alone; ``None`` when the file does not start like an EDF/BDF header."""
    try:
        with open(path, "rb") as handle:
            fixed = handle.read(_FIXED)
            if len(fixed) < _FIXED or (fixed[:8] != b"\xffBIOSEMI" and fixed[:8].strip() != b"0"):
                return None
            count = int(fixed[252:256])
            labels = handle.read(16 * count) if 0 < count < 100_000 else b""
    except (OSError, ValueError):
        return None
    if count <= 0 or len(labels) < 16 * count:
        return None
    return [labels[i * 16 : (i + 1) * 16].decode("latin-1").strip() for i in range(count)]


def is_annotation_file(path: Path) -> bool:
    """Whether ``path`` is an EDF+/BDF+ file whose every signal is an annotation signal (a hypnogram).

    Decided from the signal labels alone, so that a hypnogram with an otherwise odd header is
    still recognised; a file that does not start like EDF says False: reading it gives the reason.
    """
    labels = signal_labels(path)
    return bool(labels) and all(label in ANNOTATION_LABELS for label in labels)


def read_edf_header(path: Path) -> EdfHeader:
    """Read and check the header of ``path``; raise :class:`InputError` with the reason if bad."""
    path = Path(path)
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as handle:
            fixed = handle.read(_FIXED)
            if size == 0:
                raise InputError("empty file (0 bytes)", where=path, fix="re-export or re-copy the recording")
            version = fixed[:8]
            if version == b"\xffBIOSEMI":
                bdf = True
            elif version.strip() == b"0" or (len(version) < 8 and b"0       ".startswith(version)):
                bdf = False
            else:
                shown = version.decode("latin-1", "replace")
                raise InputError(
                    f"not an EDF or BDF file (it starts with {shown!r}, not the EDF version field '0')",
                    where=path,
                    fix="check that this is the recording and not a report or export in another format",
                )
            if len(fixed) < _FIXED:
                raise InputError(
                    f"truncated header: the file has {size} bytes, an EDF header alone needs at least {_FIXED}",
                    where=path,
                )
            header_bytes = _int_field(fixed[184:192], "number of bytes in header record", path)
            reserved = _text(fixed[192:236])
            n_records = _int_field(fixed[236:244], "number of data records", path)
            record_seconds = _float_field(fixed[244:252], "duration of a data record", path)
            n_signals = _int_field(fixed[252:256], "number of signals", path)
            if n_signals < 0 or n_signals > 100_000:
                raise InputError(f"header claims {n_signals} signals", where=path)
            expected_header = _FIXED + _PER_SIGNAL * n_signals
            if header_bytes != expected_header:
                raise InputError(
                    f"header size field says {header_bytes} bytes but {n_signals} signals need {expected_header}",
                    where=path,
                    fix="the header is damaged; re-export the recording",
                )
            if size < header_bytes:
                raise InputError(
                    f"truncated header: the file has {size} bytes, its header alone declares {header_bytes}",
                    where=path,
                )
            signal_block = handle.read(_PER_SIGNAL * n_signals)
    except OSError as exc:
        raise InputError(f"cannot read the file ({exc.strerror or exc})", where=path) from None

    columns: dict[str, list[bytes]] = {}
    offset = 0
    for name, width in _SIGNAL_FIELDS:
        columns[name] = [signal_block[offset + i * width : offset + (i + 1) * width] for i in range(n_signals)]
        offset += width * n_signals

    signals: list[SignalHeader] = []
    sample_offset = 0
    for i in range(n_signals):
        label = _label(columns["label"][i], i, path)
        owner = label or f"#{i + 1}"
        spr = _int_field(columns["samples per data record"][i], "samples per data record", path, signal=owner)
        if spr < 0 or (spr == 0 and label not in ANNOTATION_LABELS):
            raise InputError(f"signal {owner!r} has {spr} samples per data record", where=path,
                             fix="the header is damaged (a signal needs at least 1 sample per record); "
                                 "re-export the recording")
        signals.append(
            SignalHeader(
                position=i,
                label=label,
                transducer=_text(columns["transducer"][i]),
                unit=_text(columns["unit"][i]),
                physical_min=_float_field(columns["physical minimum"][i], "physical minimum", path, signal=owner),
                physical_max=_float_field(columns["physical maximum"][i], "physical maximum", path, signal=owner),
                digital_min=_int_field(columns["digital minimum"][i], "digital minimum", path, signal=owner),
                digital_max=_int_field(columns["digital maximum"][i], "digital maximum", path, signal=owner),
                prefilter=_text(columns["prefiltering"][i]),
                samples_per_record=spr,
                offset=sample_offset,
            )
        )
        sample_offset += spr

    if reserved.startswith(("EDF+D", "BDF+D")):
        kind = ("BDF" if bdf else "EDF") + "+D"
    elif reserved.startswith(("EDF+C", "BDF+C")):
        kind = ("BDF" if bdf else "EDF") + "+C"
    else:
        kind = "BDF" if bdf else "EDF"
    header = EdfHeader(
        path=path,
        kind=kind,
        patient=_text(fixed[8:88]),
        recording=_text(fixed[88:168]),
        start_time=_start_time(_text(fixed[168:176]), _text(fixed[176:184]), path),
        header_bytes=header_bytes,
        n_records=n_records,
        record_seconds=record_seconds,
        signals=signals,
    )
    return _check_data_size(header, size)


def _check_data_size(header: EdfHeader, size: int) -> EdfHeader:
    path = header.path
    data_bytes = size - header.header_bytes
    record_bytes = header.record_bytes
    if header.data_signals and header.record_seconds <= 0:
        raise InputError(
            f"header field 'duration of a data record' is {header.record_seconds:g} s; it must be positive",
            where=path,
        )
    if record_bytes == 0:
        if header.data_signals:
            raise InputError("every signal has 0 samples per data record", where=path)
        return header
    whole, rest = divmod(data_bytes, record_bytes)
    if header.n_records == -1:
        # Allowed by the EDF specification while a recording is still being written; the
        # records it holds are the whole ones (a partial last record is left out).
        log.debug("%s: record count -1 in the header; %d records found in the file", path, whole)
        header = _with_records(header, whole)
        data_bytes = whole * record_bytes
    elif header.n_records < 0:
        raise InputError(f"header claims {header.n_records} data records", where=path)
    if header.data_signals:
        check_recording_seconds(header.n_records * header.record_seconds,
                                f"its {header.n_records} data records of {header.record_seconds:g} s", where=path)
    promised = header.n_records * record_bytes
    if promised > data_bytes:
        if rest:
            raise InputError(
                f"truncated file: it ends {rest} bytes into data record {whole + 1} of the "
                f"{header.n_records} its header promises ({data_bytes} of {promised} data bytes)",
                where=path,
                fix="the copy is incomplete; copy or export the recording again",
            )
        raise InputError(
            f"header claims {header.n_records} data records but the file holds {whole}",
            where=path,
            fix="the header's record count is wrong or the file was cut; re-export the recording",
        )
    if promised < data_bytes:
        # Reading it anyway would decode bytes the header does not describe: BDF samples
        # behind an EDF version field, or a header whose record count or layout is wrong.
        raise InputError(
            f"the file holds {data_bytes} bytes of data records but its header declares {promised} "
            f"({header.n_records} records of {record_bytes} bytes)",
            where=path,
            fix="the header does not describe this file (a BDF with an EDF version field, a wrong record "
                "count, or bytes appended to it); re-export the recording",
        )
    return header


def _with_records(header: EdfHeader, n_records: int) -> EdfHeader:
    from dataclasses import replace

    return replace(header, n_records=n_records)
