"""Options shared by workflow commands: ``--config FILE`` and repeated ``--set key=value``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="YAML config file (see configs/).", show_default=False),
]
SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", "-s", help="Override one key: section.key=value (repeatable).", show_default=False),
]
