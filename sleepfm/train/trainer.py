"""The training loop shared by pretraining and both fine-tunings.

A :class:`Task` says what is trained (a base model or a head), on which data, and how one
batch becomes a loss; :class:`Trainer` does the rest: optimiser and schedule, gradient
accumulation, bf16 autocast on CUDA, DDP under ``torchrun``, validation with best-model
selection by *validation* loss, resumable checkpoints, metrics, progress, and stopping with
one line on a non-finite loss.

Exact resume: the data order of an epoch is a function of (seed, epoch, rank)
(:class:`~sleepfm.train.sampler.ResumableSampler`), DataLoaders draw their seeds from a
private generator rather than the global RNG, and a checkpoint stores the RNG states as they
were right after its step. A run stopped and resumed from step k therefore replays steps
k+1… with the same batches and the same dropout masks as an uninterrupted run.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.progress import Progress
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.optim.lr_scheduler import ReduceLROnPlateau
from torch.utils.data import BatchSampler, DataLoader, Dataset

from sleepfm.errors import InputError, SleepfmError, UsageError
from sleepfm.interfaces.loss import Loss
from sleepfm.json_output import write_json
from sleepfm.train import distributed as dist
from sleepfm.train.checkpoint import (
    BEST,
    CHECKPOINTS,
    FINAL,
    TrainState,
    capture_rng,
    list_checkpoints,
    load_model_weights,
    load_trainer_state,
    restore_rng,
    save_checkpoint,
    save_model_folder,
)
from sleepfm.train.metrics_log import MetricsLog, training_progress
from sleepfm.train.optim import build_optimizer, build_scheduler, current_lr
from sleepfm.train.sampler import ResumableSampler

log = logging.getLogger(__name__)


class NonFiniteLossError(SleepfmError):
    """The loss became NaN or infinite: training stops rather than corrupting the weights."""


class Task(ABC):
    """What one workflow trains.

    ``network`` is saved (registry ``kind``/``name``); ``module`` is what runs forward (the
    network itself, or a wrapper around it) and is what DDP wraps.
    """

    network: nn.Module
    kind: str
    name: str
    loss: Loss
    train_set: Dataset
    val_set: Dataset | None
    collate: Callable[[list[Any]], Any]
    drop_last: bool = False
    #: What a base model's input is (saved with it); None for heads.
    signal: dict[str, float] | None = None

    @property
    def module(self) -> nn.Module:
        return self.network

    @abstractmethod
    def batch_loss(self, module: nn.Module, batch: Any, device: torch.device) -> tuple[torch.Tensor, int]:
        """The loss of one batch and its number of items."""

    @abstractmethod
    def validate(self, module: nn.Module, batches: Iterable[Any], device: torch.device) -> dict[str, float]:
        """Validation metrics over every batch of this rank (collectives allowed); must include ``loss``."""


class Trainer:
    """Runs a :class:`Task` with the ``trainer``/``optimizer``/``scheduler`` sections of a config."""

    def __init__(self, task: Task, config: Any, run: Path, device: torch.device, *, resume: bool = False,
                 console: Console | None = None, on_step: Callable[[int], None] | None = None) -> None:
        self.task, self.config, self.run, self.device = task, config, Path(run), device
        self.tc = config.trainer
        self.resume = resume
        self.console = console
        self.on_step = on_step
        # More loader processes than cores only adds contention (a published config asks for 8).
        self.num_workers = min(self.tc.num_workers, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                               else os.cpu_count() or 1)
        if self.num_workers < self.tc.num_workers:
            log.info("trainer.num_workers %d lowered to the %d cores available", self.tc.num_workers,
                     self.num_workers)
        self.use_amp = bool(self.tc.amp and device.type == "cuda")
        if self.tc.amp and not self.use_amp:
            log.warning("trainer.amp needs a CUDA device; training in float32")

    # ------------------------------------------------------------------ set-up
    def _loader(self, dataset: Dataset, sampler: ResumableSampler, *, drop_last: bool, seed: int) -> DataLoader:
        return DataLoader(
            dataset,
            batch_sampler=BatchSampler(sampler, self.tc.batch_size, drop_last=drop_last),
            collate_fn=self.task.collate,
            num_workers=self.num_workers,
            pin_memory=self.device.type == "cuda",
            # A private generator: creating a loader never draws from the global RNG, so a
            # resumed run's dropout stream matches the uninterrupted run's.
            generator=torch.Generator().manual_seed(seed),
        )

    def _micro_batches_per_epoch(self, n_items: int) -> int:
        per_rank = math.ceil(n_items / dist.world_size())
        if self.task.drop_last:
            return per_rank // self.tc.batch_size
        return math.ceil(per_rank / self.tc.batch_size)

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.use_amp:
            return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    # ------------------------------------------------------------------ main loop
    def fit(self) -> dict[str, Any]:
        task, tc = self.task, self.tc
        module = task.module.to(self.device)
        task.loss.to(self.device)
        micro_per_epoch = self._micro_batches_per_epoch(len(task.train_set))  # type: ignore[arg-type]
        if micro_per_epoch == 0:
            raise InputError(f"the training split has {len(task.train_set)} items, fewer than one batch "  # type: ignore[arg-type]
                             f"of {tc.batch_size} per process", fix="lower trainer.batch_size or add studies")
        steps_per_epoch = math.ceil(micro_per_epoch / tc.accumulation_steps)
        total_steps = tc.epochs * steps_per_epoch
        if tc.max_steps is not None:
            total_steps = min(total_steps, tc.max_steps)
        self.optimizer = build_optimizer(self.config.optimizer, task.network, task.loss)
        self.scheduler = build_scheduler(self.config.scheduler, self.optimizer, total_epochs=tc.epochs,
                                         total_steps=total_steps)
        self.state = self._restore() if self.resume else self._fresh()
        self._saved_at = (self.state.step, self.state.epoch, self.state.batches_in_epoch) if self.resume else None
        self.rng_after_step = capture_rng()
        self._validated: tuple[tuple[int, int], dict[str, float]] | None = None
        wrapped: nn.Module = module
        if dist.world_size() > 1:
            wrapped = DistributedDataParallel(
                module, device_ids=[self.device.index] if self.device.type == "cuda" else None)
        self.metrics = MetricsLog(self.run, tc, resume_step=self.state.step if self.resume else None,
                                  enabled=dist.is_main(), run_config=self.config.model_dump(mode="json"))
        sampler = ResumableSampler(len(task.train_set), shuffle=True, seed=tc.seed,  # type: ignore[arg-type]
                                   rank=dist.rank(), world=dist.world_size())
        started = time.monotonic()
        progress = training_progress(self.console if dist.is_main() else None)
        try:
            with progress:
                bar = progress.add_task("training", total=total_steps, completed=self.state.step, loss="")
                self._epochs(wrapped, module, sampler, micro_per_epoch, total_steps, progress, bar)
        except KeyboardInterrupt:
            self._save_on_interrupt()
            raise
        finally:
            self.metrics.close()
        self._save_checkpoint()
        return self._finish(started)

    def _epochs(self, wrapped: nn.Module, module: nn.Module, sampler: ResumableSampler, micro_per_epoch: int,
                total_steps: int, progress: Progress, bar: Any) -> None:
        task, tc, state = self.task, self.tc, self.state
        while state.epoch < tc.epochs and state.step < total_steps:
            sampler.set_epoch(state.epoch)
            sampler.skip(state.batches_in_epoch * tc.batch_size)
            loader = self._loader(task.train_set, sampler, drop_last=task.drop_last, seed=tc.seed + state.epoch)
            window: list[tuple[float, int]] = []
            tick = time.monotonic()
            micro = state.batches_in_epoch
            for batch in loader:
                group_end = (micro + 1) % tc.accumulation_steps == 0 or micro + 1 == micro_per_epoch
                sync = contextlib.nullcontext() if group_end or wrapped is module else wrapped.no_sync()
                with sync:
                    with self._autocast():
                        loss, n_items = task.batch_loss(wrapped, batch, self.device)
                    value = float(loss.detach())
                    if dist.any_rank(not math.isfinite(value), self.device):
                        self._stop_non_finite(value, micro + 1, micro_per_epoch)
                    (loss / tc.accumulation_steps).backward()
                micro += 1
                window.append((value, n_items))
                state.extra["epoch_loss_sum"] = state.extra.get("epoch_loss_sum", 0.0) + value * n_items
                state.extra["epoch_items"] = state.extra.get("epoch_items", 0) + n_items
                if not group_end:
                    continue
                self._optimizer_step(micro - state.batches_in_epoch)
                state.batches_in_epoch = micro
                progress.update(bar, completed=state.step, loss=f"loss {value:.4f}")
                if state.step % tc.log_every == 0 or state.step == total_steps:
                    self._log_train(window, time.monotonic() - tick)
                    window = []
                if tc.eval_every and state.step % tc.eval_every == 0 and micro < micro_per_epoch:
                    self._validate_and_select(module, epoch_end=False)
                if tc.checkpoint_every and state.step % tc.checkpoint_every == 0 and micro < micro_per_epoch:
                    self._save_checkpoint()
                if self.on_step is not None:
                    self.on_step(state.step)
                if state.step >= total_steps:
                    break
                if not window:
                    tick = time.monotonic()  # throughput excludes validation and checkpoint time
            if micro == micro_per_epoch:
                self._end_epoch(module)
                if tc.checkpoint_every:
                    self._save_checkpoint()
            elif state.step >= total_steps:
                # Stopped mid-epoch by max_steps: the final weights still compete for best.
                self._validate_and_select(module, epoch_end=False)

    def _optimizer_step(self, group_size: int) -> None:
        tc = self.tc
        if group_size < tc.accumulation_steps:
            # A short last group of the epoch: its gradients were divided by the full count.
            for parameter in self._parameters():
                if parameter.grad is not None:
                    parameter.grad.mul_(tc.accumulation_steps / group_size)
        dist.average_gradients([p for p in self.task.loss.parameters() if p.requires_grad])
        if tc.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(self._parameters(), tc.grad_clip)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        after = getattr(self.task.loss, "after_optimizer_step", None)
        if after is not None:
            after()
        self.state.step += 1
        if self.scheduler is not None and self.config.scheduler.interval == "step" and not isinstance(
                self.scheduler, ReduceLROnPlateau):
            self.scheduler.step()
        self.rng_after_step = capture_rng()

    def _parameters(self) -> list[torch.nn.Parameter]:
        return [p for group in self.optimizer.param_groups for p in group["params"]]

    def _end_epoch(self, module: nn.Module) -> None:
        state = self.state
        items = dist.all_reduce_sum(torch.tensor(float(state.extra.get("epoch_items", 0)), device=self.device))
        total = dist.all_reduce_sum(torch.tensor(state.extra.get("epoch_loss_sum", 0.0), device=self.device))
        train_loss = float(total / items.clamp(min=1))
        val = self._validate_and_select(module, epoch_end=True)
        if self.scheduler is not None and self.config.scheduler.interval == "epoch":
            if isinstance(self.scheduler, ReduceLROnPlateau):
                self.scheduler.step(val["loss"] if val is not None else train_loss)
            else:
                self.scheduler.step()
        self.metrics.write({"split": "train_epoch", "step": state.step, "epoch": state.epoch + 1,
                            "loss": train_loss, "lr": current_lr(self.optimizer)})
        state.epoch += 1
        state.batches_in_epoch = 0
        for key in ("epoch_loss_sum", "epoch_items"):
            state.extra.pop(key, None)
        self.rng_after_step = capture_rng()

    # ------------------------------------------------------------------ validation
    def _validate_and_select(self, module: nn.Module, *, epoch_end: bool) -> dict[str, float] | None:
        task, state = self.task, self.state
        if task.val_set is None or len(task.val_set) == 0:  # type: ignore[arg-type]
            return None
        if self._validated is not None and self._validated[0] == (state.step, state.epoch):
            return self._validated[1]
        sampler = ResumableSampler(len(task.val_set), shuffle=False, seed=0,  # type: ignore[arg-type]
                                   rank=dist.rank(), world=dist.world_size())
        loader = self._loader(task.val_set, sampler, drop_last=False, seed=0)
        module.eval()
        task.loss.eval()
        try:
            with torch.no_grad(), self._autocast():
                metrics = task.validate(module, loader, self.device)
        finally:
            module.train()
            task.loss.train()
        if (self.scheduler is not None and isinstance(self.scheduler, ReduceLROnPlateau)
                and self.config.scheduler.interval == "step" and not epoch_end):
            self.scheduler.step(metrics["loss"])
        record = {"split": "validation", "step": state.step, "epoch": state.epoch + 1, **metrics}
        self.metrics.write(record)
        if self.console is not None and dist.is_main():
            shown = "  ".join(f"{k} {v:.4f}" for k, v in metrics.items())
            self.console.print(f"step {state.step}: validation {shown}", highlight=False)
        if math.isfinite(metrics["loss"]) and (state.best_loss is None or metrics["loss"] < state.best_loss):
            state.best_loss, state.best_step = metrics["loss"], state.step
            if dist.is_main():
                save_model_folder(task.network, self.run / BEST, task.kind, task.name, task.signal)
                write_json(self.run / BEST / "best.json", {"step": state.step, "epoch": state.epoch + 1, **metrics})
        self._validated = ((state.step, state.epoch), metrics)
        return metrics

    # ------------------------------------------------------------------ checkpoints
    def _payload(self, rng: dict[str, Any]) -> dict[str, Any] | None:
        states = [rng]
        if dist.is_distributed():
            states = [None] * dist.world_size()  # type: ignore[list-item]
            torch.distributed.all_gather_object(states, rng)
        if not dist.is_main():
            return None
        return {
            "state": {k: v for k, v in vars(self.state).items()},
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "loss": self.task.loss.state_dict(),
            "rng": states,
            "world_size": dist.world_size(),
        }

    def _save_checkpoint(self) -> None:
        position = (self.state.step, self.state.epoch, self.state.batches_in_epoch)
        if position == self._saved_at:
            return
        payload = self._payload(self.rng_after_step)
        if payload is not None:
            save_checkpoint(self.run, self.task.network, self.task.kind, self.task.name, payload, self.state.step,
                            self.tc.keep_checkpoints, self.task.signal)
        self._saved_at = position
        dist.barrier()

    def _save_on_interrupt(self) -> None:
        if dist.is_distributed() or self.state.step == 0:
            return
        payload = self._payload(self.rng_after_step)
        if payload is None:
            return
        # Weights are those of the last completed step; the partial accumulation is dropped.
        path = save_checkpoint(self.run, self.task.network, self.task.kind, self.task.name, payload,
                               self.state.step, self.tc.keep_checkpoints, self.task.signal)
        if self.console is not None:
            self.console.print(f"interrupted: step {self.state.step} saved to {path}; continue with --resume",
                               highlight=False)

    def _fresh(self) -> TrainState:
        if list_checkpoints(self.run):
            raise UsageError("the output folder already holds a training run", where=self.run,
                             fix="pass --resume to continue it, or choose another --out")
        return TrainState()

    def _restore(self) -> TrainState:
        checkpoints = list_checkpoints(self.run)
        if not checkpoints:
            raise UsageError(f"--resume: no checkpoint in {self.run / CHECKPOINTS}", where=self.run,
                             fix="start without --resume (set trainer.checkpoint_every to save checkpoints)")
        folder = checkpoints[-1]
        payload = load_trainer_state(folder)
        load_model_weights(self.task.network, folder)
        self.optimizer.load_state_dict(payload["optimizer"])
        if self.scheduler is not None and payload["scheduler"] is not None:
            self.scheduler.load_state_dict(payload["scheduler"])
        self.task.loss.load_state_dict(payload["loss"])
        if payload["world_size"] != dist.world_size():
            log.warning("resuming a %d-process run with %d processes: the data order differs from the original",
                        payload["world_size"], dist.world_size())
        states = payload["rng"]
        restore_rng(states[dist.rank()] if dist.rank() < len(states) else states[0])
        state = TrainState(**payload["state"])
        if self.console is not None and dist.is_main():
            self.console.print(f"resuming from {folder} (step {state.step}, epoch {state.epoch + 1})",
                               highlight=False)
        return state

    # ------------------------------------------------------------------ reporting
    def _log_train(self, window: list[tuple[float, int]], seconds: float) -> None:
        items = sum(n for _, n in window)
        local = torch.tensor([sum(v * n for v, n in window), float(items)], device=self.device)
        total = dist.all_reduce_sum(local)
        record = {"split": "train", "step": self.state.step, "epoch": self.state.epoch + 1,
                  "loss": float(total[0] / total[1].clamp(min=1)), "lr": current_lr(self.optimizer),
                  "items_per_second": float(total[1]) / max(seconds, 1e-9)}
        record.update(getattr(self.task.loss, "last_metrics", {}) or {})
        self.metrics.write(record)

    def _stop_non_finite(self, value: float, micro: int, micro_per_epoch: int) -> None:
        step = self.state.step + 1
        last = list_checkpoints(self.run)
        where = f"the last checkpoint is {last[-1]}" if last else "no checkpoint was saved yet"
        self.metrics.write({"split": "train", "step": step, "epoch": self.state.epoch + 1, "event": "non-finite loss"})
        raise NonFiniteLossError(
            f"loss is {value if math.isfinite(value) else 'nan or inf'} at step {step} (epoch {self.state.epoch + 1}, "
            f"batch {micro} of {micro_per_epoch}); training stopped",
            fix=f"{where}: lower optimizer.lr or set trainer.grad_clip, then --resume",
        )

    def _finish(self, started: float) -> dict[str, Any]:
        state = self.state
        summary = {"steps": state.step, "epochs": state.epoch, "best_validation_loss": state.best_loss,
                   "best_step": state.best_step, "seconds": round(time.monotonic() - started, 3),
                   "final": str(self.run / FINAL), "best": str(self.run / BEST) if state.best_step else None}
        if dist.is_main():
            save_model_folder(self.task.network, self.run / FINAL, self.task.kind, self.task.name, self.task.signal)
            write_json(self.run / "summary.json", summary)
        dist.barrier()
        return summary
