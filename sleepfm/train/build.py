"""From a resolved workflow config to a :class:`~sleepfm.train.trainer.Task`: find the studies,
split them, read their labels, and build the registered network and loss.

Head hyper-parameters the data decide (``embed_dim`` of the embeddings, ``num_classes`` =
the number of outcome columns or 5 stages, ``num_covariates``) are given to
:func:`sleepfm.registry.create`, which fills them, refuses a user value that differs and a head
that does not declare them — before any training starts. The filled values are recorded in the
run's resolved config.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sleepfm.config.training import (
    FinetuneDiagnosisConfig,
    FinetuneStagingConfig,
    PretrainConfig,
    SplitConfig,
)
from sleepfm.errors import ConfigError, InputError
from sleepfm.interfaces.channel_mapper import ChannelMapper
from sleepfm.interfaces.modality import MODALITIES
from sleepfm.labels.tables import read_demographics, read_outcomes
from sleepfm.map import make_mapper
from sleepfm.store.embedding_store import EmbeddingStore
from sleepfm.store.signal_store import iter_stores
from sleepfm.train.datasets import (
    EmbeddingDataset,
    SignalChunkDataset,
    channel_widths,
    find_embedding_files,
    index_signal_stores,
)
from sleepfm.train.labels import N_STAGES, find_label_files, read_stage_tokens
from sleepfm.train.splits import (
    ParticipantMap,
    generate_split,
    participant_overlaps,
    read_split_file,
    study_id,
)
from sleepfm.train.tasks import DiagnosisTask, PretrainTask, StagingTask
from sleepfm.train.trainer import Task

log = logging.getLogger(__name__)


@dataclass
class Built:
    """A task plus what the run folder records about its data."""

    task: Task
    splits: dict[str, list[Path]]
    root: Path | None
    notes: list[str]


def _participants(split: SplitConfig) -> ParticipantMap:
    return ParticipantMap(split.participants, split.participant_pattern)


def _check_leakage(split: SplitConfig, ids: Mapping[str, list[str]], notes: list[str]) -> None:
    if split.leakage == "off":
        return
    overlaps = participant_overlaps({k: v for k, v in ids.items() if v}, _participants(split))
    if not overlaps:
        return
    detail = "; ".join(f"{a}/{b}: {len(p)}" for (a, b), p in overlaps.items())
    message = f"the split file puts participants in two splits ({detail} participants)"
    if split.leakage == "error":
        raise InputError(message, where=split.file, fix="split by participant (leave data.split.file unset) "
                         "or set data.split.leakage=warn")
    notes.append(message)
    log.warning("%s: %s", split.file, message)


def split_studies(split: SplitConfig, available: Mapping[str, Path], root: Path | None, names: tuple[str, ...],
                  notes: list[str]) -> dict[str, list[str]]:
    """Study IDs of each split in ``names`` (train first), restricted to ``available`` ones."""
    if split.file is not None:
        split_file = read_split_file(split.file, split.root or root)
        if names[0] not in split_file.paths:
            split_file.paths_of(names[0])  # raises, naming the splits the file has
        ids = {name: split_file.ids(name) if name in split_file.paths else [] for name in names}
        _check_leakage(split, {n: split_file.ids(n) for n in split_file.paths}, notes)
        for name, members in ids.items():
            absent = [s for s in members if s not in available]
            if absent:
                notes.append(f"{len(absent)} of {len(members)} {name} studies of the split file have no data "
                             f"(e.g. {absent[0]})")
        return {name: [s for s in members if s in available] for name, members in ids.items()}
    fractions = {names[1]: split.validation_fraction}
    if len(names) > 2:
        fractions[names[2]] = split.test_fraction
    generated = generate_split(available, _participants(split), fractions=fractions, rest=names[0], seed=split.seed)
    return {name: generated.get(name, []) for name in names}


def _mapper(config: PretrainConfig) -> ChannelMapper | None:
    data = config.data
    if data.channel_mapper is None and data.channel_map is None:
        return None
    return make_mapper(data.channel_mapper or "table", data.channel_map)


def build_pretrain(config: PretrainConfig) -> Built:
    data, notes = config.data, []
    names = (data.split.train, data.split.validation, data.split.test)
    if data.split.file is None:
        if data.signals is None:
            raise ConfigError("data.signals is not set", fix="point it at the folder `sleepfm preprocess` wrote")
        available = _unique_ids(iter_stores([data.signals]), data.signals)
    else:
        root = data.split.root or data.signals
        split_file = read_split_file(data.split.file, root)
        available = {study_id(p): p for n in split_file.paths for p in split_file.paths[n] if p.is_file()}
    ids = split_studies(data.split, available, data.split.root or data.signals, names, notes)
    mapper = _mapper(config)
    indexed = {}
    for name in names[:2]:
        studies, skipped = index_signal_stores([available[s] for s in ids[name]], mapper)
        indexed[name] = studies
        if skipped:
            notes.append(f"{len(skipped)} {name} studies left out ({skipped[0][0].name}: {skipped[0][1]}"
                         f"{', …' if len(skipped) > 1 else ''})")
    if not indexed[names[0]]:
        raise InputError(f"no usable {names[0]} study (each needs BAS, RESP, EKG and EMG channels and 5 minutes)",
                         where=data.signals or data.split.file,
                         fix="check the channel modalities with `sleepfm channels`, or set data.channel_map")
    widths = channel_widths(indexed[names[0]])
    caps = {m.value: data.max_channels.get(m.value) for m in MODALITIES}
    unknown = set(data.max_channels) - set(caps)
    if unknown:
        raise ConfigError(f"data.max_channels has unknown modality {', '.join(sorted(unknown))}",
                          fix=f"use {', '.join(caps)}")
    widths = tuple(min(w, caps[m.value] or w) for w, m in zip(widths, MODALITIES, strict=True))
    train = SignalChunkDataset(indexed[names[0]], widths, max_open_files=data.max_open_files)
    val = SignalChunkDataset(indexed[names[1]], widths, max_open_files=data.max_open_files) if indexed[names[1]] \
        else None
    model = config.model.create("model")
    loss = config.loss.create("loss", task="contrastive")
    task = PretrainTask(model, config.model.name, loss, train, val)
    return Built(task, {n: [available[s] for s in ids[n]] for n in names}, data.split.root or data.signals, notes)


def _unique_ids(paths: Any, folder: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in paths:
        sid = study_id(path)
        if sid in found:
            raise InputError(f"two files for study {sid!r}: {found[sid]} and {path}", where=folder)
        found[sid] = path
    return found


def _embeddings(folder: Path | None) -> dict[str, Path]:
    if folder is None:
        raise ConfigError("data.embeddings is not set", fix="point it at the folder `sleepfm embed` wrote")
    found = find_embedding_files(folder)
    if not found:
        raise InputError("no embedding files (*.h5, *.hdf5)", where=folder, fix="run `sleepfm embed` first")
    return found


def _embed_dim(path: Path) -> int:
    with EmbeddingStore(path) as store:
        return store.embed_dim


def _head_and_loss(config: FinetuneStagingConfig | FinetuneDiagnosisConfig, task: str, given: dict[str, Any]
                   ) -> tuple[Any, Any]:
    """The head, given the data's values (recorded in the run's resolved config), and the loss."""
    head = config.head.create("head", task=task, given=given)
    config.head.params = {**config.head.params, **given}
    return head, config.loss.create("loss", task=task)


def build_staging(config: FinetuneStagingConfig) -> Built:
    data, notes = config.data, []
    embeddings = _embeddings(data.embeddings)
    if data.labels is None:
        raise ConfigError("data.labels is not set", fix="point it at the folder of hypnograms / staging CSVs")
    labels = find_label_files(data.labels)
    available = {s: p for s, p in embeddings.items() if s in labels}
    if len(available) < len(embeddings):
        notes.append(f"{len(embeddings) - len(available)} studies with embeddings have no hypnogram")
    names = (data.split.train, data.split.validation, data.split.test)
    ids = split_studies(data.split, available, data.embeddings, names, notes)
    stages = {s: read_stage_tokens(labels[s]) for s in ids[names[0]] + ids[names[1]]}
    if not ids[names[0]]:
        raise InputError("no training study has both embeddings and stage labels", where=data.embeddings)
    given = {"embed_dim": _embed_dim(available[ids[names[0]][0]]), "num_classes": N_STAGES}
    head, loss = _head_and_loss(config, "staging", given)

    def dataset(name: str) -> EmbeddingDataset | None:
        if not ids[name]:
            return None
        return EmbeddingDataset({s: available[s] for s in ids[name]}, stages=stages, unscored=data.unscored,
                                max_tokens=data.max_tokens)

    task = StagingTask(head, config.head.name, loss, dataset(names[0]), dataset(names[1]))  # type: ignore[arg-type]
    return Built(task, {n: [available[s] for s in ids[n]] for n in names}, data.embeddings, notes)


def build_diagnosis(config: FinetuneDiagnosisConfig) -> Built:
    data, notes = config.data, []
    embeddings = _embeddings(data.embeddings)
    if data.is_event is None or data.time_to_event is None:
        raise ConfigError("data.is_event and data.time_to_event must both be set",
                          fix="the published is_event.csv / time_to_event.csv pair")
    outcomes = read_outcomes(data.is_event, data.time_to_event)
    uses_covariates = bool(getattr(config.head.component(), "uses_covariates", False))
    covariates, covariate_names = None, []
    if uses_covariates:
        if data.demographics is None:
            raise ConfigError(f"head {config.head.name!r} uses demographics but data.demographics is not set",
                              fix="a CSV Study ID,age,sex or the published Study ID,age,gender (docs/tables.md), "
                              "or a head without covariates (head.name=coxph)")
        covariates, covariate_names = read_demographics(data.demographics, data.encoding)
    known = set(outcomes.ids) & (set(covariates) if covariates is not None else set(outcomes.ids))
    available = {s: p for s, p in embeddings.items() if s in known}
    if len(available) < len(embeddings):
        notes.append(f"{len(embeddings) - len(available)} studies with embeddings lack outcomes"
                     + (" or demographics" if uses_covariates else ""))
    names = (data.split.train, data.split.validation, data.split.test)
    ids = split_studies(data.split, available, data.embeddings, names, notes)
    if not ids[names[0]]:
        raise InputError("no training study has embeddings and outcomes", where=data.embeddings)
    if 0 < len(ids[names[1]]) < 2:
        notes.append(f"the {names[1]} split has {len(ids[names[1]])} study: a Cox loss over one study is always 0, "
                     "so it cannot pick the best model (raise data.split.validation_fraction)")
    given: dict[str, Any] = {"embed_dim": _embed_dim(available[ids[names[0]][0]]), "num_classes": len(outcomes.names)}
    if uses_covariates:
        given["num_covariates"] = len(covariate_names)
    head, loss = _head_and_loss(config, "diagnosis", given)

    def dataset(name: str) -> EmbeddingDataset | None:
        if not ids[name]:
            return None
        return EmbeddingDataset({s: available[s] for s in ids[name]}, outcomes=outcomes, covariates=covariates,
                                max_tokens=data.max_tokens)

    task = DiagnosisTask(head, config.head.name, loss, dataset(names[0]), dataset(names[1]))  # type: ignore[arg-type]
    return Built(task, {n: [available[s] for s in ids[n]] for n in names}, data.embeddings, notes)


BUILDERS = {"pretrain": build_pretrain, "finetune-staging": build_staging, "finetune-diagnosis": build_diagnosis}
