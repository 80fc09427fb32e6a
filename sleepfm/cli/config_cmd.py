"""``sleepfm config validate|show``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sleepfm.cli.console import out
from sleepfm.cli.options import SetOption
from sleepfm.config import load_config
from sleepfm.config.base import dump_yaml

config_app = typer.Typer(help="Check and display workflow configs.", no_args_is_help=True)


@config_app.command("validate")
def validate_command(
    files: Annotated[list[Path], typer.Argument(help="Config files to check.", show_default=False)],
    overrides: SetOption = None,
) -> None:
    """Check config files: known keys, right types, registered components with valid parameters."""
    for path in files:
        config = load_config(path, overrides=overrides or [])
        out.print(f"[green]✓[/] {path}: valid {config.workflow} config", highlight=False)


@config_app.command("show")
def show_command(
    file: Annotated[Path, typer.Argument(help="Config file.", show_default=False)],
    overrides: SetOption = None,
) -> None:
    """Print the resolved config (defaults filled in, overrides applied) as YAML."""
    config = load_config(file, overrides=overrides or [])
    typer.echo(dump_yaml(config), nl=False)
