"""Where per-study work runs: one executor layer for every command that fans out
(``preprocess``, ``embed``, ``stage``, ``risk``, ``qc``, ``run``).

A command turns its studies into :class:`Task` s and hands them to :func:`execute`, which
yields each study's :class:`Outcome` as it completes:

* ``executor="local"`` runs them in this process (one worker, or one task) or in a pool of
  worker processes on this machine (:mod:`sleepfm.execute.local`);
* ``executor="dask"`` submits one task per study to a dask.distributed cluster
  (:mod:`sleepfm.execute.dask`);
* ``shard="I/N"`` (:func:`select_shard`) is applied by the command before, so the tasks of a
  job array split a cohort without talking to each other.

Failures and retries follow the same rule everywhere (:mod:`sleepfm.execute.task`).
docs/scale.md says how to use each on a laptop, a SLURM cluster and GPU nodes.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from sleepfm.config.executor import ExecutorOptions, parse_shard, select_shard, shard_suffix
from sleepfm.execute.dask import run_dask
from sleepfm.execute.local import LocalPool, run_inline

from .task import Failed, Outcome, Step, Task


def execute(tasks: Sequence[Task], options: ExecutorOptions, *, workers: int = 1) -> Iterator[Outcome]:
    """Run ``tasks`` as ``options`` say; ``workers`` is the number of local worker processes (or
    of LocalCluster workers with dask). Outcomes come in order of completion."""
    if not tasks:
        return
    if options.executor == "dask":

        yield from run_dask(tasks, workers=workers, scheduler=options.scheduler, retries=options.retries,
                            gpu_wait=options.gpu_wait)
        return

    if workers <= 1 or len(tasks) == 1:
        yield from run_inline(tasks, options.retries)
    else:
        yield from LocalPool(min(workers, len(tasks)), options.retries).run(tasks)


def plan_workers(workers: int, studies: int, threads: int | None) -> tuple[int, int]:
    """(processes, threads per study) for ``workers`` cores and ``studies`` studies to do."""
    processes = max(1, min(workers, studies))
    return processes, threads or max(1, workers // processes)


__all__ = ["ExecutorOptions", "Failed", "Outcome", "Step", "Task", "execute", "parse_shard", "plan_workers",
           "select_shard", "shard_suffix"]
