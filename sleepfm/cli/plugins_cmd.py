"""``sleepfm plugins``: what is installed, from which distribution, at which version."""

from __future__ import annotations

import json
from typing import Annotated

import typer
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

    table = Table(title="sleepfm plugins", show_lines=False)
    # Identifiers never wrap (they are copied into configs); only the description folds.
    for column in ("kind", "name", "plugin", "distribution", "version"):
        table.add_column(column, no_wrap=True)
    table.add_column("description", overflow="fold", ratio=1)
    for row in rows:
        table.add_row(*(row[c] for c in ("kind", "name", "plugin", "distribution", "version", "description")))
    out.print(table)
    if not rows:
        out.print(f"no {kind} registered")
