"""sleepfm plugin: the ``cohort-sleepedf`` adapter (PhysioNet Sleep-EDF Expanded)."""

from __future__ import annotations

from sleepfm.plugin import hookimpl

__version__ = "0.1.0"


@hookimpl
def sleepfm_register_cohorts(register):  # type: ignore[no-untyped-def]
    register(
        "cohort-sleepedf",
        "sleepfm_cohort_sleepedf.cohort:SleepEdfCohort",
        description="PhysioNet Sleep-EDF Expanded: SC4ssNE0-PSG.edf paired with SC4ssNEx-Hypnogram.edf (and ST7...).",
    )
