"""The ``run``, ``stage`` and ``risk`` commands (registered by :mod:`sleepfm.plugins.clinical`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

from sleepfm.cli import options as opt
from sleepfm.cli.console import err, error_line, warning_line
from sleepfm.cli.console import out as console
from sleepfm.cli.console import out as stdout
from sleepfm.cli.options import ConfigOption, SetOption, executor_cli
from sleepfm.cli.progress import study_progress
from sleepfm.clinical.prepare import PrepareSettings
from sleepfm.config.quality import QualityConfig
from sleepfm.errors import UsageError

PathArg = Annotated[list[Path], typer.Argument(
    help="EDF/BDF recordings, folders (searched recursively) or glob patterns.", show_default=False)]
Checkpoints = Annotated[Path, typer.Option(
    "--checkpoints", help="Folder laid out like the release's checkpoints/ (model_base/, ...).", show_default=False)]
OutDir = Annotated[Path, typer.Option("--out", "-o", help="Output folder (created if missing).", show_default=False)]
Device = Annotated[str, typer.Option("--device", help="auto, cpu or cuda.")]
ChannelMap = Annotated[Path | None, typer.Option(
    "--channel-map", help="channel_groups.json-shaped label table (default: sleepfm's label rules).",
    show_default=False)]
Formats = Annotated[list[str] | None, typer.Option(
    "--format", "-f", help="Hypnogram format(s) to write, comma-separated or repeated: csv (default), edf, nsrr, "
    "bids, yasa, edfbrowser, or a plugin's (`sleepfm plugins --kind hypnogram_writers`).", show_default=False)]
Work = Annotated[Path | None, typer.Option(
    "--work", help="Keep the signal and embedding stores here (a rerun reuses them); default: a temporary folder.",
    show_default=False)]
QualityMode = Annotated[str, typer.Option(
    "--quality", help="mask: leave channels out of the 5-min chunks where quality checks flag them; off: feed every "
    "channel (docs/quality.md).")]
Workers = Annotated[int | None, typer.Option(
    "--workers", "-j", min=1, help="Recordings preprocessed at once, while this process embeds (dask: workers of "
    "the LocalCluster).", show_default=False)]


def _notify(quiet: bool):  # type: ignore[no-untyped-def]
    """Where a command's messages go: warnings always, the step summaries unless ``--quiet``."""

    def say(message: str) -> None:
        if message.startswith("warning: "):
            warning_line(message.removeprefix("warning: "))
        elif not quiet:
            err.print(message, highlight=False, markup=False)

    return say


def _settings(device: str, channel_map: Path | None, workers: int | None,  # type: ignore[no-untyped-def]
              quality: str = "mask"):
    if device not in ("auto", "cpu", "cuda"):
        raise UsageError(f"invalid value for --device: allowed values are auto, cpu and cuda, but got {device!r}")
    if quality not in ("mask", "off"):
        raise UsageError(f"invalid value for --quality: allowed values are mask and off, but got {quality!r}")
    return PrepareSettings(device=device, channel_map=channel_map, workers=workers or 1,
                           quality=QualityConfig(mode=quality))  # type: ignore[arg-type]


def _execution(executor: str | None, scheduler: str | None, shard: str | None):  # type: ignore[no-untyped-def]
    from pydantic import ValidationError

    from sleepfm.config.base import format_validation_error
    from sleepfm.config.executor import ExecutorOptions

    given = {k: v for k, v in executor_cli(executor, scheduler, shard).items() if v is not None}
    try:
        return ExecutorOptions(**given)
    except ValidationError as exc:
        raise UsageError(f"invalid {format_validation_error(exc)[0].replace('executor:', '--executor:')}") from None


def _finish(recordings: Sequence, outputs: str, verb: str, out: Path) -> None:  # type: ignore[type-arg]

    for recording in recordings:
        if recording.ok:
            stdout.print(f"[green]✓[/] {recording.source} → {outputs.format(stem=recording.key)}", highlight=False)
        else:
            error_line(f"{recording.source}: {recording.failed_step} failed: {recording.error}")
    done = sum(r.ok for r in recordings)
    stdout.print(f"{done} of {len(recordings)} recording{'s' * (len(recordings) != 1)} {verb} → {out}",
                 highlight=False)
    if done < len(recordings):
        raise typer.Exit(1)


