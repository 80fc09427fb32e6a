"""Python warnings never reach the user raw: inside :func:`warnings_to_log` they go to the
``sleepfm`` log at debug level (``--debug`` shows them), unless ``show`` takes them.

A numpy ``RuntimeWarning`` names a line of sleepfm's code, not the user's input; whatever
the input needs to say reaches the user as a one-line warning or error of its own. Used by
the command line and by worker processes, whose stderr is the user's too.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager

log = logging.getLogger("sleepfm.warnings")

#: Takes ``(message, category)``; returns True when it has shown the warning itself.
Show = Callable[[Warning | str, type[Warning]], bool]


@contextmanager
def warnings_to_log(show: Show | None = None) -> Iterator[None]:
    """Route warnings raised inside the block (any thread) to the log; see the module docstring."""

    def route(message: Warning | str, category: type[Warning], filename: str, lineno: int,
              file: object = None, line: str | None = None) -> None:
        if show is not None and show(message, category):
            return
        log.debug("%s: %s (%s:%d)", category.__name__, message, filename, lineno)

    with warnings.catch_warnings():
        warnings.simplefilter("default")
        warnings.showwarning = route
        yield
