"""The dask executor: one task per study on a ``dask.distributed`` cluster.

The cluster is the scheduler at ``scheduler`` (e.g. one that dask-jobqueue started on SLURM)
or a LocalCluster of ``workers`` single-threaded worker processes. Each study is one task
(``retries`` times more after an unexpected exception; a worker dying with it counts the
same, as the scheduler's ``allowed-failures``). When a study's model steps must run on a
GPU, they are a second task that asks for the worker resource ``GPU`` (a worker offers it
with ``--resources GPU=1``), so reading and preprocessing can run on CPU-only workers of the
same cluster. A GPU task never waits for ever: with no GPU worker for ``gpu_wait`` seconds
the run stops with one line saying so.
"""

from __future__ import annotations

import contextlib
import importlib.machinery
import logging
import os
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

from sleepfm.errors import UsageError

from .task import Outcome, Task, run_steps, settle, unexpected

NO_GPU_WORKER = ("no dask worker advertises a GPU resource, so the GPU steps (--device cuda) cannot run")
NO_GPU_FIX = ("start GPU workers with `--resources GPU=1` (dask-jobqueue: worker_extra_args=['--resources', "
              "'GPU=1']), or use --device cpu")
#: Seconds between looks at the futures.
POLL = 0.1


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise UsageError("--executor dask needs dask.distributed", fix='pip install "sleepfm[dask]"') from None
    return distributed


@contextlib.contextmanager
def main_not_reimported() -> Iterator[None]:
    """Keep multiprocessing's spawned children (dask's worker processes) from importing the
    caller's ``__main__`` script: run again in each worker, an unguarded script would start
    its own cluster there. A ``__main__`` whose spec is named ``__main__`` is left alone by
    multiprocessing; every task is a sleepfm function, so the workers never need the script.
    """
    main = sys.modules.get("__main__")
    if main is None or getattr(main, "__spec__", None) is not None or not getattr(main, "__file__", None):
        yield
        return
    main.__spec__ = importlib.machinery.ModuleSpec("__main__", None)
    try:
        yield
    finally:
        main.__spec__ = None


@contextlib.contextmanager
def connect(workers: int, scheduler: str | None, retries: int, gpu: bool) -> Iterator[Any]:
    """A client of the scheduler at ``scheduler``, or of a LocalCluster made for this run."""
    distributed = _distributed()
    if scheduler:
        try:
            client = distributed.Client(scheduler, timeout="30s")
        except OSError as exc:
            raise UsageError(f"cannot reach the dask scheduler at {scheduler} ({exc})",
                             fix="check --scheduler (tcp://HOST:PORT) and that the scheduler is running") from None
        with client:
            yield client
        return
    import dask

    resources = {"GPU": 1} if gpu and _local_gpu() else None
    environment = dict(os.environ)
    with dask.config.set({"distributed.scheduler.allowed-failures": retries}), main_not_reimported():
        cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                           dashboard_address=None, silence_logs=logging.CRITICAL, resources=resources)
        # The nanny sets its workers' environment (OMP_NUM_THREADS=1, MALLOC_TRIM_THRESHOLD_, ...)
        # in this process too, where later worker processes of a script would inherit it.
        _restore(environment)
        try:
            with distributed.Client(cluster) as client:
                yield client
        finally:
            cluster.close()
            _restore(environment)


def _restore(environment: dict[str, str]) -> None:
    for name in set(os.environ) - set(environment):
        del os.environ[name]
    os.environ.update(environment)


def _local_gpu() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def gpu_workers(client: Any) -> int:
    """Workers of the cluster that advertise a ``GPU`` resource."""
    workers = client.scheduler_info(n_workers=-1).get("workers", {})
    return sum(1 for info in workers.values() if (info.get("resources") or {}).get("GPU", 0) > 0)


def _wait_for_gpu(client: Any, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not gpu_workers(client):
        if time.monotonic() >= deadline:
            raise UsageError(f"{NO_GPU_WORKER} (waited {seconds:g} s)", fix=NO_GPU_FIX)
        time.sleep(min(1.0, seconds))


def _submit(client: Any, task: Task, retries: int) -> Any:
    """The task as one future per run of steps on the same kind of worker (one, without a GPU)."""
    groups: list[list[Any]] = []
    for step in task.steps:
        if groups and groups[-1][0].gpu == step.gpu:
            groups[-1].append(step)
        else:
            groups.append([step])
    future = None
    for number, steps in enumerate(groups):
        name = f"sleepfm-{uuid.uuid4().hex[:12]}-{number}"
        resources = {"GPU": 1} if steps[0].gpu else None
        args = (tuple(steps),) if future is None else (tuple(steps), future)
        future = client.submit(run_steps, *args, key=name, pure=False, retries=retries, resources=resources)
    return future


def _outcome(future: Any, task: Task, retries: int) -> Outcome:
    if future.status == "finished":
        return settle(task, future.result())
    if future.cancelled():
        return Outcome(task, error=f"{task.key}: its dask task was cancelled")
    error = future.exception()
    if type(error).__name__ == "KilledWorker":
        return Outcome(task, error=f"{task.key}: its dask worker died {retries + 1} times with it (killed, or out "
                                   "of memory?)", attempts=retries + 1)
    return Outcome(task, error=f"{task.key}: {unexpected(error)}", attempts=retries + 1)


def run_dask(tasks: Sequence[Task], *, workers: int, scheduler: str | None, retries: int,
             gpu_wait: float) -> Iterator[Outcome]:
    """Outcomes of ``tasks`` in order of completion (module docstring)."""
    gpu = any(task.gpu for task in tasks)
    with connect(workers, scheduler, retries, gpu) as client:
        if gpu:
            _wait_for_gpu(client, gpu_wait)
        futures = {_submit(client, task, retries): task for task in tasks}
        pending = dict(futures)
        without_gpu_since: float | None = None
        try:
            while pending:
                done = [future for future in pending if future.status != "pending"]
                for future in done:
                    yield _outcome(future, pending.pop(future), retries)
                if done:
                    continue
                if gpu and any(task.gpu for task in pending.values()):
                    # GPU workers may leave (a job ends); tasks waiting for one would wait for ever.
                    if gpu_workers(client):
                        without_gpu_since = None
                    elif without_gpu_since is None:
                        without_gpu_since = time.monotonic()
                    elif time.monotonic() - without_gpu_since > gpu_wait:
                        raise UsageError(f"{NO_GPU_WORKER} (none for {gpu_wait:g} s)", fix=NO_GPU_FIX)
                time.sleep(POLL)
        finally:
            if pending:
                client.cancel(list(pending), force=True)