def stage_command(
    recordings: PathArg,
    checkpoints: Checkpoints,
    out: OutDir,
    hypnogram: Annotated[list[Path] | None, typer.Option(
        "--hypnogram", help="Scored hypnogram to compare with (one per recording, in order; any supported format).",
        show_default=False)] = None,
    hypnogram_format: Annotated[str, typer.Option(
        "--hypnogram-format", help="Label reader for --hypnogram (see `sleepfm plugins --kind label_readers`).")
    ] = "auto",
    unscored: Annotated[str, typer.Option("--unscored", help="Stage for unscored epochs of --hypnogram.")] = "UNS",
    movement: Annotated[str, typer.Option("--movement", help="Stage for movement-time epochs of --hypnogram.")
                        ] = "UNS",
    detail_5s: Annotated[bool, typer.Option("--detail-5s", help="Also write <stem>.hypnogram-5s.csv.")] = False,
    plot: Annotated[bool, typer.Option("--plot/--no-plot", help="Draw <stem>.png.")] = True,
    formats: Formats = None,
    staging_head: Annotated[Path | None, typer.Option(
        "--staging-head", help="Staging head checkpoint (e.g. a finetune run's best/) instead of "
        "<checkpoints>/model_sleep_staging.", show_default=False)] = None,
    pair: Annotated[bool, typer.Option(
        "--pair/--no-pair", help="Without --hypnogram: compare each recording with a scored hypnogram found beside "
        "it by the naming conventions (`sleepfm plugins --kind pairing_rules`).")] = True,
    accept_other_night: Annotated[bool, typer.Option(
        "--accept-other-night", help="Use a scored hypnogram dated on another day than its recording "
        "(with a warning) instead of refusing it.")] = False,
    device: Device = "auto",
    channel_map: ChannelMap = None,
    work: Work = None,
    workers: Workers = None,
    quality: QualityMode = "mask",
    executor: opt.ExecutorOption = None,
    scheduler: opt.SchedulerOption = None,
    shard: opt.ShardOption = None,
    quiet: opt.QuietOption = False,
) -> None:
    """Stage recordings: per recording a 30-s hypnogram (CSV or --format), a figure and sleep statistics."""
    from sleepfm.clinical.night import DEFAULT_FORMATS
    from sleepfm.clinical.stage import StageOptions, stage_recordings
    from sleepfm.labels.export import parse_formats, writer
    from sleepfm.labels.vocabulary import make_mapping

    mapping = make_mapping(unscored=unscored, movement=movement)
    chosen = tuple(parse_formats(formats)) or DEFAULT_FORMATS
    with study_progress("stage", quiet=quiet) as progress:
        done = stage_recordings(recordings, checkpoints, out, hypnograms=hypnogram or [],
                                hypnogram_format=hypnogram_format, mapping=mapping,
                                options=StageOptions(detail_5s=detail_5s, plot=plot, formats=chosen),
                                settings=_settings(device, channel_map, workers, quality), work=work,
                                staging_head=staging_head, execution=_execution(executor, scheduler, shard),
                                notify=_notify(quiet), on_start=progress.start,
                                on_done=lambda r: progress.advance(r.source.name), pair=pair,
                                accept_other_night=accept_other_night)
    suffixes = [writer(name).suffix for name in chosen]
    _finish(done, str(out / ("{stem}" + suffixes[0])) + "".join(f", {s}" for s in suffixes[1:])
            + (", .png" if plot else "") + ", .stats.json", "staged", out)


def risk_command(
    recordings: PathArg,
    checkpoints: Checkpoints,
    age: Annotated[str, typer.Option("--age", help="Age in years on the night (0-120).", show_default=False)],
    sex: Annotated[str, typer.Option("--sex", help="M or F.", show_default=False)],
    out: OutDir,
    labels: Annotated[Path | None, typer.Option(
        "--labels", help="label_mapping.csv (label_idx,phecode,phenotype); default: the checkpoints' own, else "
        "sleepfm's phecode table.", show_default=False)] = None,
    age_min: Annotated[float, typer.Option("--age-min", help="Age mapped to 0 by the normalisation.")] = 0.0,
    age_max: Annotated[float, typer.Option("--age-max", help="Age mapped to 1 by the normalisation.")] = 98.0,
    male: Annotated[float, typer.Option("--male", help="Covariate value for sex M.")] = 0.0,
    female: Annotated[float, typer.Option("--female", help="Covariate value for sex F.")] = 1.0,
    diagnosis_head: Annotated[Path | None, typer.Option(
        "--diagnosis-head", help="Diagnosis head checkpoint instead of <checkpoints>/model_diagnosis.",
        show_default=False)] = None,
    device: Device = "auto",
    channel_map: ChannelMap = None,
    work: Work = None,
    workers: Workers = None,
    quality: QualityMode = "mask",
    executor: opt.ExecutorOption = None,
    scheduler: opt.SchedulerOption = None,
    shard: opt.ShardOption = None,
    quiet: opt.QuietOption = False,
) -> None:
    """Disease risk: per recording the log-hazard of each phecode, highest first (docs/risk.md)."""
    from pydantic import ValidationError

    from sleepfm.clinical.risk import risk_recordings
    from sleepfm.config.demographics import DemographicsEncoding, check_age, check_sex

    years, sex_code = check_age(age), check_sex(sex)
    try:
        encoding = DemographicsEncoding(age_min=age_min, age_max=age_max, male=male, female=female)
    except ValidationError as exc:
        raise UsageError(f"invalid age normalisation: {exc.errors()[0]['msg']}",
                         fix="--age-max must be greater than --age-min") from None

    with study_progress("risk", quiet=quiet) as progress:
        done = risk_recordings(recordings, checkpoints, out, age=years, sex=sex_code, labels=labels,
                               encoding=encoding, settings=_settings(device, channel_map, workers, quality), work=work,
                               diagnosis_head=diagnosis_head, execution=_execution(executor, scheduler, shard),
                               notify=_notify(quiet), on_start=progress.start,
                               on_done=lambda r: progress.advance(r.source.name))
    _finish(done, str(out / "{stem}.risk.csv") + ", .risk.json", "with a risk table", out)


