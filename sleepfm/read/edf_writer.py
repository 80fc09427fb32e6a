"""A small, dependency-free EDF/EDF+/BDF writer.

Tests, the benchmark and demos build recordings of any shape with it (mixed rates, 8-hour
nights, deliberately broken headers) without shipping binary fixtures; the ``edf`` hypnogram
writer uses it for annotation-only EDF+ files. Signals are given in physical units and
quantised to the digital range of the format (16-bit EDF, 24-bit BDF).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

import numpy as np

#: One EDF+ annotation: onset (s from the start), duration (s, or None), text.
Annotation = tuple[float, float | None, str]


@dataclass
class SignalSpec:
    """One channel to write: label, samples per second, unit and physical range.

    ``physical_min``/``physical_max`` default to the signal's own range (widened a little
    so the extremes are representable); a constant signal gets ``value ± 1``.
    """

    label: str
    rate: float
    data: np.ndarray
    unit: str = "uV"
    physical_min: float | None = None
    physical_max: float | None = None
    transducer: str = ""
    prefilter: str = ""


def _field(value: object, width: int) -> bytes:
    text = str(value)
    if len(text) > width:
        # Numbers are shortened (EDF allows 8 characters); text is truncated.
        text = text[:width]
    return text.ljust(width).encode("latin-1")


def _number(value: float) -> str:
    for digits in range(8, 0, -1):
        text = f"{value:.{digits}g}"
        if len(text) <= 8:
            return text
    return str(round(value))


def _tal_number(value: float, *, signed: bool) -> str:
    """A TAL onset (``+30``, ``-0.5``) or duration (``30``): digits with an optional fraction."""
    text = f"{abs(value):.7f}".rstrip("0").rstrip(".")
    return (("-" if value < 0 else "+") if signed else "") + text


def _tal(onset: float, duration: float | None, text: str) -> bytes:
    head = _tal_number(onset, signed=True)
    if duration is not None:
        head += "\x15" + _tal_number(duration, signed=False)
    return (head + "\x14" + text.replace("\x14", " ").replace("\x00", " ") + "\x14\x00").encode("utf-8")


def _record_tals(onsets: Sequence[float], record_seconds: float, annotations: Sequence[Annotation]) -> list[bytes]:
    """Per data record: its time-keeping TAL, then the annotations whose onset falls in it."""
    tals = [f"{_tal_number(onset, signed=True)}\x14\x14\x00".encode("ascii") for onset in onsets]
    for onset, duration, text in annotations:
        index = 0 if record_seconds <= 0 else int(np.searchsorted(onsets, onset, side="right")) - 1
        tals[min(max(index, 0), len(tals) - 1)] += _tal(onset, duration, text)
    return tals


def write_edf(
    path: Path | BinaryIO,
    signals: Sequence[SignalSpec],
    *,
    record_seconds: float = 1.0,
    start: datetime | None = None,
    bdf: bool = False,
    edf_plus: bool = False,
    patient: str = "X X X X",
    recording: str = "Startdate X X X X",
    records_per_write: int = 600,
    record_onsets: Sequence[float] | None = None,
    annotations: Sequence[Annotation] = (),
) -> Path | BinaryIO:
    """Write ``signals`` to ``path`` (a file name or a binary handle) as EDF (or BDF with
    ``bdf=True``); returns ``path``.

    Every signal must cover the same duration, a whole number of records. With
    ``edf_plus=True`` an ``EDF Annotations`` channel with the time-keeping annotations
    is added (EDF+C / BDF+C); ``record_onsets`` (seconds, one per record) makes the file
    discontinuous (EDF+D / BDF+D) with records at those onsets. ``annotations`` go into that
    channel too, each in the record its onset falls in; without signals the file is
    annotation-only, as Sleep-EDF and HMC hypnograms are: one data record of duration 0
    holding every annotation. Data are written ``records_per_write`` records at a time, so an
    8-hour night never needs a second copy of itself in memory.
    """
    start = start or datetime(2020, 1, 1, 22, 0, 0)
    edf_plus = edf_plus or record_onsets is not None or bool(annotations)
    if not signals:
        record_seconds, record_onsets = 0.0, None
    per_record = []
    n_records = None
    for spec in signals:
        count = spec.rate * record_seconds
        if abs(count - round(count)) > 1e-9:
            raise ValueError(f"{spec.label}: {spec.rate} Hz is not a whole number of samples per record")
        count = round(count)
        records, rest = divmod(len(spec.data), count)
        if rest or (n_records is not None and records != n_records):
            raise ValueError(f"{spec.label}: {len(spec.data)} samples is not {n_records} records of {count}")
        n_records = records
        per_record.append(count)
    n_records = n_records if signals else 1
    dig_min, dig_max = (-(2**23), 2**23 - 1) if bdf else (-32768, 32767)
    width = 3 if bdf else 2
    onsets = list(record_onsets) if record_onsets is not None else [i * record_seconds for i in range(n_records)]
    tals = _record_tals(onsets, record_seconds, annotations) if edf_plus else []
    # Every record's annotation signal has the same size: the longest record's TALs, in whole samples.
    annotation_samples = math.ceil(max([60, *map(len, tals)]) / width) if edf_plus else 0
    annotation_bytes = annotation_samples * width

    ranges = []
    for spec in signals:
        data = np.asarray(spec.data, dtype=np.float64)
        finite = data[np.isfinite(data)]
        lo = float(finite.min()) if finite.size else -1.0
        hi = float(finite.max()) if finite.size else 1.0
        if hi <= lo:
            lo, hi = lo - 1.0, hi + 1.0
        # Header numbers have at most 8 characters; a 1 % margin absorbs their rounding.
        margin = 0.01 * (hi - lo)
        lo = spec.physical_min if spec.physical_min is not None else lo - margin
        hi = spec.physical_max if spec.physical_max is not None else hi + margin
        lo_text, hi_text = _number(lo), _number(hi)
        ranges.append((float(lo_text), float(hi_text), lo_text, hi_text))

    n_signals = len(signals) + (1 if edf_plus else 0)
    header_bytes = 256 * (1 + n_signals)
    plus = ("BDF+" if bdf else "EDF+") + ("D" if record_onsets is not None else "C")
    reserved = plus if edf_plus else ("24BIT" if bdf else "")
    head = (b"\xffBIOSEMI" if bdf else _field("0", 8)) + _field(patient, 80) + _field(recording, 80)
    head += _field(start.strftime("%d.%m.%y"), 8) + _field(start.strftime("%H.%M.%S"), 8)
    head += _field(header_bytes, 8) + _field(reserved, 44) + _field(n_records, 8)
    head += _field(_number(record_seconds), 8) + _field(n_signals, 4)
    labels = [s.label for s in signals] + ([("BDF" if bdf else "EDF") + " Annotations"] if edf_plus else [])
    columns: list[list[str]] = [
        labels,
        [s.transducer for s in signals] + ([""] if edf_plus else []),
        [s.unit for s in signals] + ([""] if edf_plus else []),
        [r[2] for r in ranges] + (["-1"] if edf_plus else []),
        [r[3] for r in ranges] + (["1"] if edf_plus else []),
        [str(dig_min)] * len(signals) + ([str(dig_min)] if edf_plus else []),
        [str(dig_max)] * len(signals) + ([str(dig_max)] if edf_plus else []),
        [s.prefilter for s in signals] + ([""] if edf_plus else []),
        [str(n) for n in per_record] + ([str(annotation_samples)] if edf_plus else []),
        [""] * n_signals,
    ]
    widths = (16, 80, 8, 8, 8, 8, 8, 80, 8, 32)
    for values, w in zip(columns, widths, strict=True):
        head += b"".join(_field(v, w) for v in values)
    assert len(head) == header_bytes

    if hasattr(path, "write"):
        _write_records(path, head, signals, per_record, ranges, tals, n_records, records_per_write, bdf,
                       annotation_bytes)
        return path
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        _write_records(handle, head, signals, per_record, ranges, tals, n_records, records_per_write, bdf,
                       annotation_bytes)
    return path


def _write_records(handle: BinaryIO, head: bytes, signals: Sequence[SignalSpec], per_record: list[int],
                   ranges: list[tuple[float, float, str, str]], tals: list[bytes], n_records: int,
                   records_per_write: int, bdf: bool, annotation_bytes: int) -> None:
    dig_min, dig_max = (-(2**23), 2**23 - 1) if bdf else (-32768, 32767)
    width = 3 if bdf else 2
    handle.write(head)
    for first in range(0, n_records, records_per_write):
        count = min(records_per_write, n_records - first)
        parts = []
        for spec, n, (lo, hi, _, _) in zip(signals, per_record, ranges, strict=True):
            chunk = np.asarray(spec.data[first * n : (first + count) * n], dtype=np.float64)
            digital = np.round((chunk - lo) / (hi - lo) * (dig_max - dig_min) + dig_min)
            digital = np.clip(np.nan_to_num(digital, nan=0.0), dig_min, dig_max).astype(np.int32)
            parts.append(digital.reshape(count, n))
        if annotation_bytes:
            tal = np.zeros((count, annotation_bytes), dtype=np.uint8)
            for i in range(count):
                text = tals[first + i]
                tal[i, : len(text)] = np.frombuffer(text, dtype=np.uint8)
        block = np.empty((count, sum(per_record) * width + annotation_bytes), dtype=np.uint8)
        offset = 0
        for part, n in zip(parts, per_record, strict=True):
            if bdf:
                as_bytes = part.astype("<i4").view(np.uint8).reshape(count, n, 4)[:, :, :3]
            else:
                as_bytes = part.astype("<i2").view(np.uint8).reshape(count, n, 2)
            block[:, offset : offset + n * width] = as_bytes.reshape(count, n * width)
            offset += n * width
        if annotation_bytes:
            block[:, offset:] = tal
        handle.write(block.tobytes())


#: The channel mix of the reference ``mixed_rates.edf`` (without its constant channel).
MIXED_RATES: dict[str, float] = {
    **dict.fromkeys(["EKG", "EOG-L", "EOG-R", "EMG", "EEG1", "EEG2", "EEG3", "Leg"], 256.0),
    **dict.fromkeys(["Pres", "Flow", "Snore", "Thor", "Abdo", "Therm", "Pos"], 32.0),
    "SpO2": 1.0,
}


def synthetic_recording(
    path: Path,
    seconds: float,
    channels: dict[str, float] | None = None,
    *,
    seed: int = 0,
    units: dict[str, str] | None = None,
    **options: object,
) -> Path:
    """Write a synthetic PSG: per channel, AR(1) coloured noise plus a slow sine.

    ``channels`` maps labels to rates (default :data:`MIXED_RATES`); ``units`` overrides
    the unit of some labels (default µV, ``%`` for labels starting with SpO2/SaO2).
    ``options`` go to :func:`write_edf` (``bdf``, ``record_seconds``, ``record_onsets``...).
    """
    from scipy import signal

    rng = np.random.default_rng(seed)
    specs = []
    for label, rate in (MIXED_RATES if channels is None else channels).items():
        t = np.arange(round(seconds * rate)) / rate
        noise = signal.lfilter([1.0], [1.0, -0.98], rng.standard_normal(t.shape[0])) * 20
        wave = 30 * np.sin(2 * np.pi * rng.uniform(0.05, 0.4) * t + rng.uniform(0, 6))
        oximetry = label.upper().startswith(("SPO2", "SAO2"))
        unit = (units or {}).get(label, "%" if oximetry else "uV")
        data = 95 + 0.05 * (noise + wave) if oximetry else noise + wave
        specs.append(SignalSpec(label, rate, data, unit=unit))
    return write_edf(path, specs, **options)  # type: ignore[arg-type]


_FIXED_FIELDS = {"version": (0, 8), "patient": (8, 80), "recording": (88, 80), "start date": (168, 8),
                 "start time": (176, 8), "header bytes": (184, 8), "reserved": (192, 44),
                 "number of data records": (236, 8), "duration of a data record": (244, 8),
                 "number of signals": (252, 4)}
_SIGNAL_FIELDS = {"label": 16, "transducer": 80, "unit": 8, "physical minimum": 8, "physical maximum": 8,
                  "digital minimum": 8, "digital maximum": 8, "prefiltering": 80, "samples per data record": 8,
                  "reserved": 32}


def set_header_field(path: Path, name: str, value: str, *, signal: int | None = None) -> None:
    """Overwrite one header field of an EDF/BDF in place (to build damaged files for tests).

    ``name`` is a field of the fixed header (``"number of data records"``...) or, with
    ``signal`` (0-based position), of that signal's header (``"digital minimum"``...).
    """
    path = Path(path)
    with open(path, "r+b") as handle:
        if signal is None:
            offset, width = _FIXED_FIELDS[name]
        else:
            handle.seek(252)
            count = int(handle.read(4).decode("latin-1").strip())
            offset = 256
            for field, field_width in _SIGNAL_FIELDS.items():
                if field == name:
                    offset += field_width * signal
                    width = field_width
                    break
                offset += field_width * count
        handle.seek(offset)
        handle.write(_field(value, width))
