"""Built-in plugin: the ``cohort-edf`` adapter and the clinical commands ``run``, ``stage`` and ``risk``."""

from __future__ import annotations

from sleepfm import hookimpl
from sleepfm.hookspecs import Register


@hookimpl
def sleepfm_register_cohorts(register: Register) -> None:
    register("cohort-edf", "sleepfm.cohorts.edf_folder:EdfFolderCohort",
             description="A folder of EDF/BDF recordings; hypnograms beside them named <stem>-hypnogram.* "
             "(see docs/cohort-adapter.md).")
