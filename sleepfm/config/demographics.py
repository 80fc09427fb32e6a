"""Age and sex as the published disease-risk head takes them, and their validation.

The released diagnosis head (``model_diagnosis``) reads two covariates, ``[age_normalised,
gender]`` (SPEC §3.4, §12). The release does not say how age was normalised or how sex was
coded; its only example is the demo row ``age 0.030612244897959183, gender 0``.

Our default, and why
    ``age_normalised = (age − age_min) / (age_max − age_min)`` with ``age_min = 0`` and
    ``age_max = 98`` years. The demo value is exactly ``3 / 98`` in double precision — what
    min–max scaling of whole-year ages over a 98-year span produces — and no other evidence
    exists. Sex: ``M → 0``, ``F → 1`` (the release gives no coding; this is the common
    0 = male convention and an assumption). Both are :class:`DemographicsEncoding` fields, so
    a lab that learns the real coding sets ``--age-min/--age-max/--male/--female`` (or the
    ``risk.encoding`` config section), and every output states the encoding it used.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import Field, model_validator

from sleepfm.config.base import ConfigModel
from sleepfm.errors import UsageError

MIN_AGE, MAX_AGE = 0.0, 120.0
_SEX_ALIASES = {"m": "M", "male": "M", "f": "F", "female": "F"}


class DemographicsEncoding(ConfigModel):
    """How age (years) and sex become the head's two covariates."""

    age_min: float = Field(0.0, description="Age (years) mapped to 0.")
    age_max: float = Field(98.0, description="Age (years) mapped to 1.")
    male: float = Field(0.0, description="Covariate value for sex M.")
    female: float = Field(1.0, description="Covariate value for sex F.")

    @model_validator(mode="after")
    def _span(self) -> DemographicsEncoding:
        if not self.age_max > self.age_min:
            raise ValueError(f"age_max ({self.age_max:g}) must be greater than age_min ({self.age_min:g})")
        return self

    def encode(self, age: float, sex: str) -> tuple[float, float]:
        """``(age_normalised, sex_code)`` for one participant (inputs validated first)."""
        age = check_age(age)
        sex = check_sex(sex)
        return ((age - self.age_min) / (self.age_max - self.age_min), self.male if sex == "M" else self.female)

    def formula(self) -> str:
        """The encoding in words, for output files."""
        return (f"age_normalised = (age - {self.age_min:g}) / ({self.age_max:g} - {self.age_min:g}); "
                f"sex M = {self.male:g}, F = {self.female:g}")

    def describe(self, age: float, sex: str) -> dict[str, Any]:
        """What a risk output states about its covariates."""
        age_normalised, sex_code = self.encode(age, sex)
        return {"age_years": float(age), "sex": check_sex(sex), "age_normalised": age_normalised,
                "sex_code": sex_code, "encoding": self.model_dump(), "formula": self.formula()}


def check_age(age: Any, *, option: str = "--age") -> float:
    """An age in years, refused with an actionable message unless it is a number in 0–120."""
    try:
        value = float(age)
    except (TypeError, ValueError):
        raise UsageError(f"{option} must be a number of years, got {age!r} instead",
                         fix=f"e.g. {option} 54 or {option} 54.5") from None
    if math.isnan(value) or not MIN_AGE <= value <= MAX_AGE:
        raise UsageError(f"{option} must be between {MIN_AGE:g} and {MAX_AGE:g} years, got {age!r} instead",
                         fix="give the participant's age in years on the night of the recording")
    return value


def check_sex(sex: Any, *, option: str = "--sex") -> str:
    """``"M"`` or ``"F"`` (also accepts male/female in any case)."""
    key = str(sex).strip().lower()
    if key not in _SEX_ALIASES:
        raise UsageError(f"invalid value for {option}: allowed values are 'M' and 'F', but got {sex!r} instead",
                         fix=f"e.g. {option} F")
    return _SEX_ALIASES[key]
