"""The local executor's worker process: ``python -m sleepfm.execute.worker FD PARENT_PID``.

Started as a fresh interpreter on this module, so it never imports the caller's ``__main__``
(an unguarded script that calls ``sleepfm.preprocess(..., workers=2)`` is not run again in
each worker, as multiprocessing's spawn and forkserver would). It reads tasks from the
connection on file descriptor ``FD``, runs them (:func:`sleepfm.execute.task.run_steps`)
and sends back each value or failure.

* Ctrl-C is the parent's to handle: a terminal sends SIGINT to the whole process group,
  and the worker ignores it; the parent then ends the workers with SIGTERM.
* SIGTERM unwinds the running task as an exception would, so its temporary files are
  removed, and the worker exits.
* The worker watches its parent: when the parent dies (kill -9, OOM killer), it stops its
  task the same way instead of converting studies for nobody.
"""

from __future__ import annotations

import os
import pickle
import signal
import sys
import threading
import time
from multiprocessing.connection import Connection
from types import FrameType

from sleepfm.execute.task import run_steps, unexpected

#: Seconds between looks at whether the parent is still there.
WATCH_INTERVAL = 0.5
#: Seconds a task has to unwind after the parent died before the worker exits regardless.
UNWIND_GRACE = 10.0


def _stop(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def _watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(WATCH_INTERVAL)
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(UNWIND_GRACE)
    os._exit(1)


def serve(connection: Connection) -> None:
    """Run tasks until the parent says stop (``None``) or goes away."""

    while True:
        try:
            message = connection.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        index, payload = message
        try:
            reply = (index, "done", run_steps(pickle.loads(payload)))
        except Exception as exc:  # noqa: BLE001 - reported to the parent, which may retry
            reply = (index, "retry", unexpected(exc))
        try:
            connection.send(reply)
        except Exception as exc:  # noqa: BLE001 - e.g. a value that cannot be pickled
            connection.send((index, "retry", unexpected(exc)))


def main(argv: list[str]) -> int:
    fd, parent = int(argv[0]), int(argv[1])
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _stop)
    threading.Thread(target=_watch, args=(parent,), name="sleepfm-parent-watch", daemon=True).start()
    serve(Connection(fd))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
