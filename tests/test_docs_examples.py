"""docs/*.md, executed: every command example that runs on ../shared prints what its page shows
(tests/doc_examples.py says how pages and output are compared). README.md's examples run in
tests/test_walkthrough.py, in the order a new user follows them."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import REPO
from .doc_examples import parse, run_block, runnable_blocks

PAGES = sorted((REPO / "docs").glob("*.md"))
RUNNABLE = sorted({block.page for block in runnable_blocks(REPO, PAGES)})
#: Pages whose examples take longer than a few seconds (a whole folder preprocessed).
SLOW = {"docs/preprocess.md"}


@pytest.mark.shared
@pytest.mark.parametrize("page", [pytest.param(p, marks=pytest.mark.slow) if p in SLOW else p for p in RUNNABLE])
def test_the_page_prints_what_it_shows(page: str, shared: Path, tmp_path: Path) -> None:
    # ../shared from the folder the examples run in is the shared folder, as from a checkout.
    (tmp_path / "shared").symlink_to(shared)
    work = tmp_path / "work"
    work.mkdir()
    problems = [f"{block.id}: {p}" for block in parse(REPO / page, REPO) if block.runnable
                for p in run_block(block, work, in_process=True)]
    assert not problems, "\n".join(problems)


def test_the_runner_sees_the_examples_it_should() -> None:
    # A change to the page format must not silently turn every example into an illustration.
    assert {"docs/preprocess.md", "docs/checkpoints.md", "docs/convert-checkpoint.md"} <= set(RUNNABLE)
    (block,) = [b for b in parse(REPO / "docs" / "convert-checkpoint.md", REPO) if b.runnable]
    assert block.commands[0].text.startswith("sleepfm convert-checkpoint ../shared/")
