"""The three training tasks: contrastive pretraining, staging and diagnosis fine-tuning.

Each turns a batch from :mod:`sleepfm.train.datasets` into the registered loss's inputs.
Components come from the registry by the names in the config, so a plugin's model, head or
loss is trained the same way as the built-ins.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import torch
from torch import nn

from sleepfm.interfaces.head import Head
from sleepfm.interfaces.loss import Loss
from sleepfm.store.signal_store import CHUNK_SECONDS, PUBLISHED_RATE
from sleepfm.train import distributed as dist
from sleepfm.train.datasets import EmbeddingDataset, PadSignals, SignalChunkDataset, collate_embeddings
from sleepfm.train.labels import N_STAGES
from sleepfm.train.trainer import Task


def _to(batch: dict[str, Any], device: torch.device, keys: Iterable[str]) -> list[Any]:
    return [batch[k].to(device, non_blocking=True) for k in keys]


class ModalityEncoder(nn.Module):
    """Runs one base model over each modality of a batch: ``[pooled (B, E)]`` per modality.

    One module so that DDP sees a single forward per step for all four passes.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, signals: list[torch.Tensor], masks: list[torch.Tensor]) -> list[torch.Tensor]:
        return [self.model(x, mask)[0] for x, mask in zip(signals, masks, strict=True)]


class PretrainTask(Task):
    """Contrastive pretraining of a base model on 5-minute multimodal items (SPEC §5)."""

    kind = "models"
    drop_last = True  # every step contrasts a full batch, as published

    def __init__(self, model: nn.Module, name: str, loss: Loss, train_set: SignalChunkDataset,
                 val_set: SignalChunkDataset | None) -> None:
        self.network, self.name, self.loss = model, name, loss
        self.signal = {"sampling_rate": PUBLISHED_RATE, "chunk_seconds": float(CHUNK_SECONDS)}
        self.encoder = ModalityEncoder(model)
        self.train_set, self.val_set = train_set, val_set
        self.collate = PadSignals(train_set.widths)

    @property
    def module(self) -> nn.Module:
        return self.encoder

    def batch_loss(self, module: nn.Module, batch: dict[str, Any], device: torch.device) -> tuple[torch.Tensor, int]:
        signals = [x.to(device, non_blocking=True) for x in batch["signals"]]
        masks = [m.to(device, non_blocking=True) for m in batch["masks"]]
        return self.loss(module(signals, masks)), signals[0].shape[0]

    def validate(self, module: nn.Module, batches: Iterable[Any], device: torch.device) -> dict[str, float]:
        totals = torch.zeros(3, device=device)
        for batch in batches:
            loss, n = self.batch_loss(module, batch, device)
            accuracy = self.loss.last_metrics.get("retrieval_accuracy", 0.0)  # type: ignore[union-attr]
            totals += torch.tensor([float(loss) * n, accuracy * n, n], device=device)
        totals = dist.all_reduce_sum(totals)
        n = float(totals[2].clamp(min=1))
        return {"loss": float(totals[0]) / n, "retrieval_accuracy": float(totals[1]) / n}


def _call_head(head: nn.Module, batch: dict[str, Any], device: torch.device, uses_covariates: bool) -> Any:
    x, mask = _to(batch, device, ("x", "mask"))
    if uses_covariates:
        return head(x, mask, batch["covariates"].to(device))
    return head(x, mask)


class HeadTask(Task):
    """A head trained on embedding items (:class:`EmbeddingDataset`)."""

    kind = "heads"

    def __init__(self, head: Head, name: str, loss: Loss, train_set: EmbeddingDataset,
                 val_set: EmbeddingDataset | None) -> None:
        self.network, self.name, self.loss = head, name, loss
        self.train_set, self.val_set = train_set, val_set
        self.collate = collate_embeddings
        self.uses_covariates = bool(getattr(head, "uses_covariates", False))


