"""sleepfm plugin: the ``cohort-shhs`` adapter (Sleep Heart Health Study, NSRR layout)."""

from __future__ import annotations

from sleepfm.plugin import hookimpl

__version__ = "0.1.0"


@hookimpl
def sleepfm_register_cohorts(register):  # type: ignore[no-untyped-def]
    # An import string: `sleepfm plugins` lists the adapter without importing pandas.
    register(
        "cohort-shhs",
        "sleepfm_cohort_shhs.cohort:ShhsCohort",
        description="Sleep Heart Health Study (NSRR): shhs1-<id>.edf + shhs1-<id>-nsrr.xml, SHHS channels, "
        "age/gender and CVD outcomes.",
    )
