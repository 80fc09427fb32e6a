"""Producing items in a background thread ahead of their consumer."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import Any


class _Raised:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def prefetched(items: Iterator[Any], depth: int, stop: threading.Event, name: str = "sleepfm-embed-reader"
               ) -> Iterator[Any]:
    """``items`` (a generator) produced by a background thread, up to ``depth`` ahead, so that
    reading (the embedder's HDF5 chunks: one core) overlaps with computing on the others instead
    of stalling it. An exception in the producer is raised here; ``stop`` (set when this
    generator is closed) ends the producer, which then closes ``items``."""
    buffer: queue.Queue[Any] = queue.Queue(maxsize=depth)
    done = object()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                buffer.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(done)
        except BaseException as error:  # noqa: BLE001 - handed to the consumer, re-raised there
            put(_Raised(error))
        finally:
            items.close()  # type: ignore[attr-defined]

    thread = threading.Thread(target=produce, name=name, daemon=True)
    thread.start()
    try:
        while True:
            item = buffer.get()
            if item is done:
                return
            if isinstance(item, _Raised):
                raise item.error
            yield item
    finally:
        stop.set()
        thread.join()