class StagingTask(HeadTask):
    """A staging head on per-modality 5-s embeddings with per-token stage targets (SPEC §7.1)."""

    def _forward(self, module: nn.Module, batch: dict[str, Any], device: torch.device
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        logits, temporal_mask = _call_head(module, batch, device, self.uses_covariates)
        targets = batch["targets"].to(device)[:, : logits.shape[1]]
        return logits, targets, temporal_mask.bool() | (targets < 0)

    def batch_loss(self, module: nn.Module, batch: dict[str, Any], device: torch.device) -> tuple[torch.Tensor, int]:
        logits, targets, ignore = self._forward(module, batch, device)
        return self.loss(logits, targets, ignore), logits.shape[0]

    def validate(self, module: nn.Module, batches: Iterable[Any], device: torch.device) -> dict[str, float]:
        totals = torch.zeros(2, device=device)
        confusion = torch.zeros(N_STAGES, N_STAGES, device=device)
        for batch in batches:
            logits, targets, ignore = self._forward(module, batch, device)
            loss = self.loss(logits, targets, ignore)
            totals += torch.tensor([float(loss) * logits.shape[0], logits.shape[0]], device=device)
            keep = ~ignore
            truth, predicted = targets[keep], logits[keep].argmax(-1)
            inside = (truth < N_STAGES) & (predicted < N_STAGES)
            confusion += torch.bincount(truth[inside] * N_STAGES + predicted[inside],
                                        minlength=N_STAGES * N_STAGES).reshape(N_STAGES, N_STAGES).float()
        totals, confusion = dist.all_reduce_sum(totals), dist.all_reduce_sum(confusion)
        return {"loss": float(totals[0] / totals[1].clamp(min=1)), **stage_scores(confusion.cpu().numpy())}


def stage_scores(confusion: np.ndarray) -> dict[str, float]:
    """Token accuracy and macro-F1 (over classes that occur) from a confusion matrix (rows = truth)."""
    total = confusion.sum()
    tp = np.diag(confusion)
    support, predicted = confusion.sum(1), confusion.sum(0)
    present = support > 0
    f1 = np.divide(2 * tp, support + predicted, out=np.zeros_like(tp, dtype=float), where=(support + predicted) > 0)
    return {"accuracy": float(tp.sum() / total) if total else float("nan"),
            "macro_f1": float(f1[present].mean()) if present.any() else float("nan")}


class DiagnosisTask(HeadTask):
    """A survival head (log-hazard per outcome) on embeddings, with optional covariates (SPEC §8.1)."""

    def batch_loss(self, module: nn.Module, batch: dict[str, Any], device: torch.device) -> tuple[torch.Tensor, int]:
        hazards = _call_head(module, batch, device, self.uses_covariates)
        times, events = _to(batch, device, ("times", "events"))
        return self.loss(hazards, times, events), hazards.shape[0]

    def validate(self, module: nn.Module, batches: Iterable[Any], device: torch.device) -> dict[str, float]:
        # One loss over the whole validation set: risk sets are not cut at batch boundaries.
        hazards, times, events, studies = [], [], [], []
        for batch in batches:
            hazards.append(_call_head(module, batch, device, self.uses_covariates).float().cpu())
            times.append(batch["times"])
            events.append(batch["events"])
            studies += batch["study"]
        parts = (torch.cat(hazards), torch.cat(times), torch.cat(events), studies)
        if dist.world_size() > 1:
            # Every process evaluates the union once: the padding that evens out the ranks'
            # shares would otherwise put a study twice into the risk sets.
            gathered: list[Any] = [None] * dist.world_size()
            torch.distributed.all_gather_object(gathered, parts)
            seen: set[str] = set()
            rows = []
            for part in gathered:
                for h, t, e, study in zip(*part, strict=True):
                    if study not in seen:
                        seen.add(study)
                        rows.append((h, t, e))
            parts = (*(torch.stack(column) for column in zip(*rows, strict=True)), sorted(seen))
        with _local(self.loss):
            return {"loss": float(self.loss(*(p.to(device) for p in parts[:3])))}


@contextlib.contextmanager
def _local(loss: Loss) -> Iterator[None]:
    """The loss without its cross-process gather (its inputs are already global)."""
    config = getattr(loss, "config", None)
    gather = getattr(config, "gather", None)
    if gather is None:
        yield
        return
    config.gather = False  # type: ignore[union-attr]
    try:
        yield
    finally:
        config.gather = gather  # type: ignore[union-attr]