def run_command(
    folders: Annotated[list[Path] | None, typer.Argument(
        help="With --merge: the output folders of the run's shards.", show_default=False)] = None,
    plugin: Annotated[str | None, typer.Option(
        "--plugin", "-p", help="Cohort adapter (`sleepfm plugins --kind cohorts`; default cohort-edf).",
        show_default=False)] = None,
    data: Annotated[Path | None, typer.Option("--data", help="The cohort's data folder.", show_default=False)] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Output folder.", show_default=False)] = None,
    checkpoints: Annotated[Path | None, typer.Option(
        "--checkpoints", help="Folder laid out like the release's checkpoints/.", show_default=False)] = None,
    workers: Workers = None,
    device: Annotated[str | None, typer.Option("--device", help="auto, cpu or cuda.", show_default=False)] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Redo studies finished by an earlier run.")] = False,
    labels: Annotated[Path | None, typer.Option(
        "--labels", help="label_mapping.csv (label_idx,phecode,phenotype) = risk.labels; default: the checkpoints' "
        "own, else sleepfm's phecode table.", show_default=False)] = None,
    formats: Formats = None,
    executor: opt.ExecutorOption = None,
    scheduler: opt.SchedulerOption = None,
    shard: opt.ShardOption = None,
    merge: Annotated[bool, typer.Option(
        "--merge", help="Build the cohort report from the FOLDERS of a sharded run (into --out, default the "
        "first folder), computing nothing again.")] = False,
    quiet: opt.QuietOption = False,
    config: ConfigOption = None,
    overrides: SetOption = None,
) -> None:
    """Run a cohort end to end: discover, preprocess, embed, stage, evaluate, report (docs/run.md)."""
    from sleepfm.clinical.run import run_cohort
    from sleepfm.cohorts import load_cohort
    from sleepfm.config.run import resolve_run_config

    if merge or folders:
        if not (merge and folders):
            raise UsageError("folders are given only with --merge", fix="sleepfm run --merge SHARD_FOLDER...")
        return _merge(folders, out, quiet)
    cli = {"cohort": {"name": plugin} if plugin else None, "data": data, "out": out, "checkpoints": checkpoints,
           "preprocess": {"workers": workers} if workers else None, "embed": {"device": device} if device else None,
           "overwrite": True if overwrite else None, "risk": {"labels": str(labels)} if labels else None,
           **executor_cli(executor, scheduler, shard),
           "staging": {"formats": ",".join(formats)} if formats else None}
    resolved = resolve_run_config(config, cli=cli, overrides=overrides or [],
                                  cohort_defaults=lambda spec: load_cohort(spec.name, spec.params).default_config())
    cohort = load_cohort(resolved.cohort.name, resolved.cohort.params)
    with study_progress("run", quiet=quiet) as progress:
        outcome = run_cohort(resolved, cohort=cohort, notify=_notify(quiet), on_start=progress.start,
                             on_done=lambda r: progress.advance(r.key))
    done = len(outcome.records) - len(outcome.failed)
    if outcome.report:
        where = ", ".join(str(p) for p in outcome.report)
    else:
        where = (f"{resolved.out} (shard {resolved.shard}; when every shard is done: sleepfm run --merge "
                 f"{resolved.out})")
    console.print(f"{done} of {len(outcome.records)} studies completed → {where}", highlight=False)
    for record in outcome.failed:
        error_line(f"{record.id}: {record.failed_step} failed: {record.error}")
    if outcome.failed:
        raise typer.Exit(1)


def _merge(folders: list[Path], out: Path | None, quiet: bool) -> None:
    from sleepfm.clinical.run_records import merge_runs

    records, report = merge_runs(folders, out, notify=_notify(quiet))
    failed = [r for r in records if r.status != "ok"]
    console.print(f"{len(records) - len(failed)} of {len(records)} studies completed → "
                  f"{', '.join(str(p) for p in report)}", highlight=False)
    for record in failed:
        error_line(f"{record.id}: {record.failed_step} failed: {record.error}")
    if failed:
        raise typer.Exit(1)
