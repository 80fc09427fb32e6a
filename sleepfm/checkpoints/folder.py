"""Checkpoint folders: load either format, save ours, convert between the two.

sleepfm's format is a folder with

``config.json``
    ``{"format": "sleepfm-checkpoint", "format_version": 1, "kind": "models", "name":
    "set-transformer", "params": {…the component's Config…}, "weights": "weights.safetensors",
    "signal": {"sampling_rate": 128.0, "chunk_seconds": 300.0}, "published": {…}|null,
    "sleepfm_version": "…"}`` — the registry component and its hyper-parameters, so any
    registered network (a plugin's too) is saved and rebuilt the same way; ``published`` keeps
    the original published ``config.json`` of a converted checkpoint so that converting back
    restores it exactly;
``weights.safetensors``
    the state dict (safetensors: a weights file that cannot carry code).

The published format is described in :mod:`.published`.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from sleepfm import __version__, registry
from sleepfm.errors import CheckpointError, SleepfmError, UsageError
from sleepfm.file_modes import make_shareable
from sleepfm.json_input import read_json
from sleepfm.registry_records import KINDS

from .budget import ParameterBudget
from .published import (
    PUBLISHED_CLASSES,
    WEIGHTS_CANDIDATES,
    WEIGHTS_FILE,
    published_config_for,
    read_published_config,
)
from .reading import StateDict, read_weights
from .strict import check_strict, load_strict

FORMAT = "sleepfm-checkpoint"
FORMAT_VERSION = 1
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "weights.safetensors"
TORCH_KINDS = ("tokenizers", "poolers", "models", "heads", "losses")
Semantics = Literal["sleepfm", "published"]


@dataclass
class Checkpoint:
    """A loaded checkpoint: the module (eval mode) and where it came from."""

    module: nn.Module
    kind: str
    name: str
    path: Path
    source: Literal["sleepfm", "published"]
    params: dict[str, Any]
    signal: dict[str, float] = field(default_factory=dict)
    published_config: dict[str, Any] | None = None


def checkpoint_folder(path: Path) -> Path:
    """The folder of a checkpoint given as its folder, its config.json or its weights file."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError("checkpoint not found", where=path, fix="pass the folder holding config.json")
    return path if path.is_dir() else path.parent


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise CheckpointError("no config.json in the checkpoint folder", where=path.parent,
                              fix="a checkpoint folder holds config.json beside its weights")
    data = read_json(path, "config.json", error=CheckpointError)
    if not isinstance(data, dict):
        raise CheckpointError("config.json must hold a JSON object", where=path)
    return data


def _weights_inside(folder: Path, entry: object) -> Path:
    """The weights file a sleepfm config.json names: a file name inside the checkpoint folder."""
    relative = Path(entry) if isinstance(entry, str) and entry.strip() else None
    if relative is None or relative.is_absolute() or ".." in relative.parts:
        raise CheckpointError(f"its weights entry {entry!r} points outside the checkpoint folder", where=folder /
                              CONFIG_NAME, fix="a checkpoint's weights live in its folder: name the file, e.g. "
                              f"{WEIGHTS_NAME!r}, and copy it there")
    return folder / relative


def _published_weights(folder: Path, given: Path) -> Path:
    if given.is_file() and given.suffix in (".pt", ".pth"):
        return given
    for name in WEIGHTS_CANDIDATES:
        if (folder / name).is_file():
            return folder / name
    raise CheckpointError("no weights file in the checkpoint folder", where=folder,
                          fix=f"expected one of {', '.join(WEIGHTS_CANDIDATES)}")


def build(kind: str, name: str, params: dict[str, Any], *, where: str | Path) -> nn.Module:
    """The registered component ``kind``/``name`` built from ``params`` (:func:`sleepfm.registry.create`),
    refusing bad ones in one line."""
    return registry.create(kind, name, params, error=CheckpointError, where=where)


