"""Built-in plugin: the commands every installation has (``plugins``, ``config``)."""

from __future__ import annotations

import typer

from sleepfm import hookimpl


@hookimpl
def sleepfm_register_commands(app: typer.Typer) -> None:
    from sleepfm.cli.config_cmd import config_app
    from sleepfm.cli.plugins_cmd import plugins_command

    app.command("plugins")(plugins_command)
    app.add_typer(config_app, name="config")
