"""Built-in plugin: the ``cohort-edf`` adapter and the clinical commands ``run``, ``stage`` and ``risk``."""

from __future__ import annotations

import typer

from sleepfm import hookimpl
from sleepfm.hookspecs import Register


@hookimpl
def sleepfm_register_cohorts(register: Register) -> None:
    register("cohort-edf", "sleepfm.cohorts.edf_folder:EdfFolderCohort",
             description="A folder of EDF/BDF recordings; hypnograms beside them named <stem>-hypnogram.* "
             "(see docs/cohort-adapter.md).")


@hookimpl
def sleepfm_register_commands(app: typer.Typer) -> None:
    from sleepfm.clinical.cli import risk_command, run_command, stage_command

    app.command("run")(run_command)
    app.command("stage")(stage_command)
    app.command("risk")(risk_command)
