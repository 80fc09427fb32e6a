"""The ``sleepfm`` command line. Sub-commands come from plugins (``sleepfm_register_commands``)."""

from sleepfm.cli.app import build_app, main

__all__ = ["build_app", "main"]
