"""The built-in quality checks on synthetic channels: each flags what it is for, where it is, and
nothing on a clean channel; the flags' storage, epochs, verdicts and chunk masks."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from sleepfm import registry
from sleepfm.config.quality import BUILTIN_CHECKS, QualityConfig
from sleepfm.interfaces.modality import Modality
from sleepfm.interfaces.quality_check import ChannelSignal, QualityCheck
from sleepfm.quality.assess import CheckSet, assess_channel, collect
from sleepfm.quality.flags import QualityFlags
from sleepfm.store.signal_store import StoredChannel

RATE = 128.0
PATCH = 640


def _eeg(minutes: float = 20, seed: int = 0) -> np.ndarray:
    """EEG-like µV: 1/f-ish background with slow waves, 20 µV robust scale."""
    rng = np.random.default_rng(seed)
    n = round(minutes * 60 * RATE)
    t = np.arange(n) / RATE
    walk = np.cumsum(rng.standard_normal(n)) * 0.8
    walk -= np.convolve(walk, np.ones(256) / 256, mode="same")
    return 12 * rng.standard_normal(n) + walk + 25 * np.sin(2 * np.pi * 1.1 * t) * (np.sin(2 * np.pi * t / 300) > 0)


def _channel(physical: np.ndarray, *, label: str = "C4-M1", modality: Modality | None = Modality.BAS,
             unit: str = "µV", limits: tuple[float, float] | None = (-500.0, 500.0), rate: float = 256.0,
             known: bool = True) -> ChannelSignal:
    """A channel as the store keeps it: z-scored float16, with the map back to ``unit``."""
    values = np.clip(physical, *limits) if limits else physical
    mean, std = float(values.mean()), float(values.std()) or 1.0
    stored = ((values - mean) / std).astype(np.float16).astype(np.float32)
    return ChannelSignal.from_samples(stored, rate=RATE, name=label, label=label, modality=modality, unit=unit,
                                      original_rate=rate, scale=std if known else None,
                                      offset=mean if known else None,
                                      physical_min=limits[0] if limits and known else None,
                                      physical_max=limits[1] if limits and known else None)


def _check(name: str, **params: object) -> QualityCheck:
    cls = registry.get("quality_checks", name)
    return cls(cls.Config.model_validate(params))


def _patches(*indices: int, n: int) -> np.ndarray:
    flags = np.zeros(n, dtype=bool)
    flags[list(indices)] = True
    return flags


def test_clean_eeg_raises_no_flag_at_all() -> None:
    # (Every registered check on its own clean example: the generated quality_check_contract.)
    assert set(BUILTIN_CHECKS) <= set(registry.names("quality_checks"))
    result = assess_channel(_channel(_eeg()), CheckSet.from_config())
    assert not result.bits.any() and 1 < result.details["std_over_robust"] < 3


def test_flat_stretch_is_flagged_exactly() -> None:
    signal = _eeg()
    signal[10 * PATCH: 14 * PATCH] = 3.0  # patches 10-13: an electrode off
    flags = _check("flat").patches(_channel(signal))
    assert np.array_equal(np.flatnonzero(flags), np.arange(10, 14))


def test_slow_envelope_is_judged_over_whole_epochs() -> None:
    """A 1-Hz envelope (Sleep-EDF's chin EMG) holds 5 samples a patch: a still stretch shorter than an
    epoch is not called flat; a whole still epoch is."""
    rng = np.random.default_rng(1)
    values = np.repeat(np.abs(rng.standard_normal(20 * 60)) * 5 + 2, 128).astype(np.float64)
    values[128 * 65: 128 * 73] = 4.0  # 8 s still: not an epoch
    values[128 * 300: 128 * 330] = 4.0  # epoch 10 still
    flags = _check("flat").patches(_channel(values, label="EMG submental", modality=Modality.EMG, rate=1.0,
                                            limits=None))
    assert np.array_equal(np.flatnonzero(flags), np.arange(60, 66))


def test_level_channels_are_never_flat() -> None:
    spo2 = np.full(20 * 60 * 128, 97.0)
    channel = _channel(spo2, label="SpO2", modality=Modality.RESP, unit="%", limits=(0, 100), rate=1.0)
    assert not _check("flat").applies(channel)


def test_clipping_at_the_declared_limits_and_at_an_undeclared_rail() -> None:
    signal = _eeg()
    signal[30 * PATCH: 33 * PATCH] *= 40  # saturation: clipped at ±500 µV by the recording
    flags = _check("clipping").patches(_channel(signal))
    assert np.array_equal(np.flatnonzero(flags), np.arange(30, 33))
    # DREAMS-style: the amplifier saturates at ±327 inside a declared ±2900; three stays at the rail.
    rail = _eeg()
    for start in (5, 40, 90):
        rail[start * PATCH: start * PATCH + 200] = 327.0
    flags = _check("clipping").patches(_channel(rail, limits=(-2900.0, 2900.0)))
    assert np.array_equal(np.flatnonzero(flags), [5, 40, 90])
    # One excursion to the night's maximum is a peak, not a rail.
    rail[40 * PATCH: 40 * PATCH + 200] = 0.0
    rail[90 * PATCH: 90 * PATCH + 200] = 0.0
    assert not _check("clipping").patches(_channel(rail, limits=(-2900.0, 2900.0))).any()


def test_movement_burst_inside_one_patch() -> None:
    signal = _eeg()
    start = 77 * PATCH + 300
    t = np.arange(256) / RATE
    signal[start: start + 256] += 450 * np.sin(2 * np.pi * 1.0 * t) * np.hanning(256)
    flags = _check("high_amplitude").patches(_channel(signal))
    assert np.array_equal(np.flatnonzero(flags), [77])
    assert not _check("high_amplitude").applies(_channel(signal, label="E1-M2"))  # eye movements are signal


@pytest.mark.parametrize("mains", [50.0, 60.0])
def test_line_noise_lasting_is_flagged_a_brief_burst_is_not(mains: float) -> None:
    signal = _eeg()
    t = np.arange(signal.size) / RATE
    hum = 60 * np.sin(2 * np.pi * mains * t)
    signal[20 * PATCH: 26 * PATCH] += hum[20 * PATCH: 26 * PATCH]  # 30 s
    signal[50 * PATCH: 51 * PATCH] += hum[50 * PATCH: 51 * PATCH]  # 5 s
    flags = _check("line_noise").patches(_channel(signal))
    assert np.array_equal(np.flatnonzero(flags), np.arange(20, 26))
    assert not _check("line_noise").applies(_channel(signal, rate=32.0))  # recorded too slowly to hold it


def test_non_finite_samples() -> None:
    channel = _channel(_eeg())
    samples = channel.samples.copy()
    samples[PATCH * 7 + 3] = np.nan
    samples[PATCH * 9: PATCH * 9 + 10] = np.inf
    damaged = ChannelSignal.from_samples(samples, rate=RATE, name="C4-M1", label="C4-M1", modality=Modality.BAS,
                                         unit="µV")
    assert damaged.finite is not None and np.isfinite(damaged.samples).all()
    assert np.array_equal(np.flatnonzero(_check("non_finite").patches(damaged)), [7, 9])


def test_implausible_spo2_heart_rate_ecg_and_unit() -> None:
    check = _check("implausible")
    spo2 = np.full(20 * 60 * 128, 96.0) + np.sin(np.arange(20 * 60 * 128) / 2000)
    spo2[12 * PATCH: 15 * PATCH] = 0.0  # the probe is off
    flags = check.patches(_channel(spo2, label="SpO2", modality=Modality.RESP, unit="%", limits=(0, 100)))
    assert np.array_equal(np.flatnonzero(flags), [12, 13, 14])
    rate = np.full(20 * 60 * 128, 64.0)
    rate[30 * PATCH: 31 * PATCH] = 300.0
    flags = check.patches(_channel(rate, label="Pulse Rate", modality=Modality.RESP, unit="bpm", limits=(0, 400)))
    assert np.array_equal(np.flatnonzero(flags), [30])
    # An ECG at 60 bpm, then a flat epoch (no beat): that epoch's six patches.
    n = 20 * 60 * 128
    ecg = np.random.default_rng(0).standard_normal(n) * 0.02
    ecg[::128] += 1.0
    ecg[3 * 30 * 128: 4 * 30 * 128] = 0.0
    flags = check.patches(_channel(np.convolve(ecg, np.hanning(5), mode="same"), label="ECG",
                                   modality=Modality.EKG, unit="mV", limits=(-5, 5)))
    assert np.array_equal(np.flatnonzero(flags), np.arange(18, 24))
    # An EEG whose values are volts while its header says µV: implausible all night.
    volts = _channel(_eeg() * 1e-6, limits=(-500e-6, 500e-6))
    assert check.patches(volts).all() and not check.patches(_channel(_eeg())).any()
    assert not check.applies(_channel(_eeg(), known=False))  # a published store: no physical values


def test_zscore_dominated_by_a_few_bad_minutes() -> None:
    signal = _eeg()
    signal[: 2 * 60 * 128] *= 30  # two minutes of artifact in twenty, no clipping
    dominated = _channel(signal, limits=None)
    assert _check("zscore_dominated").patches(dominated).all()
    assert not _check("zscore_dominated").patches(_channel(_eeg(), limits=None)).any()


def test_flags_round_trip_through_a_store_and_fold_into_epochs(tmp_path: Path) -> None:
    checks = CheckSet.from_config()
    signal = _eeg()
    signal[10 * PATCH: 14 * PATCH] = 3.0
    results = [assess_channel(_channel(signal), checks), assess_channel(_channel(_eeg(seed=2), label="O2-M1"),
                                                                        checks)]
    flags = collect(["C4-M1", "O2-M1"], results, checks)
    with h5py.File(tmp_path / "s.h5", "w") as handle:
        flags.write(handle)
    with h5py.File(tmp_path / "s.h5") as handle:
        back = QualityFlags.read(handle)
    assert back is not None and back.checks == tuple(BUILTIN_CHECKS) and back.channels == ["C4-M1", "O2-M1"]
    assert np.array_equal(back.bits, flags.bits)
    epochs = back.epochs(back.by_check("flat"))
    assert np.array_equal(np.flatnonzero(epochs[0]), [1, 2]) and not epochs[1].any()
    with h5py.File(tmp_path / "bad.h5", "w") as handle:
        handle.create_dataset("sleepfm_quality/flags", data=np.zeros((2, 3), np.uint32))  # no attributes
    with h5py.File(tmp_path / "bad.h5") as handle:
        assert QualityFlags.read(handle) is None  # unreadable flags are redone, not trusted


def _judge(bad_bas: float, channels: int = 2):  # type: ignore[no-untyped-def]
    from sleepfm.quality.summary import judge

    checks = CheckSet.from_config()
    patches = 120
    bits = np.zeros((channels + 1, patches), dtype=np.uint32)
    flat_bit = np.uint32(1) << np.uint32(checks.names.index("flat"))
    for row in range(channels):
        bits[row, : round(bad_bas * patches)] = flat_bit
    names = [f"EEG{i}" for i in range(channels)] + ["ECG"]
    flags = QualityFlags(checks.names, names, bits)
    stored = [StoredChannel(name=n, label=n, modality=Modality.BAS if n != "ECG" else Modality.EKG) for n in names]
    return judge(flags, stored, QualityConfig())


def test_verdicts_and_their_reasons() -> None:
    assert _judge(0.0).verdict == "usable" and _judge(0.0).reasons == []
    degraded = _judge(0.3)
    assert degraded.verdict == "degraded" and degraded.modalities["BAS"]["usable_fraction"] == pytest.approx(0.7)
    assert "BAS usable in 70 % of the epochs" in degraded.reasons[0]
    assert any("EEG0 (BAS): bad in 30 % of the epochs, mostly flat" in r for r in degraded.reasons)
    unusable = _judge(0.75)
    assert unusable.verdict == "unusable" and "BAS usable in only 25 %" in unusable.reasons[0]


def test_chunk_masks_follow_the_fraction_of_flagged_patches(tmp_path: Path) -> None:
    from sleepfm.embedding.masking import quality_masks
    from sleepfm.store.signal_store import SignalStore
    from sleepfm.store.signal_writer import SignalStoreWriter

    checks = CheckSet.from_config()
    flat = np.uint32(1) << np.uint32(checks.names.index("flat"))
    clean = np.random.default_rng(0).standard_normal(3 * 38400).astype(np.float32)
    bits = np.zeros((2, 180), dtype=np.uint32)
    bits[0, 60:75] = flat  # a quarter of chunk 1
    bits[0, 120:130] = flat  # a sixth of chunk 2
    bits[1, :] = flat  # the second channel flat all night
    with SignalStoreWriter(tmp_path / "s.h5", rate=128.0) as writer:
        writer.add_channel("A", clean, label="A", modality=Modality.BAS)
        writer.add_channel("B", clean, label="B", modality=Modality.BAS)
        writer.quality = QualityFlags(checks.names, ["A", "B"], bits)
    with SignalStore(tmp_path / "s.h5") as store:
        channels = {Modality.BAS: ["A", "B"]}
        masks = quality_masks(store, channels, 3, 38400, QualityConfig())
        assert masks.keep[Modality.BAS].tolist() == [[True, False], [False, False], [True, False]]
        record = masks.record()
        assert record["chunks_missing"] == {"BAS": [1]} and record["masked_channels"] == {"A": [1], "B": [0, 1, 2]}
        assert record["masked_reasons"] == {"A": ["flat"], "B": ["flat"]}
        assert record["masked_fraction"] == pytest.approx(4 / 6, abs=1e-6)
        off = quality_masks(store, channels, 3, 38400, QualityConfig(mode="off"))
        assert off.keep[Modality.BAS].all() and off.record()["masked_fraction"] == 0
        strict = quality_masks(store, channels, 3, 38400, QualityConfig(mask_fraction=0.1))
        assert strict.keep[Modality.BAS][:, 0].tolist() == [True, False, False]
