"""Built-in plugin: signal ingestion (readers, channel mappers, ``preprocess``, ``channels``)."""

from __future__ import annotations

import typer

from sleepfm import hookimpl


@hookimpl
def sleepfm_register_readers(register):  # type: ignore[no-untyped-def]
    register(
        "edf",
        "sleepfm.read.edf:EdfReader",
        description="EDF, EDF+C/D, BDF and BDF+C/D (pyedflib, with MNE for files pyedflib refuses).",
    )


@hookimpl
def sleepfm_register_channel_mappers(register):  # type: ignore[no-untyped-def]
    register(
        "table",
        "sleepfm.map.table:TableMapper",
        description="Exact label lookup in a JSON table of the published channel_groups.json shape.",
    )
    register("rules", "sleepfm.map.rules:RulesMapper",
             description="Label rules for BAS, RESP, EKG and EMG (the default).")
    register("bids-channels", "sleepfm.map.bids_channels:BidsChannelsMapper",
             description="Modalities from the BIDS channels.tsv type column beside each recording (EEG/EOG, ECG, "
             "EMG, RESP); MISC and others by label rules.")
    register("bas", "sleepfm.map.rules:BasMapper", description="Label rules for BAS (EEG, EOG) only.")
    register("resp", "sleepfm.map.rules:RespMapper",
             description="Label rules for RESP (effort, airflow, oximetry, pulse, snore) only.")
    register("ekg", "sleepfm.map.rules:EkgMapper", description="Label rules for EKG (ECG leads) only.")
    register("emg", "sleepfm.map.rules:EmgMapper", description="Label rules for EMG (chin, legs, arms) only.")


@hookimpl
def sleepfm_register_commands(app: typer.Typer) -> None:
    from sleepfm.cli.channels_cmd import channels_command
    from sleepfm.cli.preprocess_cmd import preprocess_command

    app.command("preprocess")(preprocess_command)
    app.command("channels")(channels_command)
