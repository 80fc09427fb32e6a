"""DDP on CPU (gloo): gathered losses equal the single-process loss of the same global batch,
gradients match, and ``torchrun -m sleepfm pretrain`` trains like one process with the global batch."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import torch
import torch.distributed as torch_dist
from safetensors.torch import load_file
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from sleepfm.config import load_config
from sleepfm.train.losses.contrastive import ContrastiveConfig, ContrastiveLoss
from sleepfm.train.losses.coxph import CoxPHConfig, CoxPHLoss
from sleepfm.train.losses.cross_entropy import CrossEntropyConfig, CrossEntropyLoss
from sleepfm.train.run import run_training

from .conftest import REPO
from .test_train_support import install_tiny, write_embedding_cohort, write_outcomes, write_signal_cohort

WORLD = 2
BATCH = 8  # global; each rank takes BATCH / WORLD rows


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PerModality(nn.Module):
    """One network over several inputs in a single forward (what DDP expects)."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Linear(6, 5)

    def forward(self, inputs: list[torch.Tensor]) -> list[torch.Tensor]:
        return [self.net(x) for x in inputs]


def global_inputs() -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(11)
    times = torch.randint(1, 6, (BATCH, 3), generator=generator).float()  # ties across ranks
    times[1, 2] = float("nan")
    return {
        "signals": torch.randn(4, BATCH, 6, generator=generator),
        "features": torch.randn(BATCH, 6, generator=generator),
        "times": times,
        "events": (torch.rand(BATCH, 3, generator=generator) < 0.6).float(),
        "tokens": torch.randn(BATCH, 7, 6, generator=generator),
        "targets": torch.randint(-1, 5, (BATCH, 7), generator=generator),
    }


def losses_and_grads(rows: slice, wrap) -> dict[str, object]:
    """Each loss and the gradients of its network, for the rows this process holds."""
    data = global_inputs()
    results: dict[str, object] = {}
    for name, loss in (("leave_one_out", ContrastiveLoss(ContrastiveConfig(mode="leave_one_out", temperature=0.4))),
                       ("pairwise", ContrastiveLoss(ContrastiveConfig(mode="pairwise"))),
                       ("efron", CoxPHLoss(CoxPHConfig(ties="efron"))),
                       ("sorted", CoxPHLoss(CoxPHConfig(ties="sorted"))),
                       ("cross-entropy", CrossEntropyLoss(CrossEntropyConfig(class_weights=[1, 4, 2, 4, 3])))):
        torch.manual_seed(0)
        module = PerModality()
        model = wrap(module)
        if name in ("leave_one_out", "pairwise"):
            value = loss(model([x[rows] for x in data["signals"]]))
        elif name in ("efron", "sorted"):
            hazards = model([data["features"][rows]])[0][:, :3]
            value = loss(hazards, data["times"][rows], data["events"][rows])
        else:
            logits = model([data["tokens"][rows]])[0]
            targets = data["targets"][rows]
            value = loss(logits, targets, torch.zeros_like(targets, dtype=torch.bool))
        value.backward()
        results[name] = {"loss": float(value.detach()), "grad": module.net.weight.grad.clone(),
                         "temperature": [p.grad.clone() for p in loss.parameters() if p.grad is not None]}
    return results


def _worker(rank: int, out: str) -> None:
    # A file store in the test's own folder: no port that another test could take in between,
    # and a collective stuck for two minutes fails the test instead of hanging the suite.
    torch_dist.init_process_group("gloo", init_method=f"file://{Path(out) / 'rendezvous'}", rank=rank,
                                  world_size=WORLD, timeout=timedelta(seconds=120))
    try:
        share = BATCH // WORLD
        results = losses_and_grads(slice(rank * share, (rank + 1) * share), DistributedDataParallel)
        results["validation"] = diagnosis_validation(Path(out), rank, WORLD)
        torch.save(results, Path(out) / f"rank{rank}.pt")
    finally:
        torch_dist.destroy_process_group()


