"""Every JSON output is strict JSON: undefined metrics are null, numpy values plain numbers."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from sleepfm.json_output import json_text, jsonable, write_json


def _strict(text: str) -> object:
    def refuse(constant: str) -> object:
        raise AssertionError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_undefined_numbers_become_null_and_numpy_plain_values() -> None:
    payload = {"kappa": float("nan"), "ratio": np.float32("inf"), "counts": np.arange(3, dtype=np.int64),
               "nested": [{"f1": np.float64("-inf")}, (1, 2)], 3: np.bool_(True)}
    assert jsonable(payload) == {"kappa": None, "ratio": None, "counts": [0, 1, 2],
                                 "nested": [{"f1": None}, [1, 2]], "3": True}


def test_paths_dates_and_other_objects_are_written_as_text() -> None:
    moment = datetime(2026, 12, 4, 22, 30)
    assert jsonable({"file": Path("a/b.edf"), "start": moment, "what": object}) == {
        "file": "a/b.edf", "start": "2026-12-04 22:30:00", "what": str(object)}


def test_written_files_are_strict_json(tmp_path: Path) -> None:
    path = write_json(tmp_path / "out" / "stats.json", {"agreement": {"kappa": np.nan}, "name": "Ö"})
    assert _strict(path.read_text()) == {"agreement": {"kappa": None}, "name": "Ö"}
    assert "\\u00d6" in path.read_text()  # ASCII by default; ensure_ascii=False keeps the letter
    assert "Ö" in json_text({"name": "Ö"}, ensure_ascii=False)
    assert not list(tmp_path.glob("out/.*"))  # no temporary left beside it


@pytest.mark.parametrize("indent", [None, 1, 2])
def test_every_layout_ends_with_a_newline(indent: int | None) -> None:
    assert json_text({"a": [1, 2]}, indent=indent).endswith("}\n")


def test_a_staged_night_with_an_undefined_kappa_writes_null(tmp_path: Path) -> None:
    from sleepfm.clinical.night import NightOutputs

    outputs = NightOutputs({}, None, None, {"agreement": {"kappa": float("nan"), "f1": {"N1": np.nan}}}, [])
    written = outputs.write(tmp_path, "night")
    assert _strict(written["statistics"].read_text()) == {"agreement": {"kappa": None, "f1": {"N1": None}}}
