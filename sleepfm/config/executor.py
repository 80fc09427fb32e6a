"""The executor settings every fanning-out command shares (``preprocess``, ``embed``, ``stage``,
``run``): one set of config keys, one validator, one shard rule."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal, TypeVar

from pydantic import Field, NonNegativeFloat, NonNegativeInt, field_validator

from sleepfm.config.base import ConfigModel

T = TypeVar("T")


class ExecutorOptions(ConfigModel):
    """Where per-study tasks run (a base of the workflow configs that fan out; docs/scale.md)."""

    executor: Literal["local", "dask"] = Field(
        "local", description="local: worker processes on this machine; dask: one task per study on a dask cluster.")
    scheduler: str | None = Field(
        None, description="Address of a running dask scheduler (e.g. from dask-jobqueue); default: a LocalCluster.")
    shard: str | None = Field(
        None, description="'I/N': only the I-th (0-based) of N interleaved shards of the sorted studies.")
    retries: NonNegativeInt = Field(
        2, description="Times a study is tried again when its worker dies or it fails unexpectedly.")
    gpu_wait: NonNegativeFloat = Field(
        60.0, description="Seconds a GPU task waits for a dask worker advertising a GPU resource before failing.")

    @field_validator("shard")
    @classmethod
    def _check_shard(cls, value: str | None) -> str | None:
        if value is None:
            return value
        parse_shard(value)
        return value.strip()


def parse_shard(shard: str) -> tuple[int, int]:
    """``"I/N"`` → ``(I, N)``; a ``ValueError`` unless ``0 <= I < N``."""
    match = re.fullmatch(r"(\d+)/(\d+)", shard.strip())
    if not match or int(match[2]) < 1 or int(match[1]) >= int(match[2]):
        raise ValueError("shard must be I/N with 0 <= I < N, e.g. 0/4")
    return int(match[1]), int(match[2])


def select_shard(items: Sequence[T], shard: str | None) -> list[T]:
    """Every N-th item from the I-th: the tasks of a job array split a sorted list without talking."""
    if shard is None:
        return list(items)
    index, total = parse_shard(shard)
    return list(items[index::total])


def shard_suffix(shard: str | None) -> str:
    """``""``, or ``".shard-I-of-N"`` for names that the shards of one output folder must not share."""
    if shard is None:
        return ""
    index, total = parse_shard(shard)
    return f".shard-{index}-of-{total}"
