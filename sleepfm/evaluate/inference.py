"""Running a trained head over embeddings to get the predictions the metrics score.

``--checkpoint`` may be a model folder (``config.json`` + weights, sleepfm's or published)
or a training run folder from ``sleepfm finetune`` (its ``best/`` model is used). A run
folder also supplies what the evaluation config leaves unset: the data paths of the run's
``config.resolved.yaml`` and the studies of its ``split.json``, so
``sleepfm evaluate staging --checkpoint runs/staging --out eval/`` scores the run's own
held-out split.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import sleepfm
from sleepfm.config.base import read_yaml
from sleepfm.config.evaluate import EvaluateConfig
from sleepfm.errors import CheckpointError, InputError, UsageError
from sleepfm.evaluate.staging import StudyPredictions
from sleepfm.labels.tables import read_demographics, read_outcomes
from sleepfm.train.labels import find_label_files, read_stage_tokens
from sleepfm.train.splits import read_split_file

log = logging.getLogger(__name__)

MODEL_CONFIG = "config.json"
RUN_CONFIG = "config.resolved.yaml"
RUN_SPLIT = "split.json"


@dataclass(frozen=True)
class ResolvedCheckpoint:
    model: Path
    run: Path | None

    def run_data(self) -> dict[str, Any]:
        """The ``data:`` section of the training run's resolved config ({} without a run)."""
        if self.run is None or not (self.run / RUN_CONFIG).is_file():
            return {}

        return dict(read_yaml(self.run / RUN_CONFIG).get("data") or {})


def resolve_checkpoint(path: Path) -> ResolvedCheckpoint:
    path = Path(path)
    if (path / MODEL_CONFIG).is_file():
        # best/, final/ or checkpoints/step-N/ inside a run folder: find the run around it.
        for run in (path.parent, path.parent.parent):
            if (run / RUN_SPLIT).is_file():
                return ResolvedCheckpoint(path, run)
        return ResolvedCheckpoint(path, None)
    for name in ("best", "final"):
        if (path / name / MODEL_CONFIG).is_file():
            return ResolvedCheckpoint(path / name, path)
    raise CheckpointError("not a checkpoint folder (no config.json) nor a training run (no best/ or final/)",
                          where=path, fix="pass the --out folder of `sleepfm finetune` or a model folder")


def split_ids(config: EvaluateConfig, name: str) -> list[str] | None:
    """Study IDs of split ``name``: from the task's split file, else the checkpoint run's ``split.json``;
    ``None`` when neither exists (every study is evaluated)."""
    split = (config.staging if config.task == "staging" else config.diagnosis).split
    path = split.file
    if path is None and config.checkpoint is not None:
        run = resolve_checkpoint(config.checkpoint).run
        path = run / RUN_SPLIT if run is not None else None
    if path is None:
        return None

    return read_split_file(path).ids(name)


def _setting(config_value: Path | None, run_data: dict[str, Any], key: str) -> Path | None:
    if config_value is not None:
        return Path(config_value)
    value = run_data.get(key)
    return Path(value) if value else None


def outcome_tables(config: EvaluateConfig) -> tuple[Path | None, Path | None]:
    """``is_event`` and ``time_to_event`` paths: the config's, else the checkpoint run's."""
    run_data = resolve_checkpoint(config.checkpoint).run_data() if config.checkpoint is not None else {}
    return (_setting(config.diagnosis.is_event, run_data, "is_event"),
            _setting(config.diagnosis.time_to_event, run_data, "time_to_event"))


def _device(name: str) -> Any:
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UsageError("device cuda requested but no GPU is available", fix="use --device cpu")
    return torch.device(name)


def _load_head(config: EvaluateConfig, task: str) -> tuple[Any, ResolvedCheckpoint]:
    resolved = resolve_checkpoint(config.checkpoint)  # type: ignore[arg-type]
    head = sleepfm.load_model(resolved.model)
    head_task = getattr(head, "task", None)
    if head_task is not None and head_task != task:
        raise CheckpointError(f"this is a {head_task} head, not a {task} head", where=resolved.model,
                              fix=f"use `sleepfm evaluate {head_task}`")
    return head, resolved


def _batches(dataset: Any, ids: list[str], batch_size: int) -> Iterator[tuple[dict[str, Any], list[int]]]:
    from sleepfm.train.datasets import collate_embeddings

    for start in range(0, len(ids), batch_size):
        items = [dataset[i] for i in range(start, min(start + batch_size, len(ids)))]
        yield collate_embeddings(items), [int(item["x"].shape[1]) for item in items]