def build_for_weights(kind: str, name: str, params: dict[str, Any], state: StateDict, *, where: Path,
                      weights: Path) -> nn.Module:
    """Build the component ``params`` describe, but only once they are known to fit ``state``.

    It is first built on the meta device (no memory) under a parameter budget: as soon as it
    registers several times more parameters, or values, than the weights hold, the build
    stops (a config.json asking for 100,000 layers is refused after a few). The result is
    compared key by key and shape by shape with the weights (a mismatch gets its table);
    only then is the real network built and loaded. A component that cannot be built on the
    meta device is built for real under the same budget.
    """
    what = f"{KINDS[kind]} {name!r}"
    budget = ParameterBudget(state, where=where, weights=weights)
    try:
        with torch.device("meta"), budget:
            probe: nn.Module | None = build(kind, name, params, where=where)
    except SleepfmError:
        raise
    except Exception:  # noqa: BLE001 - needs real tensors to build: the budget still guards the real build
        probe = None
    if probe is not None:
        check_strict(probe, state, where=weights, what=what)
    try:
        with budget:
            module = build(kind, name, params, where=where)
    except (MemoryError, RuntimeError) as exc:  # an allocation the hyper-parameters ask for failed
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"cannot build {what}: {message}", where=where,
                              fix="config.json asks for a network larger than this machine can hold") from None
    load_strict(module, state, where=weights, what=what)
    return module


def _with_semantics(kind: str, name: str, params: dict[str, Any], semantics: Semantics) -> dict[str, Any]:
    if semantics == "sleepfm" or (kind, name) != ("models", "set-transformer"):
        return params
    pooler = dict(params.get("channel_pooler") or {"name": "attention"})
    if pooler.get("name") == "attention":
        pooler["params"] = {**pooler.get("params", {}), "single_slot": "batch"}
    return {**params, "channel_pooler": pooler}


def load_checkpoint(path: Path, *, semantics: Semantics = "sleepfm") -> Checkpoint:
    """Load a published or sleepfm checkpoint folder strictly, in eval mode on the CPU.

    ``semantics="published"`` reproduces the published batch-dependent single-channel
    shortcut of the base model (see :mod:`sleepfm.embedding.pooling`); the default decides it per
    item. Everything else is identical.
    """
    given = Path(path)
    folder = checkpoint_folder(given)
    config = _read_json(folder / CONFIG_NAME)
    if config.get("format") == FORMAT:
        kind, name = str(config.get("kind", "")), str(config.get("name", ""))
        if kind not in TORCH_KINDS or not name or not isinstance(config.get("params"), dict):
            raise CheckpointError("config.json lacks kind, name or params", where=folder / CONFIG_NAME)
        version = config.get("format_version", FORMAT_VERSION)
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise CheckpointError(f"format_version is {version!r}, not a whole number of 1 or more",
                                  where=folder / CONFIG_NAME, fix=f"sleepfm writes format_version {FORMAT_VERSION}")
        if version > FORMAT_VERSION:
            raise CheckpointError(f"written by a newer sleepfm (format {version})", where=folder,
                                  fix="upgrade sleepfm")
        params, signal = config["params"], dict(config.get("signal") or {})
        weights, source = _weights_inside(folder, config.get("weights", WEIGHTS_NAME)), "sleepfm"
        published = config.get("published")
    elif "model" in config:
        kind, name, params, signal = read_published_config(config, str(folder / CONFIG_NAME))
        weights, source, published = _published_weights(folder, given), "published", config
    else:
        raise CheckpointError("config.json is neither sleepfm's nor a published SleepFM config", where=folder,
                              fix=f"published configs name a model ({', '.join(PUBLISHED_CLASSES)})")
    module = build_for_weights(kind, name, _with_semantics(kind, name, params, semantics), read_weights(weights),
                               where=folder / CONFIG_NAME, weights=weights)
    module.eval()
    return Checkpoint(module, kind, name, folder, source, params, signal, published)  # type: ignore[arg-type]


def load_model(path: Path, *, semantics: Semantics = "sleepfm") -> nn.Module:
    """The network of a checkpoint folder (published or sleepfm's), strictly loaded, in eval mode.

    Call signatures are the published ones: a base model ``model(x, mask) -> (pooled, sequence)``,
    a staging head ``head(x, mask) -> (logits, temporal_mask)``, a diagnosis head
    ``head(x, mask, demo) -> hazards``.
    """
    return load_checkpoint(path, semantics=semantics).module


