"""One test per hook: a plugin implementing it, installed as a distribution, is honoured.

``test_every_hook_is_documented_and_tested`` keeps this file, ``sleepfm/hookspecs.py`` and
``docs/plugins.md`` in step: a new hook without documentation or a ``test_hook_<name>``
test fails the suite.
"""

from __future__ import annotations

import ast
import inspect
import json
import re
from pathlib import Path

import numpy as np

from sleepfm import hookspecs
from sleepfm.cli.app import main
from sleepfm.registry import Registry

from .conftest import REPO

COMPONENT_PLUGIN = """
    from sleepfm import hookimpl
    {imports}

    {body}

    @hookimpl
    def {hook}(register):
        register("{name}", {component})
"""


def _install(make_plugin, hook: str, name: str, component: str, body: str, imports: str = "") -> Registry:
    source = COMPONENT_PLUGIN.format(hook=hook, name=name, component=component, body=body, imports=imports)
    make_plugin(f"sleepfm-test-{name}", source)
    return Registry().load()


def test_hook_sleepfm_register_readers(make_plugin) -> None:
    body = '''
    class CsvReader(SignalReader):
        """Reads one-column CSV signals at 1 Hz."""
        extensions = (".csv",)
        def open(self, path):
            raise NotImplementedError
    '''
    reg = _install(make_plugin, "sleepfm_register_readers", "csv", "CsvReader", body,
                   "from sleepfm.interfaces.signal_reader import SignalReader")
    reader = reg.get("readers", "csv")()
    assert reader.can_read(Path("night.CSV")) and not reader.can_read(Path("night.edf"))


def test_hook_sleepfm_register_label_readers(make_plugin) -> None:
    body = '''
    class OneLine(LabelReader):
        """Stages as one digit per character."""
        extensions = (".txt",)
        def sniff(self, path):
            return True
        def read(self, path, mapping=None):
            return Hypnogram(stages=[int(c) for c in open(path).read().strip()])
    '''
    reg = _install(make_plugin, "sleepfm_register_label_readers", "one-line", "OneLine", body,
                   "from sleepfm.plugin import Hypnogram, LabelReader")
    hypnogram = reg.get("label_readers", "one-line")().read(Path(__file__).with_name("data_stages.txt"))
    assert hypnogram.counts()["W"] == 2 and hypnogram.counts()["REM"] == 1


def test_hook_sleepfm_register_hypnogram_writers(make_plugin) -> None:
    body = '''
    class StageDigits(HypnogramWriter):
        """Stages as one digit per epoch."""
        extensions = (".digits",)
        suffix = ".digits"
        def render(self, export, name):
            return {name: "".join(str(int(s)) for s in export.hypnogram.stages).encode()}
    '''
    reg = _install(make_plugin, "sleepfm_register_hypnogram_writers", "digits", "StageDigits", body,
                   "from sleepfm.plugin import HypnogramWriter")
    from sleepfm.plugin import Hypnogram, HypnogramExport

    files = reg.get("hypnogram_writers", "digits")().render(HypnogramExport(Hypnogram([0, 2, 4])), "n.digits")
    assert files == {"n.digits": b"024"}


def test_hook_sleepfm_register_channel_mappers(make_plugin) -> None:
    body = '''
    class EverythingIsEeg(ChannelMapper):
        """Maps every label to BAS."""
        def assign(self, labels):
            return [ChannelAssignment(label, Modality.BAS, "all") for label in labels]
    '''
    reg = _install(make_plugin, "sleepfm_register_channel_mappers", "all-eeg", "EverythingIsEeg", body,
                   "from sleepfm.interfaces.channel_mapper import ChannelAssignment, ChannelMapper\n"
                   "    from sleepfm.interfaces.modality import Modality")
    out = reg.get("channel_mappers", "all-eeg")().assign(["C3-M2", "Chin"])
    assert [a.modality.value for a in out] == ["BAS", "BAS"] and all(a.mapped for a in out)


TORCH_BODY = '''
    class Cfg(ConfigModel):
        width: int = 4

    class {cls}({base}):
        """A {what} for tests."""
        Config = Cfg
        {extra}
        def __init__(self, config):
            super().__init__()
            self.config = config
            self.linear = torch.nn.Linear(config.width, config.width)
        def forward(self, x, *rest):
            return self.linear(x)
        def example_inputs(self, batch_size=2):
            return (torch.ones(batch_size, self.config.width),)
'''


def _torch_component(make_plugin, hook: str, name: str, base: str, module: str, extra: str = "") -> object:
    body = TORCH_BODY.format(cls="Thing", base=base, what=name, extra=extra)
    reg = _install(make_plugin, hook, name, "Thing", body,
                   f"import torch\n    from sleepfm.config.base import ConfigModel\n"
                   f"    from sleepfm.interfaces.{module} import {base}")
    component = reg.get(hook.removeprefix("sleepfm_register_"), name).from_config({"width": 3})
    assert component(*component.example_inputs()).shape == (2, 3)
    return component


def test_hook_sleepfm_register_tokenizers(make_plugin) -> None:
    _torch_component(make_plugin, "sleepfm_register_tokenizers", "tok", "Tokenizer", "tokenizer")


def test_hook_sleepfm_register_poolers(make_plugin) -> None:
    _torch_component(make_plugin, "sleepfm_register_poolers", "pool", "Pooler", "pooler")


def test_hook_sleepfm_register_models(make_plugin) -> None:
    _torch_component(make_plugin, "sleepfm_register_models", "mdl", "Model", "model")


