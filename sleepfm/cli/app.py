"""Builds the typer application from plugins and runs it with sleepfm's error contract:
one line on stderr, exit code 2 for usage errors and 1 for failures, a traceback only
with ``--debug`` (or ``SLEEPFM_DEBUG=1``).
"""

from __future__ import annotations

import logging
import os
import re
import sys
import warnings
from collections.abc import Sequence
from typing import Annotated

import click
import typer

from sleepfm import __version__
from sleepfm.cli.console import err, error_line, warning_line
from sleepfm.errors import SleepfmError, SleepfmWarning
from sleepfm.registry import PluginWarning, get_registry
from sleepfm.warnings_log import warnings_to_log

# Recent typer releases vendor click (typer._click); catch both its and click's classes.
_USAGE_ERRORS = tuple({click.UsageError, *(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")})
_EXITS = tuple({click.exceptions.Exit, typer.Exit})
_ABORTS = tuple({click.exceptions.Abort, typer.Abort})


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"sleepfm {__version__}")
        raise typer.Exit()


def build_app() -> typer.Typer:
    """A fresh ``sleepfm`` app with every plugin's commands added."""
    app = typer.Typer(
        name="sleepfm",
        help="SleepFM sleep foundation model toolkit: PSG → embeddings → staging and disease risk.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode="rich",
        context_settings={"help_option_names": ["-h", "--help"]},
    )

    @app.callback()
    def root(
        version: Annotated[
            bool,
            typer.Option("--version", callback=_version_callback, is_eager=True, help="Print the version and exit."),
        ] = False,
        debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks and debug logs.")] = False,
        verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show info logs.")] = False,
    ) -> None:
        level = logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING
        _configure_logging(level)

    get_registry().add_commands(app)
    return app


def _configure_logging(level: int) -> None:
    from rich.logging import RichHandler


    logger = logging.getLogger("sleepfm")
    logger.handlers[:] = [RichHandler(console=err, show_path=False, show_time=False)]
    logger.setLevel(level)


def _debug_requested(argv: Sequence[str]) -> bool:
    return "--debug" in argv or os.environ.get("SLEEPFM_DEBUG", "") not in ("", "0")


def _user_warning(message: Warning | str, category: type[Warning]) -> bool:
    """Warnings meant for users (a plugin skipped, an input's problem) become one ``warning:``
    line; the others go to the debug log (:mod:`sleepfm.warnings_log`)."""
    if issubclass(category, PluginWarning | SleepfmWarning):
        warning_line(str(message))
        return True
    return False


def _plain_type(param: click.Parameter) -> None:
    shown = getattr(param, "display_type_rich", None)
    if shown is None:
        return

    def plain(ctx: click.Context) -> str | None:
        text = shown(ctx)
        if text is None or getattr(param, "is_bool_flag", False):
            return None if text is None else ""
        return re.sub(r"<list\[(\w+)\]>", lambda m: f"<{m[1].lower()}>", text).replace("<Path>", "<path>")

    param.display_type_rich = plain  # type: ignore[attr-defined]


def _plain_type_names(command: click.Command) -> None:
    """Help shows a flag without a type and a repeatable option or argument by its item type
    (``<path>``, not ``<bool>`` or ``<list[Path]>``); recent typer releases print the Python type."""
    for param in command.params:
        _plain_type(param)
    make_help_option = command.get_help_option

    def help_option(ctx: click.Context) -> click.Option | None:
        option = make_help_option(ctx)
        if option is not None:
            _plain_type(option)
        return option

    command.get_help_option = help_option  # type: ignore[method-assign]
    for sub in getattr(command, "commands", {}).values():
        _plain_type_names(sub)


def _missing_command(exc: click.UsageError) -> str:
    """The line for a group (or a command) called without what it needs; typer has printed its help."""
    assert exc.ctx is not None
    command = exc.ctx.command
    names = sorted(getattr(command, "commands", {}))
    if names:
        return f"{exc.ctx.command_path}: missing command — choose one of: {', '.join(names)}"
    return f"{exc.ctx.command_path}: missing arguments — see `{exc.ctx.command_path} --help`"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (the console script passes it to ``sys.exit``)."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = _debug_requested(args)
    try:
        with warnings_to_log(_user_warning):
            app = build_app()
            # Each file's warning is shown, not only the first of a kind.
            warnings.simplefilter("always", SleepfmWarning)
            command = typer.main.get_command(app)
            _plain_type_names(command)
            result = command.main(args=args, prog_name="sleepfm", standalone_mode=False)
        if result == 130:  # typer turns Ctrl-C into a silent exit code 130 (its Exit(130))
            error_line("interrupted")
        return result if isinstance(result, int) else 0
    except _EXITS as exc:
        return exc.exit_code
    except _ABORTS:
        error_line("aborted")
        return 130
    except _USAGE_ERRORS as exc:
        if debug:
            raise
        if type(exc).__name__ == "NoArgsIsHelpError" and exc.ctx is not None:
            error_line(_missing_command(exc))
            return 2
        where = f"{exc.ctx.command_path}: " if exc.ctx is not None else ""
        hint = f" — see `{exc.ctx.command_path} --help`" if exc.ctx is not None else ""
        error_line(f"{where}{exc.format_message()}{hint}")
        return 2
    except SleepfmError as exc:
        if debug:
            raise
        error_line(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        error_line("interrupted")
        return 130
    except Exception as exc:
        if debug:
            raise
        error_line(f"unexpected {type(exc).__name__}: {exc} — rerun with --debug and report it")
        return 1


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
