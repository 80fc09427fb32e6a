"""Run the command examples of README.md and docs/*.md and compare what they print with the page.

A page's example is a ```` ```console ```` block whose lines starting with ``$ `` are commands
(a trailing ``\\`` continues one on the next line) and whose other lines are what the command
printed. A block runs when one of its commands reads ``../shared`` (the reference data and real
recordings beside a checkout) or the demo's output (``demo_out``); blocks about files a reader
has and the suite has not (``night1.edf``, ``checkpoints/``) are illustrations, and runs of
``benchmarks/`` scripts are measurements of a machine: neither is run. A
```` ```python ```` block right after an ``<!-- doc-test: setup -->`` comment is run first, in the
same folder: it makes the inputs of the example below it.

Comparison, so that a page cannot drift from the program:

* every line the page shows must be printed by its command (whitespace runs compared as one
  space; ``…`` in a shown line stands for any text; ``  # note`` after a command or line is a
  comment for the reader);
* every ``error:`` and ``warning:`` line the command prints must be on the page;
* ``$ echo $?`` shows the exit code of the command before it; without it a command must exit 0
  unless the page shows an ``error:`` line for it.

Commands run as a terminal of 100 columns shows them: ``ls`` in columns (``ls -C``), rich tables
100 characters wide.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

RUNNABLE = ("../shared", "demo_out")
#: Measurements, not examples: their figures depend on the machine (benchmarks print ratios).
MEASUREMENTS = ("benchmarks/",)
SETUP_MARK = "<!-- doc-test: setup -->"
_COMMENT = re.compile(r"\s{2,}#\s.*$")


@dataclass
class Command:
    text: str
    shown: list[str] = field(default_factory=list)


@dataclass
class Block:
    page: str
    line: int
    commands: list[Command]
    setup: list[str] = field(default_factory=list)  # python sources to run first

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"

    @property
    def runnable(self) -> bool:
        texts = [c.text for c in self.commands]
        return any(m in t for t in texts for m in RUNNABLE) and not any(m in t for t in texts for m in MEASUREMENTS)


def parse(path: Path, root: Path) -> list[Block]:
    """The console blocks of a page (module docstring), with their setup blocks."""
    text = path.read_text(encoding="utf-8")
    blocks: list[Block] = []
    setup: list[str] = []
    fence = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)
    for match in fence.finditer(text):
        language, body = match[1], match[2]
        start = text.count("\n", 0, match.start()) + 1
        before = text[: match.start()].rstrip().splitlines()[-1:] if match.start() else []
        if language == "python" and before and before[0].strip() == SETUP_MARK:
            setup.append(body)
            continue
        if language != "console":
            continue
        commands: list[Command] = []
        lines = body.splitlines()
        i = 0
        while i < len(lines):
            line = lines[i]
            if line.startswith("$ "):
                command = line[2:]
                while command.rstrip().endswith("\\") and i + 1 < len(lines):
                    i += 1
                    command = command.rstrip()[:-1] + " " + lines[i].strip()
                commands.append(Command(_COMMENT.sub("", command).strip()))
            elif commands and line.strip():
                commands[-1].shown.append(_COMMENT.sub("", line))
            i += 1
        if commands:
            blocks.append(Block(str(path.relative_to(root)), start, commands, setup))
            setup = []
    return blocks


def _normal(line: str) -> str:
    return " ".join(line.split())


def _matches(shown: str, printed: str) -> bool:
    parts = [re.escape(part) for part in _normal(shown).split("…")]
    return re.fullmatch(".*".join(parts), _normal(printed)) is not None


def compare(command: Command, printed: list[str], code: int) -> list[str]:
    """What differs between the page and the run of one command (empty: they agree)."""
    problems = []
    remaining = [line for line in printed if line.strip()]
    for shown in command.shown:
        hit = next((line for line in remaining if _matches(shown, line)), None)
        if hit is None:
            problems.append(f"the page shows a line the command does not print: {shown!r}")
        else:
            remaining.remove(hit)
    unshown = [line for line in remaining if line.startswith(("error:", "warning:"))]
    problems += [f"the command prints a line the page does not show: {line!r}" for line in unshown]
    if code != 0 and not any(_normal(s).startswith("error:") for s in command.shown):
        problems.append(f"the command exited {code}; the page shows no error for it")
    return problems


def environment(bin_dir: Path) -> dict[str, str]:
    """The environment the commands run in: this interpreter's ``sleepfm`` first on PATH, a fixed
    width for tables, colour off."""
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", "COLUMNS": "100",
            "NO_COLOR": "1", "TERM": "dumb"}


_PLAIN_SLEEPFM = re.compile(r"^sleepfm\s[^|;&<>`$*?]*$")


def _in_process(command: str, cwd: Path, columns: int) -> tuple[int, list[str]]:
    """A plain ``sleepfm ...`` command run by this process's CLI (the same code, no start-up cost):
    its exit code and printed lines, stdout then stderr as a subprocess gives them."""
    import contextlib
    import io
    import shlex

    from sleepfm.cli import console
    from sleepfm.cli.app import main

    out, err = io.StringIO(), io.StringIO()
    widths = console.out.width, console.err.width
    previous = Path.cwd()
    try:
        os.chdir(cwd)
        console.out.width = console.err.width = columns
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(shlex.split(command)[1:])
    finally:
        os.chdir(previous)
        console.out.width, console.err.width = widths
    return code, (out.getvalue() + err.getvalue()).splitlines()


def run_block(block: Block, cwd: Path, env: dict[str, str] | None = None, timeout: float = 600,
              in_process: bool = False) -> list[str]:
    """Run ``block`` in ``cwd`` (its setup first); return what differs from the page. With
    ``in_process``, plain ``sleepfm`` commands (no pipes, no globs) run in this process."""
    env = env or environment(Path(sys.executable).parent)
    for source in block.setup:
        subprocess.run([sys.executable, "-c", source], cwd=cwd, env=env, check=True, timeout=timeout,
                       capture_output=True)
    problems: list[str] = []
    last_code = 0
    for command in block.commands:
        if command.text == "echo $?":
            if command.shown != [str(last_code)]:
                problems.append(f"exit code {last_code}, the page shows {command.shown}")
            continue
        if in_process and _PLAIN_SLEEPFM.match(command.text):
            last_code, printed = _in_process(command.text, cwd, int(env["COLUMNS"]))
        else:
            text = re.sub(r"^ls ", "ls -C ", command.text)  # columns, as in a terminal
            done = subprocess.run(["bash", "-c", text], cwd=cwd, env=env, capture_output=True, text=True,
                                  timeout=timeout)
            last_code, printed = done.returncode, (done.stdout + done.stderr).splitlines()
        found = compare(command, printed, last_code)
        followed_by_code = block.commands.index(command) + 1 < len(block.commands) and \
            block.commands[block.commands.index(command) + 1].text == "echo $?"
        if followed_by_code:
            found = [p for p in found if not p.startswith("the command exited")]
        problems += [f"$ {command.text}: {p}" for p in found]
    return problems


def runnable_blocks(root: Path, pages: list[Path]) -> list[Block]:
    return [block for page in pages for block in parse(page, root) if block.runnable]
