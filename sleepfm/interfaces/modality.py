"""The four SleepFM modalities, in the order every model loop uses them."""

from __future__ import annotations

from enum import Enum


class Modality(str, Enum):
    """A group of PSG channels embedded together.

    ``BAS`` brain activity (EEG and EOG), ``RESP`` respiration (effort belts, airflow,
    oximetry, snore), ``EKG`` electrocardiogram, ``EMG`` muscle (chin, legs, arms).
    """

    BAS = "BAS"
    RESP = "RESP"
    EKG = "EKG"
    EMG = "EMG"

    def __str__(self) -> str:
        return self.value


#: The published order (config ``modality_types``): inputs to heads are stacked this way.
MODALITIES: tuple[Modality, ...] = (Modality.BAS, Modality.RESP, Modality.EKG, Modality.EMG)