@pytest.mark.slow
def test_two_gloo_processes_match_one_process(tmp_path: Path, make_plugin) -> None:
    """Gathered losses and their gradients equal the single-process ones on the global batch, and
    diagnosis validation counts each study once although the odd set is padded across ranks."""
    install_tiny(make_plugin)
    ids = [f"v{i}" for i in range(5)]
    write_embedding_cohort(tmp_path, ids)
    write_outcomes(tmp_path, ids)
    # spawn, not fork: forking a process that already runs torch and pytest-xdist threads can deadlock.
    torch.multiprocessing.start_processes(_worker, args=(str(tmp_path),), nprocs=WORLD, start_method="spawn")
    single_validation = diagnosis_validation(tmp_path, 0, 1)
    single = losses_and_grads(slice(None), lambda module: module)
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(WORLD)]
    for name, expected in single.items():
        for rank in ranks:
            reported = rank[name]
            if name == "cross-entropy":
                # Each rank's value is its share of the global sum (DDP averages them).
                assert sum(r[name]["loss"] for r in ranks) / WORLD == pytest.approx(expected["loss"], rel=1e-5)
            else:
                assert reported["loss"] == pytest.approx(expected["loss"], rel=1e-5), name
            # DDP averages the per-rank gradients; each equals the single-process gradient.
            torch.testing.assert_close(reported["grad"], expected["grad"], rtol=1e-4, atol=1e-6, msg=name)
        if name == "leave_one_out":
            torch.testing.assert_close(ranks[0][name]["temperature"][0], expected["temperature"][0], rtol=1e-4,
                                       atol=1e-6)
    for rank in ranks:
        assert rank["validation"] == pytest.approx(single_validation, rel=1e-6)


def diagnosis_validation(folder: Path, rank: int, world: int) -> float:
    """Validation loss of a tiny Cox head over 5 studies, sharded as the trainer shards it."""
    from sleepfm import registry
    from sleepfm.labels.tables import read_demographics, read_outcomes
    from sleepfm.train.datasets import EmbeddingDataset, collate_embeddings
    from sleepfm.train.sampler import ResumableSampler
    from sleepfm.train.tasks import DiagnosisTask

    ids = [f"v{i}" for i in range(5)]
    covariates, _ = read_demographics(folder / "demographics.csv")
    dataset = EmbeddingDataset({s: folder / f"{s}.h5" for s in ids}, covariates=covariates,
                               outcomes=read_outcomes(folder / "is_event.csv", folder / "time_to_event.csv"))
    torch.manual_seed(0)
    head = registry.get("heads", "tiny-cox").from_config({"num_classes": 3})
    loss = registry.get("losses", "coxph").from_config({"ties": "efron"})
    task = DiagnosisTask(head, "tiny-cox", loss, dataset, dataset)
    sampler = ResumableSampler(len(dataset), shuffle=False, seed=0, rank=rank, world=world)
    loader = torch.utils.data.DataLoader(dataset, batch_size=2, sampler=sampler, collate_fn=collate_embeddings)
    with torch.no_grad():
        return task.validate(head.eval(), loader, torch.device("cpu"))["loss"]


@pytest.mark.slow
def test_torchrun_pretraining_equals_one_process_with_the_global_batch(tmp_path: Path, make_plugin) -> None:
    site = install_tiny(make_plugin)
    write_signal_cohort(tmp_path / "signals", n_studies=7)
    common = [f"data.signals={tmp_path / 'signals'}", "model.name=tiny-encoder", "model.params={dropout: 0.0}",
              "trainer.epochs=2", "optimizer.lr=0.2", "data.split.validation_fraction=0.15",
              "data.split.test_fraction=0", "trainer.checkpoint_every=2", "trainer.log_every=1"]
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(WORLD),
               "--master-port", str(free_port()), "-m", "sleepfm", "pretrain", "--out", str(tmp_path / "ddp"),
               *[arg for item in [*common, "trainer.batch_size=2"] for arg in ("--set", item)]]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "on 2 process(es)" in result.stderr
    summary = json.loads((tmp_path / "ddp" / "summary.json").read_text())
    assert summary["steps"] == 6, "12 items, 2 ranks x 2 per step: 3 steps per epoch"
    steps = [json.loads(line) for line in (tmp_path / "ddp" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in steps if r["split"] == "train"] == [1, 2, 3, 4, 5, 6], "rank 0 alone writes"

    single = run_training(load_config(None, workflow="pretrain",
                                      overrides=[*common, "trainer.batch_size=4", f"out={tmp_path / 'single'}"]))
    assert single["steps"] == 6
    a, b = (load_file(str(tmp_path / run / "final" / "weights.safetensors")) for run in ("ddp", "single"))
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-5, msg=key)
