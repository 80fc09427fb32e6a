"""Built-in plugin: the ``cohort-edf`` and ``cohort-bids`` adapters and the commands ``run``, ``stage``, ``risk``."""

from __future__ import annotations

import typer

from sleepfm import hookimpl
from sleepfm.hookspecs import Register


@hookimpl
def sleepfm_register_cohorts(register: Register) -> None:
    register("cohort-edf", "sleepfm.cohorts.edf_folder:EdfFolderCohort",
             description="A folder of EDF/BDF recordings; hypnograms beside them named <stem>-hypnogram.* "
             "(see docs/cohort-adapter.md).")
    register("cohort-bids", "sleepfm.cohorts.bids:BidsCohort",
             description="A BIDS EEG/PSG dataset: sub-*/[ses-*/]eeg/*_eeg.edf|bdf, channel types from channels.tsv, "
             "age and sex from participants.tsv, _hypnogram.tsv or events.tsv stages (see docs/run.md).")


@hookimpl
def sleepfm_register_commands(app: typer.Typer) -> None:
    from sleepfm.clinical.cli import risk_command, run_command, stage_command

    app.command("run")(run_command)
    app.command("stage")(stage_command)
    app.command("risk")(risk_command)