def stated_component(path: Path) -> tuple[str, str, dict[str, Any]]:
    """``(kind, name, params)`` a checkpoint folder's config.json states (either format), without
    reading its weights or building it."""
    folder = checkpoint_folder(path)
    config = _read_json(folder / CONFIG_NAME)
    if config.get("format") == FORMAT and isinstance(config.get("params"), dict):
        return str(config.get("kind", "")), str(config.get("name", "")), dict(config["params"])
    if "model" in config:
        kind, name, params, _ = read_published_config(config, str(folder / CONFIG_NAME))
        return kind, name, params
    raise CheckpointError("config.json is neither sleepfm's nor a published SleepFM config", where=folder)


def registered_name(module: nn.Module) -> tuple[str, str]:
    """The registry ``(kind, name)`` whose class is exactly ``type(module)``."""
    for kind in TORCH_KINDS:
        for entry in registry.get_registry().entries(kind):
            if entry.load() is type(module):
                return kind, entry.name
    raise CheckpointError(f"{type(module).__name__} is not a registered component",
                          fix="register it through a plugin, or pass kind= and name=")


def _write_folder(folder: Path, overwrite: bool, fill: Any) -> Path:
    """Write a folder under a temporary name via ``fill(tmp)``, then move it into place."""
    folder = Path(folder)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())) and not overwrite:
        raise UsageError("output exists and is not empty", where=folder, fix="choose another folder or --overwrite")
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.with_name(f".{folder.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        fill(tmp)
        if folder.exists():
            shutil.rmtree(folder) if folder.is_dir() else folder.unlink()
        os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def save_model(
    module: nn.Module,
    folder: Path,
    *,
    kind: str | None = None,
    name: str | None = None,
    signal: dict[str, float] | None = None,
    published_config: dict[str, Any] | None = None,
    overwrite: bool = False,
) -> Path:
    """Save a registered component as a sleepfm checkpoint folder (config.json + safetensors)."""
    from safetensors.torch import save_file


    if kind is None or name is None:
        kind, name = registered_name(module)
    config = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "kind": kind, "name": name,
        "params": module.config.model_dump(mode="json"),  # type: ignore[union-attr]
        "weights": WEIGHTS_NAME, "signal": signal or {}, "published": published_config,
        "sleepfm_version": __version__,
    }
    state = {key: value.detach().cpu().contiguous() for key, value in module.state_dict().items()}

    def fill(tmp: Path) -> None:
        save_file(state, str(tmp / WEIGHTS_NAME), metadata={"format": "pt", "kind": kind, "name": name})
        make_shareable(tmp / WEIGHTS_NAME)  # safetensors creates its file owner-only
        (tmp / CONFIG_NAME).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")

    return _write_folder(folder, overwrite, fill)


def save_published(checkpoint: Checkpoint, folder: Path, *, overwrite: bool = False) -> Path:
    """Write ``checkpoint`` in the published layout (config.json + best.pt/best.pth, ``module.`` keys)."""
    config = checkpoint.published_config or published_config_for(
        checkpoint.kind, checkpoint.name, checkpoint.params, checkpoint.signal)
    filename, wrapped = WEIGHTS_FILE[checkpoint.kind]
    state = {f"module.{key}": value.detach().cpu() for key, value in checkpoint.module.state_dict().items()}

    def fill(tmp: Path) -> None:
        torch.save({"state_dict": state} if wrapped else state, tmp / filename)
        (tmp / CONFIG_NAME).write_text(json.dumps(config, indent=4), encoding="utf-8")

    return _write_folder(folder, overwrite, fill)


def convert_checkpoint(src: Path, dst: Path, *, to: Literal["sleepfm", "published"] | None = None,
                       overwrite: bool = False) -> Checkpoint:
    """Convert a checkpoint folder to the other format (or the one named by ``to``); returns the
    loaded source. The weights are checked by a strict load on the way."""
    checkpoint = load_checkpoint(src)
    target = to or ("published" if checkpoint.source == "sleepfm" else "sleepfm")
    if Path(dst).resolve() == checkpoint.path.resolve():
        raise UsageError("the output folder is the checkpoint itself", where=dst, fix="choose another folder")
    if target == "sleepfm":
        save_model(checkpoint.module, dst, kind=checkpoint.kind, name=checkpoint.name, signal=checkpoint.signal,
                   published_config=checkpoint.published_config, overwrite=overwrite)
    else:
        save_published(checkpoint, dst, overwrite=overwrite)
    return checkpoint
