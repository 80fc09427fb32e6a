"""``sleepfm channels FILE...``: what each channel is, and which rule said so."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from sleepfm.cli.console import error_line, out, warning_line
from sleepfm.errors import SleepfmError
from sleepfm.map import make_mapper
from sleepfm.map.rules import RulesMapper
from sleepfm.read import read_recording
from sleepfm.read.discover import STORE_SUFFIXES, find_recordings
from sleepfm.store.signal_names import dataset_names


def describe_file(path: Path, mapper_name: str | None, channel_map: Path | None) -> list[dict[str, Any]]:
    """One dict per channel of a recording or a signal store: name, label, rate, unit, modality, rule."""
    mapper = make_mapper("table", channel_map) if channel_map is not None else \
        make_mapper(mapper_name) if mapper_name else None
    if path.suffix.lower() in (".h5", ".hdf5"):
        from sleepfm.store.signal_store import SignalStore

        if mapper is None:
            with SignalStore(path) as store:
                # A published file stores no modalities: map its names as embedding would.
                mapper = RulesMapper() if store.published else None
        with SignalStore(path, mapper=mapper) as store:
            return [
                {"name": c.name, "label": c.label, "rate": store.rate, "original_rate": c.original_rate,
                 "unit": c.unit, "modality": c.modality.value if c.modality else None, "rule": c.rule}
                for c in store.channels
            ]

    mapper = (mapper or make_mapper("rules")).for_recording(path)
    with read_recording(path) as recording:
        names = dataset_names([c.label for c in recording.channels])
        decisions = mapper.assign(names)
        return [
            {"name": name, "label": info.label, "rate": info.rate, "original_rate": info.rate, "unit": info.unit,
             "modality": d.modality.value if d.modality else None, "rule": d.rule, "reason": d.reason}
            for name, info, d in zip(names, recording.channels, decisions, strict=True)
        ]


_COLUMNS = ("dataset", "label", "rate (Hz)", "unit", "modality", "rule")


def _rate(row: dict[str, Any]) -> float:
    return row["original_rate"] if row["original_rate"] is not None else row["rate"]


def channels_command(
    files: Annotated[list[Path], typer.Argument(
        help="EDF/BDF recordings or .h5 signal stores: files, folders (searched recursively) or glob patterns.",
        show_default=False)],
    mapper: Annotated[str | None, typer.Option("--mapper", "-m",
                                               help="Channel mapper (default: rules; stores: their own attributes).",
                                               show_default=False)] = None,
    channel_map: Annotated[Path | None, typer.Option("--channel-map", help="JSON of the published table shape.",
                                                     show_default=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List each channel: label, rate, unit, modality (or unmapped) and the rule that decided."""
    from rich.table import Table


    found = find_recordings(files, also=STORE_SUFFIXES)  # files, folders and patterns alike
    if (note := found.set_aside_note()) is not None:

        warning_line(note)
    failed = 0
    payload = {}
    for path in found.recordings:
        try:
            rows = describe_file(path, mapper, channel_map)
        except SleepfmError as exc:
            error_line(str(exc))
            failed += 1
            continue
        payload[str(path)] = rows
        if as_json:
            continue
        cells = [
            (row["name"], row["label"], f"{_rate(row):g}", row["unit"] or "", row["modality"] or "unmapped",
             row["rule"] + (f" — {row['reason']}" if row.get("reason") else ""))
            for row in rows
        ]
        if not out.is_terminal:
            # Piped or redirected: one tab-separated line per channel, easy to grep and cut.
            typer.echo(f"# {path}: {len(rows)} channels")
            typer.echo("\t".join(_COLUMNS))
            for line in cells:
                typer.echo("\t".join(line))
            continue
        table = Table(title=f"{path} — {len(rows)} channels", title_justify="left")
        for column in _COLUMNS:
            table.add_column(column, no_wrap=column != "rule", overflow="fold")
        for line in cells:
            table.add_row(*line, style="dim" if line[4] == "unmapped" else None)
        out.print(table, highlight=False)
    if as_json:
        typer.echo(json.dumps(payload, indent=2, ensure_ascii=False))
    if failed:
        raise typer.Exit(1)
