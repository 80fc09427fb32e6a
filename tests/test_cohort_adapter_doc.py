"""docs/cohort-adapter.md, executed: its adapter is installed as a real plugin distribution and
its test runs against it, so the page shows code that works."""

from __future__ import annotations

import re
from pathlib import Path

from sleepfm import registry
from sleepfm.cohorts import load_cohort

DOC = Path(__file__).resolve().parents[1] / "docs" / "cohort-adapter.md"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)


def test_the_adapter_is_at_most_30_lines() -> None:
    adapter = _blocks("python")[0]
    code = [line for line in adapter.splitlines() if line.strip()]
    logic = [line for line in code if not line.startswith(("import", "from"))]  # imports not counted
    assert len(logic) <= 30


def test_the_documented_adapter_installs_discovers_and_passes_its_test(make_plugin, tmp_path: Path) -> None:
    adapter, doc_test = _blocks("python")[0], _blocks("python")[1]
    entry = re.search(r"^(cohort-clinic) = \"(\w+)\"", _blocks("toml")[0], flags=re.MULTILINE)
    assert entry is not None
    make_plugin("sleepfm-cohort-clinic", adapter, module=entry[2], entry_name=entry[1], version="0.1.0")

    assert registry.entry("cohorts", "cohort-clinic").plugin.distribution == "sleepfm-cohort-clinic"
    namespace: dict = {}
    exec(compile(doc_test, str(DOC), "exec"), namespace)
    data = tmp_path / "data"
    data.mkdir()
    namespace["test_pairs_stages"](data)

    cohort = load_cohort("cohort-clinic")
    (data / "PSG_p01_2.edf").write_bytes(b"")
    (data / "notes.edf").write_bytes(b"")
    assert [(s.id, s.participant) for s in cohort.discover(data)] == [("PSG_p01_1", "p01"), ("PSG_p01_2", "p01")]
    mapper_name = cohort.default_config()["preprocess"]["channel_mapper"]
    mapper = registry.get("channel_mappers", mapper_name)()
    decided = {a.label: a.modality.value if a.modality else None for a in mapper.assign(["Chin1-Chin2", "C4-M1", "X"])}
    assert decided == {"Chin1-Chin2": "EMG", "C4-M1": "BAS", "X": None}
