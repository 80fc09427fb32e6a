"""The executor layer: outcomes, failures and retries are the same inline, in worker processes
and on dask; workers never import the caller's script; shards split a list."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sleepfm.config.executor import ExecutorOptions, parse_shard, select_shard, shard_suffix
from sleepfm.execute import Step, Task, execute

from . import helpers_execute as h

LOCAL = ExecutorOptions(retries=1)


def _run(tasks: list[Task], workers: int, options: ExecutorOptions = LOCAL) -> dict[str, tuple]:
    return {o.task.key: (o.value, o.error, o.attempts) for o in execute(tasks, options, workers=workers)}


@pytest.mark.parametrize("workers", [1, 2])
def test_values_user_errors_and_unexpected_errors(tmp_path: Path, workers: int) -> None:
    tasks = [Task.call("a", h.square, 3), Task("b", (Step(h.square, (2,)), Step(h.add, (10,)))),
             Task.call("bad.edf", h.refuse, "bad.edf"), Task.call("flaky", h.fail_once, str(tmp_path / "m"))]
    outcomes = _run(tasks, workers)
    assert outcomes["a"] == (9, None, 1) and outcomes["b"] == (14, None, 1)
    # A user error fails at once, with its one line; an unexpected one is tried again.
    assert outcomes["bad.edf"] == (None, "bad.edf: not a recording", 1)
    assert outcomes["flaky"] == ("recovered", None, 2)


def test_a_worker_that_dies_is_replaced_and_its_task_retried(tmp_path: Path) -> None:
    tasks = [Task.call("dies once", h.die_once, str(tmp_path / "marker")), Task.call("dies always", h.always_die),
             *(Task.call(f"n{i}", h.square, i) for i in range(4))]
    outcomes = _run(tasks, workers=2)
    assert outcomes["dies once"] == ("survived", None, 2)
    value, error, attempts = outcomes["dies always"]
    assert value is None and attempts == 2 and "its worker process died" in error
    assert [outcomes[f"n{i}"][0] for i in range(4)] == [0, 1, 4, 9]  # the others were not disturbed


def test_workers_are_fresh_processes(tmp_path: Path) -> None:
    pids = {o.value for o in execute([Task.call(str(i), h.pid) for i in range(4)], LOCAL, workers=2)}
    assert os.getpid() not in pids and 1 <= len(pids) <= 2


def test_an_unguarded_script_runs_its_workers_once(tmp_path: Path) -> None:
    # multiprocessing's spawn and forkserver would run this script again in every worker.
    marker = tmp_path / "runs"
    script = tmp_path / "unguarded.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).parent.parent)!r})
        from pathlib import Path
        from sleepfm.config.executor import ExecutorOptions
        from sleepfm.execute import Task, execute
        from tests import helpers_execute as h
        with open({str(marker)!r}, "a") as handle:
            handle.write("run\\n")
        print(sorted(o.value for o in execute([Task.call(str(i), h.square, i) for i in range(3)],
                                               ExecutorOptions(), workers=2)))
    """))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "[0, 1, 4]", done.stderr
    assert marker.read_text() == "run\n" and "Traceback" not in done.stderr


def test_shards() -> None:
    items = list(range(7))
    assert select_shard(items, "1/3") == [1, 4] and select_shard(items, None) == items
    assert sorted(x for i in range(3) for x in select_shard(items, f"{i}/3")) == items
    assert parse_shard(" 2/4 ") == (2, 4) and shard_suffix("0/2") == ".shard-0-of-2" and shard_suffix(None) == ""
    for bad in ("3/3", "1", "-1/2", "a/b", "0/0"):
        with pytest.raises(ValueError, match="I/N"):
            parse_shard(bad)


@pytest.mark.slow
def test_dask_retries_a_task_whose_worker_is_killed_mid_task(tmp_path: Path) -> None:
    import signal
    import threading
    import time

    pytest.importorskip("dask.distributed")
    marker = tmp_path / "pids"

    def kill_the_first_worker_that_starts() -> None:
        while not marker.exists() or not marker.read_text().strip():
            time.sleep(0.05)
        os.kill(int(marker.read_text().split()[0]), signal.SIGKILL)

    killer = threading.Thread(target=kill_the_first_worker_that_starts)
    killer.start()
    tasks = [Task.call("slow", h.slow, str(marker)), Task.call("quick", h.square, 5)]
    outcomes = _run(tasks, workers=2, options=ExecutorOptions(executor="dask", retries=2))
    killer.join()
    pids = marker.read_text().split()
    assert outcomes["slow"][:2] == ("finished", None) and outcomes["quick"][:2] == (25, None)
    assert len(pids) == 2 and pids[0] != pids[1]  # killed once, then done by another worker process


@pytest.mark.slow
def test_a_gpu_task_with_no_gpu_worker_fails_in_one_line_instead_of_waiting() -> None:
    from sleepfm.errors import UsageError

    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        options = ExecutorOptions(executor="dask", scheduler=cluster.scheduler_address, gpu_wait=1)
        with pytest.raises(UsageError, match="no dask worker advertises a GPU resource") as caught:
            list(execute([Task.call("night.edf", h.square, 2, gpu=True)], options, workers=1))
    assert "--resources GPU=1" in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.slow
def test_gpu_steps_go_only_to_workers_that_advertise_a_gpu() -> None:
    distributed = pytest.importorskip("dask.distributed")
    from distributed.deploy.spec import SpecCluster

    workers = {"cpu": {"cls": distributed.Worker, "options": {"nthreads": 1}},
               "gpu": {"cls": distributed.Worker, "options": {"nthreads": 1, "resources": {"GPU": 1}}}}
    scheduler = {"cls": distributed.Scheduler, "options": {"dashboard": False}}
    with SpecCluster(workers=workers, scheduler=scheduler) as cluster:
        options = ExecutorOptions(executor="dask", scheduler=cluster.scheduler_address)
        tasks = [Task(str(i), (Step(h.where), Step(h.where, gpu=True))) for i in range(6)]
        chains = [o.value for o in execute(tasks, options)]
    assert len(chains) == 6 and all(second == "gpu" for _, second in chains)
    assert {first for first, _ in chains} <= {"cpu", "gpu"}
