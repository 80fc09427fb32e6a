"""Built-in plugin: hypnogram readers (EDF+, NSRR XML, Profusion, DREAMS, SLPDB, CSV, BIDS, EDFbrowser),
hypnogram writers (EDF+, NSRR XML, BIDS, YASA, EDFbrowser, CSV) and ``hypnogram``."""

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
    ("bids-tsv", "sleepfm.labels.bids_tsv:BidsTsvReader",
     "BIDS sleep staging: _hypnogram.tsv (onset, duration, stage) or stage rows of an events.tsv."),
    ("edfbrowser", "sleepfm.labels.edfbrowser:EdfBrowserReader",
     "EDFbrowser annotation export (Onset,Duration,Annotation; onsets in seconds from the file start)."),
)

_WRITERS: tuple[tuple[str, str, str], ...] = (
    ("csv", "sleepfm.labels.csv_tables:EpochCsvWriter",
     "sleepfm epoch table: onset, duration, clock_time, stage and stage probabilities per epoch (.csv)."),
    ("edf", "sleepfm.labels.edf_annotations:EdfAnnotationWriter",
     "EDF+C annotation file without signals: 'Sleep stage W/N1/N2/N3/R/?' per epoch at the recording's "
     "start (.edf)."),
    ("nsrr", "sleepfm.labels.nsrr_xml:NsrrXmlWriter",
     "NSRR XML (PSGAnnotation/ScoredEvents): run-length Stages|Stages events and the clock start (.xml)."),
    ("bids", "sleepfm.labels.bids_tsv:BidsTsvWriter",
     "BIDS sleep extension: _hypnogram.tsv (onset, duration, stage) and a JSON sidecar naming the scorer."),
    ("yasa", "sleepfm.labels.yasa_table:YasaTableWriter",
     "YASA-compatible table: WAKE/N1/N2/N3/REM/UNS per epoch with stage probabilities (.yasa.csv)."),
    ("edfbrowser", "sleepfm.labels.edfbrowser:EdfBrowserWriter",
     "EDFbrowser annotation list: Onset,Duration,Annotation, one 'Sleep stage X' per epoch (_annotations.txt)."),
)


@hookimpl
def sleepfm_register_label_readers(register):  # type: ignore[no-untyped-def]
    for name, target, description in _READERS:
        register(name, target, description=description)


@hookimpl
def sleepfm_register_hypnogram_writers(register):  # type: ignore[no-untyped-def]
    for name, target, description in _WRITERS:
        register(name, target, description=description)


@hookimpl
def sleepfm_register_commands(app: typer.Typer) -> None:
    from sleepfm.cli.hypnogram_cmd import hypnogram_command

    app.command("hypnogram")(hypnogram_command)
