"""Physical units: one spelling per unit, and the scale the published converter applied.

EDF writers spell units freely (``uV``, ``UV``, ``µV``, ``μV``, ``mV``, ``MV`` in an
upper-casing export, ``DegC``, ``%SpO2``...). :func:`normalise_unit` returns one spelling
per unit. Values are never rescaled: a channel keeps the numbers of its file, and its unit
says what they are.

:func:`published_scale` is the factor MNE multiplies physical values by when the published
converter reads a file (µV → V, mV → V, anything it does not recognise → 1). The 128 Hz
z-scored output does not depend on it except through float64 rounding, which decides the
last bit of a float16 value in rare cases (a constant channel, for one); the resampler
applies it so that our output equals the published one bit for bit.
"""

from __future__ import annotations

_MICRO = ("µ", "μ", "u", "U", "\x83\xca")

_ALIASES: dict[str, str] = {
    "v": "V",
    "mv": "mV",
    "nv": "nV",
    "%": "%",
    "percent": "%",
    "%spo2": "%",
    "%sao2": "%",
    "bpm": "bpm",
    "beats/min": "bpm",
    "/min": "bpm",
    "1/min": "bpm",
    "min-1": "bpm",
    "degc": "°C",
    "°c": "°C",
    "deg c": "°C",
    "ohm": "Ω",
    "ohms": "Ω",
    "kohm": "kΩ",
    "cmh2o": "cmH2O",
    "mmhg": "mmHg",
    "l/min": "L/min",
    "l/s": "L/s",
    "ml/s": "mL/s",
    "db": "dB",
    "hz": "Hz",
    "s": "s",
    "ms": "ms",
    "g": "g",
    "deg": "°",
    "degree": "°",
    "degrees": "°",
}

_PUBLISHED_MICRO = ("\u03bcV", "\u00b5V", "\x83\xcaV", "uV")


def normalise_unit(unit: str) -> str:
    """The canonical spelling of ``unit`` (``"UV"`` → ``"µV"``); unknown units come back stripped."""
    text = _undo_mojibake(unit.strip())
    if not text:
        return ""
    for micro in _MICRO:
        if text.startswith(micro) and text[len(micro) :].upper() == "V":
            return "µV"
    return _ALIASES.get(text.lower(), text)


def _undo_mojibake(text: str) -> str:
    # Headers are decoded as Latin-1; a unit written in UTF-8 ("°" → "Â°") is recovered.
    try:
        return text.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return text


def published_scale(unit: str) -> float:
    """The factor MNE (and so the published converter) applies to values in ``unit`` as written."""
    if unit in _PUBLISHED_MICRO:
        return 1e-6
    if unit == "mV":
        return 1e-3
    return 1.0
