"""The command line: version, plugin listing, config commands, one-line errors and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from sleepfm import __version__
from sleepfm.cli.app import main
from sleepfm.registry import KINDS

from .conftest import REPO


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "sleepfm", *args], capture_output=True, text=True,
                          env=full_env, cwd=REPO, timeout=120)


def test_version_via_python_dash_m() -> None:
    result = run_cli("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"sleepfm {__version__}"


def test_plugins_json_names_all_kinds_and_the_contrib_component(capsys) -> None:
    assert main(["plugins", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert set(KINDS) | {"commands"} == set(payload["kinds"])
    focal = [row for row in payload["components"] if row["name"] == "focal"]
    assert focal and focal[0]["distribution"] == "sleepfm-loss-focal" and focal[0]["version"] == "0.1.0"
    assert set(focal[0]) == {"kind", "name", "plugin", "distribution", "version", "description"}
    assert payload["failures"] == []


def test_plugins_table_and_kind_filter(capsys) -> None:
    assert main(["plugins", "--kind", "losses"]) == 0
    text = capsys.readouterr().out
    assert "focal" in text and "sleepfm-loss-focal" in text and "plugins" not in text.split("sleepfm plugins")[-1]


def test_unknown_kind_fails_with_one_line_and_no_traceback() -> None:
    result = run_cli("plugins", "--kind", "no-such-kind")
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "unknown component kind 'no-such-kind'" in lines[0]
    assert "Traceback" not in result.stderr + result.stdout


def test_debug_shows_the_traceback() -> None:
    result = run_cli("--debug", "plugins", "--kind", "no-such-kind")
    assert result.returncode != 0 and "Traceback" in result.stderr


def test_unknown_command_and_bad_option_are_usage_errors(capsys) -> None:
    assert main(["no-such-command"]) == 2
    assert main(["plugins", "--bogus"]) == 2
    err = capsys.readouterr().err
    assert "No such command" in err and "No such option" in err


def test_config_validate_passes_shipped_files(capsys) -> None:
    files = sorted(str(p) for p in (REPO / "configs").glob("*.yaml"))
    assert main(["config", "validate", *files]) == 0
    assert capsys.readouterr().out.count("✓") == len(files)


def test_config_validate_refuses_unknown_key_naming_it(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"workflow": "embed", "batchsize": 3}))
    result = run_cli("config", "validate", str(bad))
    assert result.returncode == 2
    assert "batchsize: unknown key" in result.stderr and "Traceback" not in result.stderr
    assert len([line for line in result.stderr.splitlines() if line.strip()]) == 1


def test_config_show_prints_resolved_yaml_with_overrides(capsys) -> None:
    assert main(["config", "show", str(REPO / "configs" / "embed.yaml"), "--set", "batch_size=64"]) == 0
    shown = yaml.safe_load(capsys.readouterr().out)
    assert shown["batch_size"] == 64 and shown["workflow"] == "embed" and shown["partial_chunk"] == "drop"


def test_broken_plugin_warns_once_and_cli_keeps_working(make_plugin) -> None:
    site = make_plugin("sleepfm-broken-cli", "raise ImportError('no module named fancy')\n")
    result = run_cli("plugins", "--kind", "losses", env={"PYTHONPATH": str(site)})
    assert result.returncode == 0, result.stderr
    assert "focal" in result.stdout
    assert "warning:" in result.stderr and "sleepfm-broken-cli" in result.stderr


def test_env_vars_in_a_real_process(make_plugin) -> None:
    site = make_plugin("sleepfm-envtest", """
        from sleepfm import hookimpl

        class EnvLoss:
            '''Loss from env test.'''

        @hookimpl
        def sleepfm_register_losses(register):
            register("envloss", EnvLoss)
        """)
    env = {"PYTHONPATH": str(site)}

    def names(extra: dict) -> set[str]:
        result = run_cli("plugins", "--kind", "losses", "--json", env={**env, **extra})
        assert result.returncode == 0, result.stderr
        return {row["name"] for row in json.loads(result.stdout)["components"] if row["distribution"] != "sleepfm"}

    assert names({}) == {"envloss", "focal"}
    assert names({"SLEEPFM_DISABLE_PLUGINS": "sleepfm-envtest"}) == {"focal"}
    assert names({"SLEEPFM_LOAD_PLUGINS": "sleepfm-envtest"}) == {"envloss"}
    assert names({"SLEEPFM_LOAD_PLUGINS": ""}) == set()


def _leaf_commands() -> dict[str, object]:
    """Every command of the CLI by its path (``finetune staging``), groups left out."""
    import typer

    from sleepfm.cli.app import build_app

    found: dict[str, object] = {}

    def visit(command, path: str) -> None:  # type: ignore[no-untyped-def]
        subcommands = getattr(command, "commands", None)
        if subcommands:
            for name, sub in subcommands.items():
                visit(sub, f"{path} {name}".strip())
        else:
            found[path] = command

    visit(typer.main.get_command(build_app()), "")
    return found


def test_help_shows_no_python_types(capsys) -> None:
    # Flags have no value to describe; repeatable arguments show their item type.
    for path in [*_leaf_commands(), "finetune", "evaluate", "checkpoints", "config"]:
        assert main([*path.split(), "--help"]) == 0
        shown = capsys.readouterr().out
        assert "<bool>" not in shown and "<list[" not in shown, path


def test_a_group_without_its_subcommand_names_them(capsys) -> None:
    assert main(["finetune"]) == 2
    (line,) = [x for x in capsys.readouterr().err.splitlines() if x.startswith("error:")]
    assert line == "error: sleepfm finetune: missing command — choose one of: diagnosis, staging"
    assert main(["checkpoints"]) == 2
    assert "choose one of: check" in capsys.readouterr().err


def test_readme_says_which_commands_take_config_and_set() -> None:
    import re

    readme = (REPO / "README.md").read_text()
    match = re.search(r"take `--config FILE`[^:]*: (.*?)\.\s", readme, flags=re.S)
    assert match, "README names the commands that take --config/--set"
    listed = set(re.findall(r"`([a-z -]+)`", match[1]))
    commands = _leaf_commands()
    with_config = {path for path, command in commands.items()
                   if any("--config" in p.opts for p in command.params)}  # type: ignore[attr-defined]
    with_set = {path for path, command in commands.items()
                if any("--set" in p.opts for p in command.params)}  # type: ignore[attr-defined]
    assert with_config == listed and with_config <= with_set  # (config show takes --set too)
