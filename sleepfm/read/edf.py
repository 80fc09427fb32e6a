"""The ``edf`` signal reader: EDF, EDF+C/D, BDF and BDF+C/D.

Each file is first checked by our own header parser (:mod:`sleepfm.read.edf_header`), which
turns every kind of damage into a one-line message. The file is then interpreted by
pyedflib — strict: it accepts only files that follow the EDF(+)/BDF(+) specification — or,
when pyedflib refuses a file that is still readable (digital limits beyond 16 bits,
non-ASCII labels, ...), by MNE, the library the published converter used. Which one was
used is logged at debug level and kept in :attr:`EdfRecording.backend`.

Samples are read the same way for both: one channel at a time, straight from the data
records (:func:`iter_record_columns`), at the channel's own rate. pyedflib's
``readSignal`` reads record by record and takes about ten times longer on a night-long
channel (0.37 s against 0.03 s for 8 h at 256 Hz); nothing here ever holds all channels,
or any channel at the file's highest rate.
"""

from __future__ import annotations

import logging
import mmap
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import ClassVar

import numpy as np

from sleepfm.errors import InputError
from sleepfm.interfaces.signal_reader import ChannelInfo, Recording, SignalReader
from sleepfm.limits import check_recording_seconds
from sleepfm.read.edf_header import EdfHeader, SignalHeader, read_edf_header
from sleepfm.read.units import normalise_unit, published_scale

log = logging.getLogger(__name__)

_BLOCK_BYTES = 1 << 20
#: EDF+D gaps (held samples) may exceed the recorded signal up to this long in all.
MAX_GAP_SECONDS = 3600.0
_DONTNEED = getattr(mmap, "MADV_DONTNEED", None)


@dataclass(frozen=True)
class Calibration:
    """Digital → physical: ``physical = digital * gain + offset`` (MNE's formula and rounding)."""

    gain: float
    offset: float
    unit_as_written: str


def _calibration_from_header(signal: SignalHeader) -> Calibration:
    physical = signal.physical_max - signal.physical_min
    digital = float(signal.digital_max - signal.digital_min)
    # A degenerate range cannot be inverted; MNE uses 1 there, and so do we (with a warning).
    if physical == 0:
        log.warning("signal %r has an empty physical range; its values are digital", signal.label)
        physical = 1.0
    if digital == 0:
        log.warning("signal %r has an empty digital range; its values are not scaled", signal.label)
        digital = 1.0
    gain = np.float64(physical) / np.float64(digital)
    offset = np.float64(signal.physical_min) - np.float64(signal.digital_min) * gain
    return Calibration(float(gain), float(offset), signal.unit)


def _limits(calibration: Calibration, signal: SignalHeader) -> dict[str, float]:
    """The physical values of the digital extremes (what the header's physical limits mean,
    computed so that a degenerate or inconsistent header still gives what the samples reach)."""
    ends = sorted(d * calibration.gain + calibration.offset for d in (signal.digital_min, signal.digital_max))
    return {"physical_min": float(ends[0]), "physical_max": float(ends[1])}


def _interpret_with_pyedflib(header: EdfHeader) -> list[Calibration]:
    """Let pyedflib check the file against the specification; raises OSError when it refuses."""
    import pyedflib

    reader = pyedflib.EdfReader(str(header.path))
    try:
        data = header.data_signals
        if reader.signals_in_file != len(data):
            raise OSError(f"pyedflib sees {reader.signals_in_file} signals, the header lists {len(data)}")
        per_record = reader.getNSamples() // max(reader.datarecords_in_file, 1)
        for i, signal in enumerate(data):
            if int(per_record[i]) != signal.samples_per_record:
                raise OSError(f"pyedflib disagrees on the layout of signal {signal.label!r}")
        return [_calibration_from_header(signal) for signal in data]
    finally:
        reader.close()


