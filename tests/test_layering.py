"""Layering: no import cycle between sleepfm's modules, and start-up stays light — ``import
sleepfm`` and ``sleepfm --help`` import none of torch, MNE, matplotlib, scipy, h5py or pandas
(each of those is imported only by the function or module that needs it)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

from .conftest import REPO

HEAVY = ("torch", "mne", "matplotlib", "scipy", "h5py", "pandas")


def _modules() -> dict[str, Path]:
    found = {}
    for path in (REPO / "sleepfm").rglob("*.py"):
        parts = list(path.relative_to(REPO).with_suffix("").parts)
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _module_level_imports(tree: ast.Module, name: str, is_package: bool) -> list[str]:
    """Modules imported when ``name`` is imported: module-level statements, not those inside
    functions or under ``if TYPE_CHECKING``."""
    found: list[str] = []

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                visit(node.orelse)
            elif isinstance(node, ast.If | ast.Try | ast.With):
                for block in ("body", "orelse", "finalbody"):
                    visit(getattr(node, block, []))
                for handler in getattr(node, "handlers", []):
                    visit(handler.body)
            elif isinstance(node, ast.Import):
                found.extend(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = name.split(".") if is_package else name.split(".")[:-1]
                    parts = parts[: len(parts) - node.level + 1]
                    base = ".".join([*parts, *([node.module] if node.module else [])])
                found.append(base)
                found.extend(f"{base}.{alias.name}" for alias in node.names)

    visit(tree.body)
    return found


def import_graph() -> dict[str, set[str]]:
    """Module → the sleepfm modules its import runs first. Importing ``a.b.c`` runs ``a`` and
    ``a.b`` first, so those count too — except a module's own parents, already running."""
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = set()
        for imported in _module_level_imports(ast.parse(path.read_text()), name, path.name == "__init__.py"):
            parts = imported.split(".")
            for i in range(1, len(parts) + 1):
                candidate = ".".join(parts[:i])
                if candidate in modules and candidate != name and not name.startswith(candidate + "."):
                    targets.add(candidate)
        graph[name] = targets
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_between_modules() -> None:
    graph = import_graph()
    assert len(graph) > 100 and "sleepfm.registry" in graph["sleepfm.config.base"]
    assert cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def _imported_after(code: str) -> list[str]:
    probe = f"import sys, json\n{code}\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_import_sleepfm_is_light() -> None:
    assert _imported_after("import pandas") == ["pandas"], "the probe sees a heavy import"
    assert _imported_after("import sleepfm, sleepfm.plugin, sleepfm.registry; sleepfm.registry.get_registry()") == []


def test_sleepfm_help_is_light() -> None:
    code = ("import contextlib, io\nfrom sleepfm.cli.app import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n    main(['--help'])")
    assert _imported_after(code) == []
