"""The README, followed the way a new user follows it, in a clean copy of the repository: ``make demo``
(at the test size), the commands in ``.venv/bin``, then every README example that runs on the
demo's output or ``../shared`` — checking the demo's checkpoints and staging a folder of real
recordings with their scored hypnograms paired — printing what the README shows
(tests/doc_examples.py says how pages and output are compared)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO
from .doc_examples import environment, run_block, runnable_blocks

pytestmark = [pytest.mark.slow, pytest.mark.shared]


def _clean_copy(target: Path) -> Path:
    """The files git knows (tracked, or new and not ignored) and nothing built: no .venv, no outputs."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=REPO,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def test_the_readme_from_make_demo_to_a_staged_folder_of_real_recordings(shared: Path, tmp_path: Path) -> None:
    clone = _clean_copy(tmp_path / "sleepfm")
    (tmp_path / "shared").symlink_to(shared)  # ../shared from the checkout, as on a development machine
    # `make venv` is what the suite runs in; the copy gets that environment instead of a second install.
    (clone / ".venv").symlink_to(Path(sys.prefix))
    env = environment(clone / ".venv" / "bin")

    # Quick start: `make demo` (test size; -o: the environment is installed already).
    done = subprocess.run(["make", "demo", "DEMO_SIZE=test", "-o", ".venv/.installed"], cwd=clone, env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "demo_out/checkpoints" in done.stdout
    assert (clone / "demo_out" / "report.json").is_file()
    version = subprocess.run([".venv/bin/sleepfm", "--version"], cwd=clone, capture_output=True, text=True)
    assert version.returncode == 0 and version.stdout.startswith("sleepfm ")

    # Your own recordings: the README's examples on the demo's checkpoints and ../shared.
    blocks = runnable_blocks(clone, [clone / "README.md"])
    assert [c.text.split()[:2] for b in blocks for c in b.commands] == [["sleepfm", "checkpoints"],
                                                                          ["sleepfm", "stage"]]
    problems = [f"{block.id}: {problem}" for block in blocks for problem in run_block(block, clone, env)]
    assert not problems, "\n".join(problems)

    staged = clone / "staged"
    expected = {"excerpt3": ("Hypnogram_excerpt3.txt", 60),
                "SC4001E0-PSG_first300s.edf": ("SC4001EC-Hypnogram.edf", 10),
                "SC4001E0-PSG_first300s.bdf": ("SC4001EC-Hypnogram.edf", 10)}
    for name, (hypnogram, epochs) in expected.items():
        stats = json.loads((staged / f"{name}.stats.json").read_text())
        assert Path(stats["scored_hypnogram"]).name == hypnogram
        assert stats["agreement"]["n_epochs"] == epochs, name
        assert (staged / f"{name}.hypnogram.csv").is_file() and (staged / f"{name}.png").is_file()
