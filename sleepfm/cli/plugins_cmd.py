"""``sleepfm plugins``: what is installed, from which distribution, at which version."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from sleepfm.cli.console import out
from sleepfm.registry import COMMANDS, KINDS, check_kind, get_registry


def plugins_command(
    kind: Annotated[
        str | None,
        typer.Option("--kind", "-k", help=f"Only this kind: {', '.join([*KINDS, COMMANDS])}.", show_default=False),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List registered components: kind, name, plugin, distribution, version, description."""
    registry = get_registry()
    if kind is not None:
        check_kind(kind, allow_commands=True)
    rows = []
    if kind in (None, COMMANDS):
        rows += [
            {
                "kind": COMMANDS,
                "name": name,
                "plugin": info.name,
                "distribution": info.distribution,
                "version": info.version,
                "description": description,
            }
            for name, info, description in registry.commands
        ]
    if kind != COMMANDS:
        rows = [entry.as_dict() for entry in registry.entries(kind)] + rows

    if as_json:
        payload = {
            "kinds": [*KINDS, COMMANDS],
            "components": rows,
            "plugins": [
                {"name": p.name, "module": p.module, "distribution": p.distribution, "version": p.version}
                for p in registry.plugins.values()
            ],
            "failures": [str(f) for f in registry.failures],
        }
        typer.echo(json.dumps(payload, indent=2, ensure_ascii=False))
        return

    columns = ("kind", "name", "plugin", "distribution", "version", "description")
    table = Table(title="sleepfm plugins", show_lines=False)
    # Identifiers are copied into configs, so they fold rather than lose characters to "…"
    # on a narrow terminal; the description takes whatever width is left.
    for column in columns[:-1]:
        widest = max((len(row[column]) for row in rows), default=len(column))
        table.add_column(column, overflow="fold", min_width=min(widest, 24))
    table.add_column("description", overflow="fold", ratio=1)
    for row in rows:
        table.add_row(*(row[c] for c in columns))
    # Piped into a file or grep, the table keeps its natural width instead of 80 columns.
    console = out if out.is_terminal else Console(width=max(out.width, 240), soft_wrap=True)
    console.print(table)
    if not rows:
        out.print(f"no {kind} registered")
