"""sleepfm's built-in plugins.

Each module here is a plugin exactly like a third party's: it implements hooks from
:mod:`sleepfm.hookspecs` and is declared as an entry point of group ``sleepfm`` in
``pyproject.toml`` — the one list of built-ins (a source tree without installed metadata reads
it from there, :func:`sleepfm.registry.declared_builtins`). A new built-in is a module here and
one line there.
"""
