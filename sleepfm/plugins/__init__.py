"""sleepfm's built-in plugins.

Each module here is a plugin exactly like a third party's: it implements hooks from
:mod:`sleepfm.hookspecs` and is declared as an entry point of group ``sleepfm`` in
``pyproject.toml``. This tuple lists the same modules, in load order; a test keeps the
two in step. It is used directly only when no installed metadata is found (a source tree
on ``PYTHONPATH``).
"""

BUILTIN_PLUGINS: tuple[str, ...] = (
    "sleepfm.plugins.core",
    "sleepfm.plugins.ingest",
    "sleepfm.plugins.hypnograms",
    "sleepfm.plugins.evaluation",
    "sleepfm.plugins.models",
    "sleepfm.plugins.training",
    "sleepfm.plugins.clinical",
    "sleepfm.plugins.quality",
)
