"""Rich consoles shared by all commands: results on stdout, messages on stderr."""

from __future__ import annotations

from rich.console import Console

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def error_line(message: str) -> None:
    """Print one error line (no wrapping, no markup interpretation of the message)."""
    err.print(f"[bold red]error:[/] {_escape(message)}", highlight=False)


def warning_line(message: str) -> None:
    err.print(f"[yellow]warning:[/] {_escape(message)}", highlight=False)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(" ".join(text.split()))
