"""Hypnogram PNGs: plain, and with probability bands plus the scored hypnogram beneath."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from sleepfm.errors import InputError
from sleepfm.labels.hypnogram import Hypnogram
from sleepfm.report.hypnogram_plot import plot_hypnogram, render_hypnogram

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
START = datetime(2021, 3, 4, 22, 41, 0)


def _night(n: int = 240, start: datetime | None = START) -> Hypnogram:
    rng = np.random.default_rng(0)
    stages = np.repeat(rng.integers(0, 5, size=n // 10), 10)
    stages[17:19] = -1
    return Hypnogram(stages, epoch_seconds=30, onset=0, start_time=start)


def _image(path: Path) -> np.ndarray:
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    image = imread(path)
    assert image.ndim == 3 and image.shape[2] in (3, 4)
    return image


def test_plain_hypnogram_png(tmp_path: Path) -> None:
    path = plot_hypnogram(_night(), tmp_path / "night.png", title="night")
    image = _image(path)
    assert image.shape[0] > 100 and image.shape[1] > 600
    assert image[..., :3].std() > 0.05  # something was drawn
    assert [p.name for p in tmp_path.iterdir()] == ["night.png"]  # no temporary file left behind


def test_probabilities_and_scored_panels(tmp_path: Path) -> None:
    night = _night()
    probabilities = np.random.default_rng(1).dirichlet(np.ones(5), size=night.n_epochs)
    scored = _night()
    plain = _image(plot_hypnogram(night, tmp_path / "plain.png"))
    full = _image(plot_hypnogram(night, tmp_path / "out" / "full.png", probabilities=probabilities, scored=scored))
    assert full.shape[0] > 2 * plain.shape[0]  # three panels stacked
    assert full.shape[1] == plain.shape[1]


def test_without_clock_time(tmp_path: Path) -> None:
    night = _night(start=None)
    _image(plot_hypnogram(night, tmp_path / "hours.png", scored=_night(start=None)))


def test_bad_probability_shape_and_mixed_clocks() -> None:
    night = _night()
    with pytest.raises(InputError, match=r"shape \(240, 4\), expected \(240, 5\)"):
        render_hypnogram(night, probabilities=np.ones((240, 4)))
    with pytest.raises(InputError, match="clock start time"):
        render_hypnogram(night, scored=_night(start=None))


def _tick_labels(figure) -> list[str]:  # type: ignore[no-untyped-def]
    figure.canvas.draw()
    return [label.get_text() for label in figure.axes[-1].get_xticklabels() if label.get_text()]


def test_x_axis_is_clock_time_or_hours() -> None:
    from sleepfm.report.hypnogram_plot import hypnogram_figure

    clock = _tick_labels(hypnogram_figure(_night()))  # 22:41 for 2 h
    assert clock and all(len(t) == 5 and t[2] == ":" for t in clock)
    assert clock[0].startswith(("22:", "23:")) and clock[-1].startswith(("00:", "23:"))
    hours = _tick_labels(hypnogram_figure(_night(start=None)))
    assert all(":" not in t for t in hours) and hours
