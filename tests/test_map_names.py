"""Dataset names for labels: MNE's names where the published converter could write them, HDF5-safe always."""

from __future__ import annotations

from pathlib import Path

import h5py
import mne
import numpy as np

from sleepfm.interfaces.modality import Modality
from sleepfm.map.table import TableMapper
from sleepfm.read.edf_writer import set_header_field, synthetic_recording
from sleepfm.store.signal_names import dataset_names, mne_unique_names
from sleepfm.store.signal_store import SignalStore


def test_repeated_labels_are_named_as_mne_names_them(tmp_path: Path) -> None:
    labels = ["ECG", "SpO2", "ECG", "SpO2", "EEG", "ECG", "EEG-1", "EEG"]
    path = synthetic_recording(tmp_path / "dup.edf", 2, dict.fromkeys([f"{i}" for i in range(len(labels))], 10.0))
    # Relabel in place: synthetic_recording takes a dict, so labels were unique placeholders.
    for i, label in enumerate(labels):
        set_header_field(path, "label", label, signal=i)
    published = mne.io.read_raw_edf(path, verbose="error").ch_names
    assert dataset_names(labels) == published == mne_unique_names(labels)
    assert published[:4] == ["ECG-0", "SpO2-0", "ECG-1", "SpO2-1"]


def test_slashes_empty_and_dot_labels_become_safe_unique_names() -> None:
    names = dataset_names(["F3/A2", "F3-A2", "", " C4/M1 ", ".", "LEG/L", "LEG/L"])
    assert names == ["F3-A2-1", "F3-A2", "channel-3", "C4-M1", "._", "LEG-L-0", "LEG-L-1"]
    assert len(set(names)) == len(names) and not any("/" in n for n in names)


def test_published_style_names_read_back_and_map(tmp_path: Path) -> None:
    path = tmp_path / "published.hdf5"
    with h5py.File(path, "w") as handle:  # the published converter's layout: names only, no attributes
        for name in ("EEG-0", "EEG-1", "SpO2-0", "ECGI-1"):
            handle.create_dataset(name, data=np.zeros(38400, dtype=np.float16), chunks=(38400,), compression="gzip")
    mapper = TableMapper(table={"SpO2-0": Modality.RESP, "ECGI-1": Modality.EKG})
    with SignalStore(path, mapper=mapper) as store:
        assert store.published and [c.name for c in store.channels] == ["ECGI-1", "EEG-0", "EEG-1", "SpO2-0"]
        assert [c.modality.value if c.modality else None for c in store.channels] == ["EKG", None, None, "RESP"]

