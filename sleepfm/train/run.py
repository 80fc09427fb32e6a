"""Run a training workflow end to end: process group, seeds, task, run folder, trainer."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console

from sleepfm.config.base import RESOLVED_CONFIG_NAME, WorkflowConfig, dump_yaml, read_yaml, save_resolved_config
from sleepfm.errors import SleepfmError, UsageError
from sleepfm.quality.reference import Reference
from sleepfm.train import distributed as dist
from sleepfm.train.build import BUILDERS
from sleepfm.train.checkpoint import list_checkpoints, seed_everything
from sleepfm.train.splits import write_split_file
from sleepfm.train.trainer import Trainer

log = logging.getLogger(__name__)

SPLIT_NAME = "split.json"
# Keys a resumed run may change without changing what it computes up to the resume point.
_RESUMABLE_CHANGES = ("trainer.epochs", "trainer.max_steps", "trainer.eval_every", "trainer.checkpoint_every",
                      "trainer.keep_checkpoints", "trainer.log_every", "trainer.num_workers", "trainer.tensorboard",
                      "trainer.wandb_project", "out")


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for key, value in data.items():
            out.update(_flatten(value, f"{prefix}{key}."))
        return out
    return {prefix.rstrip("."): data}


def changed_keys(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """Dotted keys whose value differs between a run's saved config and the resumed one."""
    before, after = _flatten(saved), _flatten(current)
    return sorted(k for k in set(before) | set(after)
                  if before.get(k) != after.get(k) and not k.startswith(_RESUMABLE_CHANGES))


def run_training(config: WorkflowConfig, *, resume: bool = False, console: Console | None = None,
                 on_step: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Train as ``config`` says, writing into ``config.out``; returns the run summary."""
    out: Path | None = getattr(config, "out", None)
    if out is None:
        raise UsageError("no output folder", fix="pass --out DIR (or set out: in the config)")
    run = Path(out)
    if not resume and list_checkpoints(run):
        raise UsageError("the output folder already holds a training run", where=run,
                         fix="pass --resume to continue it, or choose another --out")
    device = dist.init_from_env(config.trainer.device)  # type: ignore[attr-defined]
    try:
        seed_everything(config.trainer.seed)  # type: ignore[attr-defined]  # same initial weights on every rank
        built = BUILDERS[config.workflow](config)  # type: ignore[operator]
        if dist.is_main():
            for note in built.notes:
                log.warning(note)
            saved = run / RESOLVED_CONFIG_NAME
            if resume and saved.is_file():
                differing = changed_keys(read_yaml(saved), _flatten_source(config))
                if differing:
                    log.warning("resuming with a different %s than the run started with", ", ".join(differing))
            save_resolved_config(config, run)
            write_split_file(run / SPLIT_NAME, {name: [_relative(p, built.root) for p in paths]
                                                for name, paths in built.splits.items()})
            if console is not None:
                sizes = ", ".join(f"{name} {len(paths)}" for name, paths in built.splits.items())
                console.print(f"{config.workflow}: studies {sizes}; {len(built.task.train_set)} training items "  # type: ignore[arg-type]
                              f"on {dist.world_size()} process(es), {device}", highlight=False)
        dist.barrier()
        seed_everything(config.trainer.seed + dist.rank())  # type: ignore[attr-defined]  # distinct dropout per rank
        trainer = Trainer(built.task, config, run, device, resume=resume, console=console, on_step=on_step)
        summary = trainer.fit()
        if dist.is_main() and config.workflow in ("finetune-staging", "finetune-diagnosis"):
            _write_reference(run, built.splits.get("train", []), config.workflow)
        return summary
    finally:
        dist.shutdown()


def _write_reference(run: Path, train: list[Path], workflow: str) -> None:
    """Reference statistics of the training nights' embeddings beside the fine-tuned head (its best/
    and final/ folders), for the foreign-data warning of ``stage``, ``risk`` and ``run``."""

    try:
        reference = Reference.build(train, source=f"sleepfm {workflow}: its training nights")
    except SleepfmError as exc:
        log.warning("no reference statistics written: %s", exc)
        return
    for folder in (run / "best", run / "final"):
        if (folder / "config.json").is_file():
            reference.save(folder)


def _flatten_source(config: WorkflowConfig) -> dict[str, Any]:
    return yaml.safe_load(dump_yaml(config))


def _relative(path: Path, root: Path | None) -> str:
    if root is not None:
        try:
            return str(Path(path).resolve().relative_to(Path(root).resolve()))
        except ValueError:
            pass
    return str(path)
