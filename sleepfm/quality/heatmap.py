"""``<stem>.qc.png``: a channel × time map of the flags, read at a glance.

One row per checked channel (grouped by modality, BAS first), one column per 30-s epoch; an
epoch is white when clean, else coloured by the first check that flagged it (in the order of
the legend). The scored hypnogram, when given, is drawn above on the same time axis, and the
title carries the verdict. Drawn on matplotlib's Agg canvas, no pyplot state.
"""

from __future__ import annotations

import io
from datetime import datetime, timedelta

import numpy as np

from sleepfm.interfaces.modality import MODALITIES
from sleepfm.interfaces.quality_check import EPOCH_SECONDS
from sleepfm.labels.hypnogram import Hypnogram
from sleepfm.quality.flags import QualityFlags
from sleepfm.quality.summary import StudyQuality
from sleepfm.report.hypnogram_plot import _draw_hypnogram
from sleepfm.store.signal_store import StoredChannel

#: One colour per built-in check (a plugin's checks take the grey shades after them).
COLOURS = {
    "non_finite": "#000000", "flat": "#1f78b4", "clipping": "#e31a1c", "high_amplitude": "#ff7f00",
    "line_noise": "#6a3d9a", "implausible": "#b15928", "zscore_dominated": "#fdbf6f",
}
_EXTRA = ("#636363", "#969696", "#bdbdbd")
VERDICT_COLOURS = {"usable": "#2b8a3e", "degraded": "#e67700", "unusable": "#c92a2a"}


def render_heatmap(flags: QualityFlags, channels: list[StoredChannel], quality: StudyQuality, *, title: str,
                   start_time: datetime | None = None, scored: Hypnogram | None = None, dpi: int = 110) -> bytes:
    """The heat map as PNG bytes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import ListedColormap
    from matplotlib.dates import AutoDateLocator, DateFormatter, date2num
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch


    by_name = {c.name: c for c in channels}
    order = {m: i for i, m in enumerate(MODALITIES)}
    names = sorted((n for n in flags.channels if n in by_name),
                   key=lambda n: (order.get(by_name[n].modality, len(order)), flags.row(n)))
    checks = list(flags.checks)
    colours = [COLOURS.get(c, _EXTRA[i % len(_EXTRA)]) for i, c in enumerate(checks)]
    # Code per cell: 0 clean, k + 1 = first check k that flagged it.
    codes = np.zeros((len(names), quality.n_epochs), dtype=np.int16)
    for k in reversed(range(len(checks))):
        hit = flags.epochs(flags.by_check(checks[k])[[flags.row(n) for n in names]]) if names else codes.astype(bool)
        codes[hit[:, : quality.n_epochs]] = k + 1
    seconds = quality.n_epochs * EPOCH_SECONDS
    # Without a clock: hours (as the hypnogram panel draws them), or minutes for a short recording alone.
    unit = 3600.0 if seconds >= 7200 or scored is not None else 60.0
    if start_time is not None:
        left, right = date2num([start_time, start_time + timedelta(seconds=seconds)])
    else:
        left, right = 0.0, seconds / unit

    rows = max(len(names), 1)
    hypnogram_height = 1.4 if scored is not None else 0.0
    figure = Figure(figsize=(11, 1.6 + hypnogram_height + 0.2 * rows))
    FigureCanvasAgg(figure)
    if scored is not None:
        top, ax = figure.subplots(2, 1, sharex=True, height_ratios=[hypnogram_height, 0.2 * rows])
        _draw_hypnogram(top, scored, "scored")
    else:
        ax = figure.subplots(1, 1)
    ax.imshow(codes if names else np.zeros((1, 1)), aspect="auto", interpolation="nearest",
              cmap=ListedColormap(["#ffffff", *colours]), vmin=0, vmax=len(checks),
              extent=(left, right, rows - 0.5, -0.5))
    ax.set_yticks(range(len(names)),
                  [f"{by_name[n].label} ({by_name[n].modality.value if by_name[n].modality else '-'})"
                   for n in names], fontsize=7 if rows > 30 else 8)
    ax.set_xlim(left, right)
    if start_time is not None:
        ax.xaxis.set_major_locator(AutoDateLocator(minticks=4, maxticks=12))
        ax.xaxis.set_major_formatter(DateFormatter("%H:%M"))
        ax.set_xlabel("clock time")
    else:
        ax.set_xlabel(f"{'hours' if unit == 3600.0 else 'minutes'} since recording start")
    present = [k for k in range(len(checks)) if (codes == k + 1).any()]
    handles = [Patch(color=colours[k], label=checks[k].replace("_", " ")) for k in present] or \
        [Patch(facecolor="#ffffff", edgecolor="#999999", label="no flag")]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small", frameon=False)
    figure.suptitle(f"{title} — {quality.verdict}", color=VERDICT_COLOURS.get(quality.verdict, "black"))
    height = figure.get_figheight()
    # Fixed margins (in inches) instead of a constrained layout, which draws the figure twice.
    figure.subplots_adjust(left=1.9 / 11, right=1 - 1.8 / 11, bottom=0.55 / height, top=1 - 0.5 / height,
                           hspace=0.15)
    buffer = io.BytesIO()
    # zlib level 3: a third of the default's encoding time for a few percent more bytes.
    figure.savefig(buffer, format="png", dpi=dpi, pil_kwargs={"compress_level": 3})
    return buffer.getvalue()