def _interpret_with_mne(header: EdfHeader) -> list[Calibration]:
    """MNE's reading of the header (lenient; the published converter's library)."""
    import mne

    read = mne.io.read_raw_bdf if header.bdf else mne.io.read_raw_edf
    suffix = ".bdf" if header.bdf else ".edf"
    if Path(header.path).suffix.lower() == suffix:
        extras = read(header.path, preload=False, verbose="error")._raw_extras[0]
    else:
        # MNE goes by the extension; an old Sleep-EDF ``.rec`` is EDF under another name.
        import tempfile

        with tempfile.TemporaryDirectory() as folder:
            link = Path(folder) / f"recording{suffix}"
            link.symlink_to(Path(header.path).resolve())
            extras = read(link, preload=False, verbose="error")._raw_extras[0]
    data = header.data_signals
    if len(extras["cal"]) != len(data):
        raise InputError(f"MNE sees {len(extras['cal'])} signals, the header lists {len(data)}", where=header.path)
    return [
        Calibration(float(cal), float(offset), signal.unit)
        for cal, offset, signal in zip(extras["cal"], extras["offsets"], data, strict=True)
    ]


def iter_record_columns(header: EdfHeader, first_byte: int, n_bytes: int) -> Iterator[tuple[int, np.ndarray]]:
    """Bytes ``[first_byte, first_byte + n_bytes)`` of the data records, about 1 MB of file at a time.

    Yields ``(first record, uint8 array of shape (records, n_bytes))`` (a copy). The file is
    memory-mapped, so only the pages holding the wanted bytes are touched and nothing else
    is copied; each block's pages are released (``MADV_DONTNEED``) once copied, so the
    mapping never adds the file's size to the process's memory. Threads read in parallel.
    """
    record = header.record_bytes
    per_block = max(1, _BLOCK_BYTES // record)
    with open(header.path, "rb") as handle:
        mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    try:
        end = header.header_bytes + header.n_records * record
        if len(mapped) < end:
            raise InputError("the file became shorter while it was read", where=header.path)
        records = np.frombuffer(mapped, dtype=np.uint8, count=end - header.header_bytes,
                                offset=header.header_bytes).reshape(header.n_records, record)
        for first in range(0, header.n_records, per_block):
            count = min(per_block, header.n_records - first)
            block = np.array(records[first : first + count, first_byte : first_byte + n_bytes], order="C")
            if _DONTNEED is not None:
                start = (header.header_bytes + first * record) // mmap.PAGESIZE * mmap.PAGESIZE
                mapped.madvise(_DONTNEED, start, header.header_bytes + (first + count) * record - start)
            yield first, block
    finally:
        records = None  # no view of the mapping may outlive it
        mapped.close()


def read_record_columns(header: EdfHeader, first_byte: int, n_bytes: int) -> np.ndarray:
    """Bytes ``[first_byte, first_byte + n_bytes)`` of every data record, as (records, n_bytes) uint8."""
    out = np.empty((header.n_records, n_bytes), dtype=np.uint8)
    for first, rows in iter_record_columns(header, first_byte, n_bytes):
        out[first : first + rows.shape[0]] = rows
    return out


def _decode(rows: np.ndarray, bdf: bool) -> np.ndarray:
    """Samples of a (records, bytes) block: little-endian int16 (EDF) or 24-bit ints as int32 (BDF)."""
    if not bdf:
        return np.ascontiguousarray(rows).view("<i2").ravel()
    triples = rows.reshape(-1, 3)
    wide = np.empty((triples.shape[0], 4), dtype=np.uint8)
    wide[:, :3] = triples
    wide[:, 3] = np.where(triples[:, 2] & 0x80, 0xFF, 0)  # sign-extend 24 → 32 bits
    return wide.view("<i4").ravel()


def _record_onsets(header: EdfHeader) -> np.ndarray | None:
    """Onset (s) of each data record from the EDF+D time-keeping annotations, or None."""
    if not header.kind.endswith("+D") or not header.annotation_signals:
        return None
    tal = header.annotation_signals[0]
    width = header.sample_bytes
    block = read_record_columns(header, tal.offset * width, tal.samples_per_record * width)
    onsets = np.empty(header.n_records)
    for k, row in enumerate(block):
        text = bytes(row).split(b"\x14", 1)[0]
        try:
            onsets[k] = float(text.decode("ascii"))
        except ValueError:
            onsets[k] = np.nan
        if not np.isfinite(onsets[k]):
            raise InputError(f"EDF+D data record {k + 1} has no readable onset ({text[:20]!r})",
                             where=header.path) from None
    return onsets


class EdfRecording(Recording):
    """An opened EDF-family file. ``channels`` lists the signal channels (annotations excluded).

    Besides the :class:`Recording` interface it exposes what the published converter's
    numerics depend on: :attr:`file_rate` (the highest rate in the file, which MNE brings
    every channel to), :attr:`file_samples` (samples per channel at that rate) and
    :meth:`read_published` (physical values in MNE's units, rounded as MNE rounds them).
    """

    def __init__(self, header: EdfHeader, calibration: list[Calibration], backend: str) -> None:
        self.path = header.path
        self.header = header
        self.backend = backend
        self.kind = header.kind
        self.start_time: datetime | None = header.start_time
        self._signals = header.data_signals
        self._calibration = calibration
        self._onsets = _record_onsets(header)
        self.gaps: list[tuple[float, float]] = self._find_gaps()
        seconds = header.record_seconds
        records_span = header.n_records * seconds
        if self.gaps:
            records_span = float(self._onsets[-1] - self._onsets[0]) + seconds  # type: ignore[index]
        self.channels = [
            ChannelInfo(
                index=i,
                label=signal.label,
                rate=signal.samples_per_record / seconds,
                unit=normalise_unit(signal.unit),
                n_samples=self._n_samples(signal.samples_per_record),
                transducer=signal.transducer,
                prefilter=signal.prefilter,
                **_limits(calibration[i], signal),
            )
            for i, signal in enumerate(self._signals)
        ]
        self.duration = records_span
        max_per_record = max((s.samples_per_record for s in self._signals), default=0)
        self.file_rate = max_per_record / seconds if seconds > 0 else 0.0
        self.file_samples = self._n_samples(max_per_record) if max_per_record else 0

    # ------------------------------------------------------------------ layout
    def _find_gaps(self) -> list[tuple[float, float]]:
        if self._onsets is None:
            return []
        seconds = self.header.record_seconds
        steps = np.diff(self._onsets)
        if (steps < seconds - 1e-6).any():
            raise InputError("EDF+D data records overlap or go back in time", where=self.path)
        gaps = [(float(self._onsets[k] + seconds - self._onsets[0]), float(steps[k] - seconds))
                for k in np.flatnonzero(steps > seconds + 1e-6)]
        self._check_gaps(gaps)
        if gaps:
            log.info("%s: %d gap(s) between data records; each is filled with the sample before it",
                     self.path, len(gaps))
        return gaps

    def _check_gaps(self, gaps: list[tuple[float, float]]) -> None:
        """Refuse gaps that would turn into more held samples than the file records (each gap is
        filled with the sample before it), or a span beyond the recording limit."""
        if not gaps:
            return
        recorded = self.header.n_records * self.header.record_seconds
        span = float(self._onsets[-1] - self._onsets[0]) + self.header.record_seconds  # type: ignore[index]
        filled = span - recorded
        check_recording_seconds(span, f"its EDF+D records (with their {len(gaps)} gap(s))", where=self.path,
                                fix="split the recording at the gap, or export it as EDF+C")
        if filled > max(recorded, MAX_GAP_SECONDS):
            start, longest = max(gaps, key=lambda gap: gap[1])
            raise InputError(
                f"its EDF+D gaps last {filled:g} s in all (the longest {longest:g} s, at {start:g} s) but it holds "
                f"only {recorded:g} s of signal; filling them would make up most of the recording",
                where=self.path, fix="split the recording at the gap, or export the recorded parts as EDF+C",
            )

    def _n_samples(self, per_record: int) -> int:
        if not self.gaps:
            return self.header.n_records * per_record
        rate = per_record / self.header.record_seconds
        return round(float(self._onsets[-1] - self._onsets[0]) * rate) + per_record  # type: ignore[index]

    # ------------------------------------------------------------------ samples
    def read_digital(self, channel: int) -> np.ndarray:
        """The stored integers of ``channel`` at its own rate (int16 for EDF, int32 for BDF)."""
        signal = self._signals[channel]
        width = self.header.sample_bytes
        raw = read_record_columns(self.header, signal.offset * width, signal.samples_per_record * width)
        digital = _decode(raw, self.header.bdf)
        if self.gaps:
            digital = self._fill_gaps(digital, signal.samples_per_record)
        return digital

    def _fill_gaps(self, digital: np.ndarray, per_record: int) -> np.ndarray:
        rate = per_record / self.header.record_seconds
        starts = np.round((self._onsets - self._onsets[0]) * rate).astype(np.int64)  # type: ignore[operator]
        out = np.empty(int(starts[-1]) + per_record, dtype=digital.dtype)
        blocks = digital.reshape(-1, per_record)
        for k, start in enumerate(starts):
            out[start : start + per_record] = blocks[k]
            end = int(starts[k + 1]) if k + 1 < len(starts) else len(out)
            # Hold the last sample across the gap: no step at its start, and no invented signal.
            out[start + per_record : end] = blocks[k, -1]
        return out

    def read(self, channel: int) -> np.ndarray:
        calibration = self._calibration[channel]
        out = self.read_digital(channel) * calibration.gain
        out += calibration.offset
        return out

    def published_scale(self, channel: int) -> float:
        """MNE's unit scale for ``channel`` (1e-6 for µV written as uV/µV, 1e-3 for mV, else 1)."""
        return published_scale(self._calibration[channel].unit_as_written)

    def read_published(self, channel: int, out: np.ndarray | None = None) -> np.ndarray:
        """``(digital * gain + offset) * scale`` in float64, in MNE's order of operations.

        ``out`` (float64, ``n_samples`` long) receives the values when given, so that a
        caller can read straight into a padded buffer.
        """
        calibration = self._calibration[channel]
        scale = self.published_scale(channel)
        if out is None:
            out = np.empty(self.channels[channel].n_samples, dtype=np.float64)
        if self.gaps:
            blocks: Iterator[tuple[int, np.ndarray]] = iter([(0, self.read_digital(channel))])
            per_record = 1
        else:
            signal = self._signals[channel]
            width, per_record = self.header.sample_bytes, signal.samples_per_record
            blocks = ((first, _decode(rows, self.header.bdf))
                      for first, rows in iter_record_columns(self.header, signal.offset * width, per_record * width))
        # Block by block, so the three passes run over data still in the CPU cache.
        for first, digital in blocks:
            part = out[first * per_record : first * per_record + digital.shape[0]]
            np.multiply(digital, calibration.gain, out=part)
            part += calibration.offset
            if scale != 1.0:
                part *= scale
        return out

    def close(self) -> None:
        """Nothing to release: every read opens and closes its own handle (threads read in parallel)."""


class EdfReader(SignalReader):
    """EDF, EDF+C/D, BDF, BDF+C/D: pyedflib where it accepts the file, MNE where it does not."""

    extensions: ClassVar[tuple[str, ...]] = (".edf", ".bdf", ".rec")  # .rec: old Sleep-EDF name for EDF

    def open(self, path: Path) -> EdfRecording:
        path = Path(path)
        if not path.exists():
            raise InputError("file not found", where=path)
        if path.is_dir():
            raise InputError("is a folder, not a recording", where=path)
        header = read_edf_header(path)
        if not header.data_signals:
            what = "only annotations (an EDF+ annotation file such as a hypnogram)" if header.annotation_signals \
                else "no signals"
            raise InputError(
                f"holds no signal channels, {what}: there is nothing to preprocess",
                where=path,
                fix="pass the recording that holds the signals; hypnograms are read as labels",
            )
        if header.n_records == 0:
            raise InputError("holds no data records (0 s of signal)", where=path)
        try:
            calibration = _interpret_with_pyedflib(header)
            backend = "pyedflib"
        except OSError as refusal:
            reason = str(refusal).replace(str(path), "").strip(": ")
            log.debug("%s: pyedflib refused it (%s); reading it with MNE", path, reason)
            try:
                calibration = _interpret_with_mne(header)
            except InputError:
                raise
            except Exception as exc:  # noqa: BLE001 - any MNE failure is a refusal of this file
                raise InputError(f"neither pyedflib ({reason}) nor MNE ({exc}) can read it", where=path) from None
            backend = "mne"
        log.debug("%s: %s, %d signals, read with %s", path, header.kind, len(calibration), backend)
        return EdfRecording(header, calibration, backend)
