"""Built-in plugin: the ``cohort-edf`` and ``cohort-bids`` adapters, the hypnogram pairing rules and the
commands ``run``, ``stage``, ``risk``."""

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


_PAIRING_RULES: tuple[tuple[str, str, str], ...] = (
    ("sleep-edf", "SleepEdfRule", "Sleep-EDF: SC4001E0-PSG.edf <-> SC4001EC-Hypnogram.edf (first 7 characters)."),
    ("dreams", "DreamsRule", "DREAMS: excerpt3.edf <-> Hypnogram_excerpt3.txt (or HypnogramAASM_, HypnogramR&K_)."),
    ("nsrr", "NsrrRule", "NSRR: <stem>.edf <-> <stem>-nsrr.xml."),
    ("profusion", "ProfusionRule", "NSRR: <stem>.edf <-> <stem>-profusion.xml."),
    ("hmc", "HmcRule", "HMC: SN001.edf <-> SN001_sleepscoring.edf."),
    ("marked", "MarkedRule", "<stem>-hypnogram.*, <stem>.stages.*, <stem>_scoring.* and the like (any separator)."),
    ("same-stem", "SameStemRule", "<stem>.xml, <stem>.csv, <stem>.txt or <stem>.an beside <stem>.edf."),
)


@hookimpl
def sleepfm_register_pairing_rules(register: Register) -> None:
    for name, attribute, description in _PAIRING_RULES:
        register(name, f"sleepfm.cohorts.pairing_rules:{attribute}", description=description)


@hookimpl
def sleepfm_register_commands(app: typer.Typer) -> None:
    from sleepfm.clinical.cli import risk_command, run_command, stage_command

    app.command("run")(run_command)
    app.command("stage")(stage_command)
    app.command("risk")(risk_command)
