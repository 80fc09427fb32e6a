"""Atomic writers for evaluation outputs: JSON, CSV and PNG files appear whole or not at all."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from sleepfm.config.base import atomic_write_text
from sleepfm.file_modes import make_shareable


def write_csv(path: Path, table: pd.DataFrame, *, index: bool = False) -> Path:
    atomic_write_text(Path(path), table.to_csv(index=index, lineterminator="\n"))
    return Path(path)


@contextmanager
def staged_file(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path`` that is renamed onto it when the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
    os.close(fd)
    try:
        yield Path(tmp)
        make_shareable(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_figure(figure: Any, path: Path, *, dpi: int = 120) -> Path:
    """Save a matplotlib figure (drawn on an Agg canvas, no pyplot state) atomically as PNG."""
    with staged_file(path) as tmp:
        figure.savefig(tmp, dpi=dpi, format="png")
    return Path(path)


def agg_figure(width: float, height: float) -> Any:
    """A matplotlib Figure on the Agg canvas: plotting works headless and from any thread."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure
