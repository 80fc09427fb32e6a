"""``sleepfm hypnogram``: any supported hypnogram → 30-s epochs in any registered format (plus events,
statistics, plot)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sleepfm.cli.console import out as console
from sleepfm.errors import UsageError
from sleepfm.json_output import write_json

_STAGE_HELP = "Stage for {what} epochs: W, N1, N2, N3, REM or UNS (left out of metrics)."


def hypnogram_command(
    file: Annotated[Path, typer.Argument(help="Hypnogram file (EDF+, NSRR/Profusion XML, DREAMS, SLPDB .an, CSV).",
                                         show_default=False)],
    out: Annotated[Path, typer.Option(
        "--out", "-o", help="Output file: 30-s epochs in the format --to names, or the one its name says "
        "(.csv, .hypnogram.edf, -nsrr.xml, _hypnogram.tsv, .yasa.csv, _annotations.txt).", show_default=False)],
    fmt: Annotated[str, typer.Option(
        "--format", "-f", help="Reader name (see `sleepfm plugins --kind label_readers`) or auto.")] = "auto",
    to: Annotated[str, typer.Option(
        "--to", "-t", help="Writer name (see `sleepfm plugins --kind hypnogram_writers`) or auto: from --out's "
        "name.")] = "auto",
    unscored: Annotated[str, typer.Option("--unscored", help=_STAGE_HELP.format(what="unscored"))] = "UNS",
    movement: Annotated[str, typer.Option("--movement", help=_STAGE_HELP.format(what="movement-time"))] = "UNS",
    artefact: Annotated[str, typer.Option("--artefact", help=_STAGE_HELP.format(what="artefact"))] = "UNS",
    events: Annotated[Path | None, typer.Option("--events", help="Also write the event table (CSV).",
                                                show_default=False)] = None,
    stats: Annotated[Path | None, typer.Option("--stats", help="Also write sleep statistics (JSON).",
                                               show_default=False)] = None,
    plot: Annotated[Path | None, typer.Option("--plot", help="Also draw the hypnogram (PNG).",
                                              show_default=False)] = None,
    lights_off: Annotated[str | None, typer.Option(
        "--lights-off", help="Start of the statistics window: seconds or HH:MM[:SS] (default: from the file's "
        "'lights off' event, else the first scored epoch).", show_default=False)] = None,
    lights_on: Annotated[str | None, typer.Option(
        "--lights-on", help="End of the statistics window, likewise.", show_default=False)] = None,
) -> None:
    """Convert a scored hypnogram to 30-s epochs (W, N1, N2, N3, REM or UNS) in any registered format."""
    from sleepfm.interfaces.hypnogram_writer import HypnogramExport
    from sleepfm.labels import read_hypnogram
    from sleepfm.labels.export import write_files, writer_for
    from sleepfm.labels.vocabulary import make_mapping

    outputs = [p for p in (out, events, stats, plot) if p is not None]
    if file.exists() and any(p.resolve() == file.resolve() for p in outputs):
        raise UsageError("an output path is the input file", where=file,
                         fix="choose another --out/--events/--stats/--plot")
    if folders := [str(p) for p in outputs if p.is_dir()]:
        raise UsageError(f"output {folders[0]} is a folder", fix="give a file name")
    if len({p.resolve() for p in outputs}) < len(outputs):
        raise UsageError("two outputs share one path", fix="give --out, --events, --stats and --plot distinct files")

    writer_name, writer = writer_for(out, to)
    if stats is None and (lights_off is not None or lights_on is not None):
        raise UsageError("--lights-off/--lights-on bound the statistics window", fix="add --stats FILE")
    mapping = make_mapping(unscored=unscored, movement=movement, artefact=artefact)
    hypnogram = read_hypnogram(file, fmt=fmt, mapping=mapping).to_30s()

    # Everything is computed before anything is written, so bad input leaves no output at all.
    export = HypnogramExport(hypnogram, scorer=file.name, provenance={"source": str(file), "reader": fmt})
    files = writer.render(export, out.name)
    if sidecars := [out.parent / name for name in list(files)[1:]
                    if (out.parent / name).resolve() in {p.resolve() for p in (file, *outputs)}]:
        raise UsageError(f"the {writer_name} sidecar {sidecars[0]} is the input or another output",
                         fix="choose other file names")
    statistics = png = None
    if stats is not None:
        from sleepfm.report.sleep_stats import lights_from_events, seconds_from_start, sleep_statistics

        off, on = lights_from_events(hypnogram)
        if lights_off is not None:
            off = seconds_from_start(lights_off, hypnogram.start_time)
        if lights_on is not None:
            on = seconds_from_start(lights_on, hypnogram.start_time)
        statistics = sleep_statistics(hypnogram, lights_off=off, lights_on=on).as_dict()
    if plot is not None:
        from sleepfm.report.hypnogram_plot import render_hypnogram

        png = render_hypnogram(hypnogram, title=file.name)

    written = write_files(out.parent, files)
    if events is not None:
        from sleepfm.labels.csv_tables import write_events_csv

        write_events_csv(hypnogram, events)
    if stats is not None:
        write_json(stats, statistics)
    if plot is not None and png is not None:
        from sleepfm.report.hypnogram_plot import write_png

        write_png(png, plot)

    counts = ", ".join(f"{name} {count}" for name, count in hypnogram.counts().items())
    also = f" (+ {', '.join(p.name for p in written[1:])})" if len(written) > 1 else ""
    console.print(f"{out}{also}: {writer_name}, {hypnogram.n_epochs} epochs of 30 s ({counts}); "
                  f"{len(hypnogram.events)} events", highlight=False)
