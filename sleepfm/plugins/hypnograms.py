"""Built-in plugin: hypnogram readers (EDF+, NSRR XML, Profusion, DREAMS, SLPDB, CSV) and ``hypnogram``."""

from __future__ import annotations

import typer

from sleepfm import hookimpl

_READERS: tuple[tuple[str, str, str], ...] = (
    ("edf", "sleepfm.labels.edf_annotations:EdfAnnotationReader",
     "EDF+/BDF+ stage annotations: Sleep-EDF R&K (Sleep stage W/1/2/3/4/R/?) and AASM (HMC, W/N1/N2/N3/R)."),
    ("nsrr-xml", "sleepfm.labels.nsrr_xml:NsrrXmlReader",
     "NSRR standardised XML (PSGAnnotation): run-length Stages|Stages events, respiratory/arousal events."),
    ("profusion-xml", "sleepfm.labels.nsrr_xml:ProfusionXmlReader",
     "Compumedics Profusion XML (CMPStudyConfig): SleepStage integers per epoch, ScoredEvents."),
    ("dreams", "sleepfm.labels.dreams:DreamsReader",
     "DREAMS text hypnogram, 5-s epochs; R&K or AASM codes from the header or file name."),
    ("dreams-rk", "sleepfm.labels.dreams:DreamsRkReader",
     "DREAMS text hypnogram forced to R&K codes (5 W, 4 REM, 3 S1, 2 S2, 1 S3, 0 S4)."),
    ("dreams-aasm", "sleepfm.labels.dreams:DreamsAasmReader",
     "DREAMS text hypnogram forced to AASM codes (5 W, 4 REM, 3 N1, 2 N2, 1 N3)."),
    ("slpdb", "sleepfm.labels.slpdb:SlpdbReader",
     "MIT-BIH SLPDB rdann text dump (.an): stage per 30-s epoch, apnea/arousal tokens as events."),
    ("published-csv", "sleepfm.labels.csv_tables:PublishedCsvReader",
     "Published SleepFM label CSV (Start,Stop,StageName,StageNumber), 5-s rows, -1 Unknown."),
    ("epoch-csv", "sleepfm.labels.csv_tables:EpochCsvReader",
     "sleepfm epoch table (onset,duration,stage) as written by `sleepfm hypnogram`."),
)


@hookimpl
def sleepfm_register_label_readers(register):  # type: ignore[no-untyped-def]
    for name, target, description in _READERS:
        register(name, target, description=description)


@hookimpl
def sleepfm_register_commands(app: typer.Typer) -> None:
    from sleepfm.cli.hypnogram_cmd import hypnogram_command

    app.command("hypnogram")(hypnogram_command)
