"""Checkpoints: published SleepFM folders and sleepfm's own, loaded strictly and safely.

``load_model(path)`` is exported as ``sleepfm.load_model``.
"""

from sleepfm.checkpoints.folder import (
    Checkpoint,
    convert_checkpoint,
    load_checkpoint,
    load_model,
    save_model,
    save_published,
)
from sleepfm.checkpoints.strict import CheckpointMismatchError

__all__ = [
    "Checkpoint",
    "CheckpointMismatchError",
    "convert_checkpoint",
    "load_checkpoint",
    "load_model",
    "save_model",
    "save_published",
]
