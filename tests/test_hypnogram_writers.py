"""Registry-generated round trips (the contract of the ``hypnogram_writers`` kind): every registered
writer — sleepfm's and any installed plugin's — renders a night with every stage, unscored epochs,
an onset after the recording start and stage probabilities; its files are written, and the label
reader it names reads them back with the same stages, epoch length, onset and (for formats that
record it) clock start. A writer added by a plugin is tested here without anyone writing a test.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sleepfm import registry
from sleepfm.interfaces.hypnogram_writer import HypnogramExport, HypnogramWriter
from sleepfm.labels import detect_format, read_hypnogram
from sleepfm.labels.export import write_files
from sleepfm.labels.hypnogram import Hypnogram, Stage

from .helpers_hypnograms import STAGES, night


def check_writer(name: str, folder: Path, export: HypnogramExport) -> Hypnogram | None:
    """Render, write and read back one registered writer's export; returns what the reader read."""
    writer: HypnogramWriter = registry.get("hypnogram_writers", name)()
    assert writer.suffix and writer.extensions, f"{name}: a writer declares its suffix and file-name endings"
    target = f"night{writer.suffix}"
    files = writer.render(export, target)
    assert next(iter(files)) == target, f"{name}: the named file comes first"
    assert all(isinstance(data, bytes) and data for data in files.values())
    written = write_files(folder, files)
    assert [p.name for p in written] == list(files)
    if writer.reader is None:
        return None
    assert writer.reader in registry.names("label_readers"), f"{name}: reader {writer.reader!r} is not registered"
    path = folder / target
    assert detect_format(path) == writer.reader, f"{name}: auto-detection must find the writer's own reader"
    back = read_hypnogram(path, fmt=writer.reader)
    original = export.hypnogram
    np.testing.assert_array_equal(back.stages, original.stages, err_msg=name)
    assert back.epoch_seconds == original.epoch_seconds
    assert back.onset == pytest.approx(original.onset, abs=1e-6)
    if writer.keeps_start_time and original.start_time is not None:
        assert back.start_time == original.start_time
    return back


CASES = registry.names("hypnogram_writers")


@pytest.mark.parametrize("name", CASES)
def test_registered_writer_round_trips(name: str, tmp_path: Path) -> None:
    check_writer(name, tmp_path, night())


@pytest.mark.parametrize("name", CASES)
def test_registered_writer_round_trips_without_start_or_probabilities(name: str, tmp_path: Path) -> None:
    check_writer(name, tmp_path, night(start=None, onset=0.0, probabilities=False))


def test_every_builtin_format_is_registered() -> None:
    assert {"csv", "edf", "nsrr", "bids", "yasa", "edfbrowser"} <= set(CASES)


def _writer_plugin(name: str, rows: str) -> str:
    """A plugin registering writer ``name``, whose ``rows`` slice of epochs it writes as an epoch CSV."""
    return f'''
        from sleepfm.plugin import HypnogramWriter, hookimpl

        NAMES = {{-1: "UNS", 0: "W", 1: "N1", 2: "N2", 3: "N3", 4: "REM"}}

        class PluginWriter(HypnogramWriter):
            """onset,duration,stage rows (read back by sleepfm's epoch-csv reader)."""
            extensions = (".{name}.csv",)
            suffix = ".{name}.csv"
            reader = "epoch-csv"

            def render(self, export, name):
                epochs = list(zip(export.onsets, export.hypnogram.stages))[{rows}]
                lines = ["onset,duration,stage"] + [f"{{o:g}},30,{{NAMES[int(s)]}}" for o, s in epochs]
                return {{name: ("\\n".join(lines) + "\\n").encode()}}

        @hookimpl
        def sleepfm_register_hypnogram_writers(register):
            register("{name}", PluginWriter)
    '''


def test_a_third_party_writer_goes_through_the_same_round_trip(make_plugin, tmp_path: Path) -> None:
    make_plugin("sleepfm-writer-compact", _writer_plugin("compact", ":"))
    registry.reset_registry()
    assert registry.entry("hypnogram_writers", "compact").plugin.distribution == "sleepfm-writer-compact"
    check_writer("compact", tmp_path, night())


def test_a_writer_that_loses_an_epoch_fails_the_round_trip(make_plugin, tmp_path: Path) -> None:
    # The contract can fail: a plugin writer dropping the last epoch is caught.
    make_plugin("sleepfm-writer-lossy", _writer_plugin("lossy", ":-1"))
    registry.reset_registry()
    with pytest.raises(AssertionError, match="lossy"):
        check_writer("lossy", tmp_path, night())


def test_stage_codes_cover_every_stage() -> None:
    assert set(STAGES) == {s.value for s in Stage}
