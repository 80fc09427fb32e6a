"""The local executor: tasks in this process, or in a pool of worker processes on this machine.

Workers are fresh interpreters (:mod:`sleepfm.execute.worker`), one task at a time each. A
worker that dies (killed, out of memory) fails only its own task, which is tried again in a
new worker up to ``retries`` times; the other workers go on. Ctrl-C (or any exception in the
consumer) ends every worker within a few seconds: each gets SIGTERM, which unwinds its task
and removes its temporary files, and SIGKILL if it is still there after :data:`TERM_GRACE`.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from multiprocessing import Pipe
from multiprocessing.connection import Connection, wait

from .task import Attempts, Outcome, Task, run_steps, settle, unexpected


class Cancelled(Exception):
    """:meth:`LocalPool.cancel` was called."""


#: Seconds workers get to unwind after SIGTERM before they are killed.
TERM_GRACE = 5.0


def run_inline(tasks: Sequence[Task], retries: int) -> Iterator[Outcome]:
    """Run ``tasks`` one after the other in this process (unexpected errors retried)."""
    attempts = Attempts(retries)
    for index, task in enumerate(tasks):
        while True:
            try:
                value = run_steps(task.steps)
            except Exception as exc:  # noqa: BLE001 - one study's failure; the rest go on
                if attempts.again(index):
                    continue
                yield Outcome(task, error=f"{task.key}: {unexpected(exc)}", attempts=attempts.of(index) - 1)
                break
            yield settle(task, value, attempts.of(index))
            break


@dataclass(eq=False)
class _Worker:
    process: subprocess.Popen[bytes]
    connection: Connection


def _start_worker() -> _Worker:
    ours, theirs = Pipe(duplex=True)
    fd = theirs.fileno()
    process = subprocess.Popen([sys.executable, "-m", "sleepfm.execute.worker", str(fd), str(os.getpid())],
                               pass_fds=[fd], stdin=subprocess.DEVNULL)
    theirs.close()
    return _Worker(process, ours)


def stop_workers(workers: Sequence[_Worker], *, grace: float = TERM_GRACE) -> None:
    """SIGTERM every worker, then SIGKILL those still running after ``grace`` seconds."""
    import time

    for worker in workers:
        if worker.process.poll() is None:
            worker.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for worker in workers:
        try:
            worker.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            worker.process.kill()
            worker.process.wait()
        worker.connection.close()


class LocalPool:
    """Up to ``processes`` worker processes running ``tasks``; outcomes in order of completion."""

    def __init__(self, processes: int, retries: int) -> None:
        self.processes = max(1, processes)
        self.retries = retries
        self.workers: list[_Worker] = []
        self._cancelled = threading.Event()

    def cancel(self) -> None:
        """Stop :meth:`run` from another thread: it ends its workers and raises :class:`Cancelled`."""
        self._cancelled.set()

    def run(self, tasks: Sequence[Task]) -> Iterator[Outcome]:
        queue = deque(range(len(tasks)))
        busy: dict[_Worker, int] = {}
        idle: list[_Worker] = []
        attempts = Attempts(self.retries)

        def lost(worker: _Worker) -> Outcome | None:
            """A worker died: its task goes back in the queue, or fails when out of tries."""
            index = busy.pop(worker)
            self.workers.remove(worker)
            worker.connection.close()
            worker.process.wait()
            if attempts.again(index):
                queue.appendleft(index)
                return None
            task = tasks[index]
            return Outcome(task, error=f"{task.key}: its worker process died (killed, or out of memory?) "
                                       f"{attempts.of(index) - 1} times", attempts=attempts.of(index) - 1)

        try:
            while queue or busy:
                if self._cancelled.is_set():
                    raise Cancelled("the batch was stopped")
                while queue and (idle or len(self.workers) < self.processes):
                    if idle:
                        worker = idle.pop()
                    else:
                        worker = _start_worker()
                        self.workers.append(worker)
                    index = queue.popleft()
                    busy[worker] = index
                    try:
                        worker.connection.send((index, pickle.dumps(tasks[index].steps)))
                    except OSError:
                        if (failed := lost(worker)) is not None:
                            yield failed
                by_connection = {w.connection: w for w in busy}
                for connection in wait(list(by_connection), timeout=1.0):
                    worker = by_connection[connection]
                    try:
                        index, kind, payload = connection.recv()
                    except (EOFError, OSError):
                        if (failed := lost(worker)) is not None:
                            yield failed
                        continue
                    busy.pop(worker)
                    idle.append(worker)
                    task = tasks[index]
                    if kind == "done":
                        yield settle(task, payload, attempts.of(index))
                    elif attempts.again(index):
                        queue.append(index)
                    else:
                        yield Outcome(task, error=f"{task.key}: {payload}", attempts=attempts.of(index) - 1)
        except BaseException:
            stop_workers(self.workers)
            self.workers = []
            raise
        self.close()

    def close(self) -> None:
        """Let idle workers exit on their own (they are told to), then make sure they are gone."""
        for worker in self.workers:
            with contextlib.suppress(OSError):
                worker.connection.send(None)
        for worker in self.workers:
            with contextlib.suppress(subprocess.TimeoutExpired):
                worker.process.wait(timeout=TERM_GRACE)
        stop_workers(self.workers, grace=0.0)
        self.workers = []
