"""Running a trained head over embeddings to get the predictions the metrics score."""

from __future__ import annotations

from sleepfm.config.evaluate import EvaluateConfig


def split_ids(config: EvaluateConfig, name: str) -> list[str] | None:
    """Study IDs of split ``name`` in the task's split file, or ``None`` when no file is given."""
    split = (config.staging if config.task == "staging" else config.diagnosis).split
    if split.file is None:
        return None
    from sleepfm.train.splits import read_split_file

    return read_split_file(split.file).ids(name)
