"""Built-in plugin: the quality checks and the commands ``qc`` and ``calibrate-reference``."""

from __future__ import annotations

import typer

from sleepfm import hookimpl
from sleepfm.hookspecs import Register

_CHECKS: tuple[tuple[str, str, str], ...] = (
    ("non_finite", "NonFinite", "NaN or infinite samples."),
    ("flat", "Flat", "Flat line or disconnected electrode (patch spread far below the channel's typical one)."),
    ("clipping", "Clipping", "Samples held at the recording's digital/physical limits or at an amplifier rail."),
    ("high_amplitude", "HighAmplitude", "High-amplitude or movement artifact against the channel's robust scale."),
    ("line_noise", "LineNoise", "50/60 Hz mains interference (a narrow line holding much of a patch's power)."),
    ("implausible", "Implausible", "SpO2 outside 50-100 %, heart rate outside 25-220 bpm, EEG amplitude in the "
     "wrong unit."),
    ("zscore_dominated", "ZscoreDominated", "The night's z-score scale set by artifacts (std far above the robust "
     "scale)."),
)


@hookimpl
def sleepfm_register_quality_checks(register: Register) -> None:
    for name, attribute, description in _CHECKS:
        register(name, f"sleepfm.quality.checks:{attribute}", description=description)


@hookimpl
def sleepfm_register_commands(app: typer.Typer) -> None:
    from sleepfm.quality.command import calibrate_reference_command, qc_command

    app.command("qc")(qc_command)
    app.command("calibrate-reference")(calibrate_reference_command)
