"""Hypnogram figures (PNG) over clock time, with stage-probability bands and a scored hypnogram.

Drawn on matplotlib's Agg canvas directly (no pyplot state), so plotting works headless and
from several threads. Layout, top to bottom:

1. the hypnogram (W on top, then REM, N1, N2, N3; REM drawn as a thick red line as is
   customary; UNS epochs left blank);
2. when ``probabilities`` (``n_epochs × 5``, columns W, N1, N2, N3, REM) are given, the
   stage probabilities as stacked bands;
3. when ``scored`` is given, the scored hypnogram on the same time axis.

The x axis is the clock time (HH:MM) when the hypnogram has a ``start_time``, else the
hours since the recording start.
"""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from sleepfm.config.base import atomic_write_bytes
from sleepfm.errors import InputError
from sleepfm.labels.hypnogram import Hypnogram, Stage

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: Vertical order of a hypnogram, top to bottom.
LEVELS: tuple[Stage, ...] = (Stage.W, Stage.REM, Stage.N1, Stage.N2, Stage.N3)
COLOURS: dict[Stage, str] = {Stage.W: "#f2b134", Stage.N1: "#8ecae6", Stage.N2: "#219ebc",
                             Stage.N3: "#023047", Stage.REM: "#d62828"}
_PROBABILITY_ORDER = (Stage.W, Stage.N1, Stage.N2, Stage.N3, Stage.REM)


def _times(hypnogram: Hypnogram, n: int) -> tuple[np.ndarray, bool]:
    """Epoch edges (n + 1) as matplotlib date numbers when the clock time is known, else hours."""
    seconds = hypnogram.onset + np.arange(n + 1) * hypnogram.epoch_seconds
    if hypnogram.start_time is None:
        return seconds / 3600.0, False
    from matplotlib.dates import date2num

    start: datetime = hypnogram.start_time
    return date2num([start + timedelta(seconds=float(s)) for s in seconds]), True


def _draw_hypnogram(ax, hypnogram: Hypnogram, label: str) -> None:  # type: ignore[no-untyped-def]
    edges, _ = _times(hypnogram, hypnogram.n_epochs)
    level = {stage.value: len(LEVELS) - 1 - i for i, stage in enumerate(LEVELS)}
    y = np.array([level.get(int(code), np.nan) for code in hypnogram.stages], dtype=float)
    # Steps over epoch edges: each epoch is a flat segment; NaN (UNS) leaves a gap.
    ax.stairs(y, edges, baseline=None, color="#333333", linewidth=1.0)
    rem = np.where(hypnogram.stages == Stage.REM, y, np.nan)
    ax.stairs(rem, edges, baseline=None, color=COLOURS[Stage.REM], linewidth=3.0)
    ax.set_yticks(range(len(LEVELS)), [s.name for s in reversed(LEVELS)])
    ax.set_ylim(-0.5, len(LEVELS) - 0.5)
    ax.set_ylabel(label)
    ax.grid(axis="x", alpha=0.3)


def _draw_probabilities(ax, hypnogram: Hypnogram, probabilities: np.ndarray) -> None:  # type: ignore[no-untyped-def]
    edges, _ = _times(hypnogram, probabilities.shape[0])
    x = np.repeat(edges, 2)[1:-1]  # each epoch's value held flat over the epoch
    bottom = np.zeros(x.size)
    for column, stage in enumerate(_PROBABILITY_ORDER):
        top = bottom + np.repeat(probabilities[:, column], 2)
        ax.fill_between(x, bottom, top, color=COLOURS[stage], linewidth=0, label=stage.name)
        bottom = top
    ax.set_ylim(0, 1)
    ax.set_ylabel("probability")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small", frameon=False)


def hypnogram_figure(hypnogram: Hypnogram, *, probabilities: np.ndarray | None = None,
                     scored: Hypnogram | None = None, title: str | None = None) -> Figure:
    """The matplotlib figure (on an Agg canvas) with the layout of the module docstring."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.dates import AutoDateLocator, DateFormatter
    from matplotlib.figure import Figure

    if probabilities is not None:
        probabilities = np.asarray(probabilities, dtype=float)
        if probabilities.shape != (hypnogram.n_epochs, len(_PROBABILITY_ORDER)):
            raise InputError(f"stage probabilities have shape {probabilities.shape}, "
                             f"expected ({hypnogram.n_epochs}, {len(_PROBABILITY_ORDER)})")
    if scored is not None and (scored.start_time is None) != (hypnogram.start_time is None):
        raise InputError("one hypnogram has a clock start time and the other has none; they cannot share an axis")
    panels = 1 + (probabilities is not None) + (scored is not None)
    figure = Figure(figsize=(11, 1.0 + 1.8 * panels), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(panels, 1, sharex=True, squeeze=False)[:, 0]
    _draw_hypnogram(axes[0], hypnogram, "predicted" if scored is not None else "stage")
    if probabilities is not None:
        _draw_probabilities(axes[1], hypnogram, probabilities)
    if scored is not None:
        _draw_hypnogram(axes[-1], scored, "scored")
    _, clock = _times(hypnogram, 0)
    if clock:
        axes[-1].xaxis.set_major_locator(AutoDateLocator(minticks=4, maxticks=12))
        axes[-1].xaxis.set_major_formatter(DateFormatter("%H:%M"))
        axes[-1].set_xlabel("clock time")
    else:
        axes[-1].set_xlabel("hours since recording start")
    if title:
        figure.suptitle(title)
    return figure


def render_hypnogram(hypnogram: Hypnogram, *, probabilities: np.ndarray | None = None,
                     scored: Hypnogram | None = None, title: str | None = None, dpi: int = 120) -> bytes:
    """The figure as PNG bytes."""
    buffer = io.BytesIO()
    figure = hypnogram_figure(hypnogram, probabilities=probabilities, scored=scored, title=title)
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def plot_hypnogram(hypnogram: Hypnogram, path: str | Path, *, probabilities: np.ndarray | None = None,
                   scored: Hypnogram | None = None, title: str | None = None, dpi: int = 120) -> Path:
    """Render the figure and write it to ``path`` (PNG) atomically; returns the path."""
    return write_png(render_hypnogram(hypnogram, probabilities=probabilities, scored=scored, title=title, dpi=dpi),
                     path)


def write_png(data: bytes, path: str | Path) -> Path:
    """Write PNG bytes to ``path`` atomically (a temporary file in the same folder, then a rename)."""
    return atomic_write_bytes(Path(path), data)