def test_hook_sleepfm_register_heads(make_plugin) -> None:
    head = _torch_component(make_plugin, "sleepfm_register_heads", "hd", "Head", "head", extra='task = "staging"')
    assert type(head).task == "staging"


def test_hook_sleepfm_register_losses(make_plugin) -> None:
    loss = _torch_component(make_plugin, "sleepfm_register_losses", "ls", "Loss", "loss", extra='task = "diagnosis"')
    assert type(loss).task == "diagnosis"


def test_hook_sleepfm_register_cohorts(make_plugin, tmp_path) -> None:
    body = '''
    class Flat(Cohort):
        """Every .edf in a folder."""
        def discover(self, root):
            return [Study(p.stem, p.stem, p) for p in sorted(root.glob("*.edf"))]
    '''
    reg = _install(make_plugin, "sleepfm_register_cohorts", "flat", "Flat", body,
                   "from sleepfm.interfaces.cohort import Cohort, Study")
    (tmp_path / "b.edf").touch()
    (tmp_path / "a.edf").touch()
    studies = reg.get("cohorts", "flat")().discover(tmp_path)
    assert [s.id for s in studies] == ["a", "b"]


def test_hook_sleepfm_register_pairing_rules(make_plugin, tmp_path) -> None:
    body = '''
    class ClinicScoring(NameTemplates):
        """PSG_p01_1.edf <-> Scoring_PSG_p01_1.xml."""
        label_reader = "nsrr-xml"
        templates = ("Scoring_{stem}.xml",)
        examples = (("PSG_p01_1.edf", "Scoring_PSG_p01_1.xml"),)
    '''
    _install(make_plugin, "sleepfm_register_pairing_rules", "clinic-scoring", "ClinicScoring", body,
             "from sleepfm.plugin import NameTemplates")
    from sleepfm import registry
    from sleepfm.cohorts import load_cohort

    registry.reset_registry()
    (tmp_path / "PSG_p01_1.edf").write_bytes(b"")
    (tmp_path / "Scoring_PSG_p01_1.xml").write_text("<PSGAnnotation/>")
    (study,) = load_cohort("cohort-edf").discover(tmp_path)  # the built-in adapter uses the plugin's rule
    assert study.hypnogram_path.name == "Scoring_PSG_p01_1.xml" and study.label_reader == "nsrr-xml"


def test_hook_sleepfm_register_commands(make_plugin, capsys) -> None:
    make_plugin(
        "sleepfm-hello",
        """
        from sleepfm import hookimpl

        @hookimpl
        def sleepfm_register_commands(app):
            @app.command("hello")
            def hello(name: str = "lab"):
                '''Say hello.'''
                print(f"hello {name}")
        """,
    )
    assert main(["hello", "--name", "sleep"]) == 0
    assert "hello sleep" in capsys.readouterr().out
    assert main(["plugins", "--kind", "commands", "--json"]) == 0
    assert '"name": "hello"' in capsys.readouterr().out


def test_hook_sleepfm_register_quality_checks(make_plugin, tmp_path) -> None:
    body = '''
    class SpikeCfg(ConfigModel):
        limit: float = 4.0

    class Spikes(QualityCheck):
        """Patches holding a sample beyond a fixed z-score."""
        Config = SpikeCfg
        meaning = "a sample beyond the limit"
        def patches(self, channel):
            return np.abs(channel.patches).max(axis=1) > self.config.limit
    '''
    _install(make_plugin, "sleepfm_register_quality_checks", "spikes", "Spikes", body,
             "import numpy as np\n    from sleepfm.plugin import ConfigModel, QualityCheck")
    from .helpers_models import STUDY, write_study

    data = write_study(tmp_path / "night.h5", STUDY, 128 * 60)
    spike = {name: np.abs(values).max() for name, values in data.items()}
    config = tmp_path / "qc.yaml"
    config.write_text("workflow: qc\nquality:\n  checks: [{name: spikes, params: {limit: 3.5}}, {name: flat}]\n")
    assert main(["qc", str(tmp_path / "night.h5"), "--out", str(tmp_path / "qc"), "--config", str(config),
                 "--no-plot"]) == 0
    report = json.loads((tmp_path / "qc" / "night.qc.json").read_text())
    assert report["checks"]["spikes"] == "a sample beyond the limit"
    flagged = {name for name, channel in report["channels"].items() if "spikes" in channel["flags"]}
    assert flagged == {name for name, top in spike.items() if top > 3.5 and STUDY[name] is not None}


def _hook_names() -> list[str]:
    return [name for name, _ in inspect.getmembers(hookspecs, inspect.isfunction) if name.startswith("sleepfm_")]


def test_every_hook_is_documented_and_tested() -> None:
    docs = (REPO / "docs" / "plugins.md").read_text()
    tests = {
        node.name
        for path in (REPO / "tests").rglob("test_*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.FunctionDef)
    }
    problems = []
    for name in _hook_names():
        params = ", ".join(inspect.signature(getattr(hookspecs, name)).parameters)
        if not re.search(rf"^#+ `{name}\({params}\)`", docs, re.M):
            problems.append(f"docs/plugins.md has no heading `{name}({params})`")
        if f"test_hook_{name}" not in tests:
            problems.append(f"no test named test_hook_{name}")
    assert not problems, problems
    assert len(_hook_names()) == 13


def test_stage_file_fixture_is_what_the_label_hook_test_reads() -> None:
    assert np.array(list((REPO / "tests" / "data_stages.txt").read_text().strip()), dtype=int).tolist() == [0, 0, 2, 4]