def _selected(available: dict[str, Path], wanted: list[str] | None, what: str) -> dict[str, Path]:
    if wanted is None:
        log.warning("no split file: evaluating every study with embeddings and %s", what)
        return available
    chosen = {s: available[s] for s in wanted if s in available}
    if len(chosen) < len(wanted):
        log.warning("%d of %d studies of the split have no embeddings or %s", len(wanted) - len(chosen),
                    len(wanted), what)
    return chosen


def predict_staging(config: EvaluateConfig) -> list[StudyPredictions]:
    """Softmax stage probabilities per 5-s token for every study of the evaluated split."""
    import torch

    from sleepfm.train.datasets import EmbeddingDataset, find_embedding_files

    head, resolved = _load_head(config, "staging")
    run_data = resolved.run_data()
    embeddings = _setting(config.staging.embeddings, run_data, "embeddings")
    labels_dir = _setting(config.staging.labels, run_data, "labels")
    if embeddings is None or labels_dir is None:
        raise UsageError("staging evaluation needs embeddings and hypnograms",
                         fix="pass --embeddings DIR --labels DIR (or a training run as --checkpoint)")
    labels = find_label_files(labels_dir)
    available = {s: p for s, p in find_embedding_files(embeddings).items() if s in labels}
    studies = _selected(available, split_ids(config, config.split), "hypnograms")
    if not studies:
        raise InputError(f"no {config.split} study has both embeddings and a hypnogram", where=embeddings)
    ids = sorted(studies)
    stages = {s: read_stage_tokens(labels[s]) for s in ids}
    # Unscored tokens stay -1 here whatever the run trained with: they never count in the metrics.
    dataset = EmbeddingDataset({s: studies[s] for s in ids}, stages=stages, unscored="mask")
    device = _device(config.device)
    head = head.to(device).eval()
    results: list[StudyPredictions] = []
    with torch.inference_mode():
        for batch, lengths in _batches(dataset, ids, config.batch_size):
            logits, temporal_mask = head(batch["x"].to(device), batch["mask"].to(device))
            probabilities = torch.softmax(logits.float(), dim=-1).cpu().numpy()
            valid = ~temporal_mask.bool().cpu().numpy()
            targets = batch["targets"].numpy()
            for b, (study, length) in enumerate(zip(batch["study"], lengths, strict=True)):
                results.append(StudyPredictions(study, probabilities[b, :length], targets[b, :length],
                                                valid[b, :length]))
    return results


def predict_risk(config: EvaluateConfig) -> pd.DataFrame:
    """Log-hazards (studies × outcomes) of the evaluated split, columns named like ``is_event.csv``."""
    import torch

    from sleepfm.train.datasets import EmbeddingDataset, find_embedding_files

    head, resolved = _load_head(config, "diagnosis")
    run_data = resolved.run_data()
    data = config.diagnosis
    embeddings = _setting(data.embeddings, run_data, "embeddings")
    is_event, time_to_event = outcome_tables(config)
    if embeddings is None or is_event is None or time_to_event is None:
        raise UsageError("diagnosis evaluation needs embeddings and the outcome tables",
                         fix="pass --embeddings DIR --labels DIR (or a training run as --checkpoint)")
    outcomes = read_outcomes(is_event, time_to_event)
    covariates = None
    if getattr(head, "uses_covariates", False):
        demographics = _setting(data.demographics, run_data, "demographics")
        if demographics is None:
            raise UsageError("this head uses demographics",
                             fix="pass --demographics FILE (Study ID,age,sex or Study ID,age,gender; docs/tables.md)")
        covariates, _ = read_demographics(demographics, data.encoding)
    known = set(outcomes.ids) & (set(covariates) if covariates is not None else set(outcomes.ids))
    available = {s: p for s, p in find_embedding_files(embeddings).items() if s in known}
    studies = _selected(available, split_ids(config, config.split), "outcomes")
    if not studies:
        raise InputError(f"no {config.split} study has embeddings and outcomes", where=embeddings)
    ids = sorted(studies)
    dataset = EmbeddingDataset({s: studies[s] for s in ids}, covariates=covariates)
    device = _device(config.device)
    head = head.to(device).eval()
    rows: list[np.ndarray] = []
    with torch.inference_mode():
        for batch, _ in _batches(dataset, ids, config.batch_size):
            args = [batch["x"].to(device), batch["mask"].to(device)]
            if covariates is not None:
                args.append(batch["covariates"].to(device))
            rows.append(head(*args).float().cpu().numpy())
    risk = np.concatenate(rows)
    if risk.shape[1] != len(outcomes.names):
        raise CheckpointError(f"the head predicts {risk.shape[1]} outcomes, the label tables have "
                              f"{len(outcomes.names)}", where=resolved.model,
                              fix="evaluate with the is_event/time_to_event files the head was trained on")
    return pd.DataFrame(risk, index=ids, columns=outcomes.names)
