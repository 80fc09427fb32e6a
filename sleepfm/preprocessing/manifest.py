"""The batch manifest: one CSV row per study, kept across runs.

``manifest.csv`` in the output folder (``manifest.shard-I-of-N.csv`` for a shard, so the
tasks of a job array never overwrite each other's). Rows are keyed by output file: a
re-run updates the rows of the studies it touched and keeps the others. The file is
rewritten atomically (a temporary named like the stores', so a killed run's leftover is
cleaned up the same way), at most every few seconds while a batch runs and once at its end.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterable
from pathlib import Path

from sleepfm.preprocessing.convert import StudyResult
from sleepfm.store.signal_writer import write_text_atomically

COLUMNS = ("file", "output", "status", "channels", "modalities", "duration_s", "seconds", "reader", "warnings",
           "error")


def manifest_name(shard: str | None) -> str:
    if shard is None:
        return "manifest.csv"
    index, total = shard.split("/")
    return f"manifest.shard-{index}-of-{total}.csv"


def result_row(result: StudyResult) -> dict[str, str]:
    return {
        "file": result.file,
        "output": Path(result.output).name,
        "status": result.status,
        "channels": str(result.channels),
        "modalities": " ".join(result.modalities),
        "duration_s": f"{result.duration:g}",
        "seconds": f"{result.seconds:g}",
        "reader": result.backend,
        "warnings": " | ".join(result.warnings),
        "error": result.error,
    }


def read_manifest(path: Path) -> dict[str, dict[str, str]]:
    """Rows of an existing manifest by output name (empty if there is none or it is unreadable)."""
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            return {row["output"]: row for row in csv.DictReader(handle) if row.get("output")}
    except (OSError, csv.Error, KeyError, UnicodeDecodeError):
        return {}


class Manifest:
    """Accumulates rows and writes them out atomically, throttled to every ``interval`` seconds."""

    def __init__(self, path: Path, interval: float = 5.0) -> None:
        self.path = Path(path)
        self.rows = read_manifest(self.path)
        self.interval = interval
        self._written = 0.0

    def add(self, results: Iterable[StudyResult]) -> None:
        for result in results:
            row = result_row(result)
            previous = self.rows.get(row["output"])
            if result.status == "skipped" and previous is not None and previous.get("file") == row["file"]:
                # Reused, not redone: how long it took and which library read it stay those of the run that made it.
                row["seconds"], row["reader"] = previous.get("seconds", ""), previous.get("reader", "")
            self.rows[row["output"]] = row
        if time.monotonic() - self._written >= self.interval:
            self.write()

    def write(self) -> Path:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for key in sorted(self.rows):
            writer.writerow({column: self.rows[key].get(column, "") for column in COLUMNS})
        write_text_atomically(self.path, buffer.getvalue())
        self._written = time.monotonic()
        return self.path
