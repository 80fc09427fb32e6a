"""Built-in plugin: ``sleepfm evaluate staging|diagnosis`` and ``sleepfm demo``."""

from __future__ import annotations

import typer

from sleepfm import hookimpl
from sleepfm.demo.command import demo_command


@hookimpl
def sleepfm_register_commands(app: typer.Typer) -> None:
    from sleepfm.evaluate.commands import evaluate_app

    app.add_typer(evaluate_app, name="evaluate")
    app.command("demo")(demo_command)
