"""The DuckDB instances of the databases many tests only read, kept open between tests.

DuckDB keeps one database instance per file per process: a connection to a file another
connection of the same configuration holds open joins its instance (well under a millisecond);
a connection to a file nobody holds builds a new instance (~15 ms of CPU before any query:
DuckDB's catalog of built-in functions, the file's catalog read again). The tests open the
session's and the modules' read-only databases (the demo build, the hand-built page database,
a module's loaded database) a few hundred times per fast loop, each time after the previous
reader closed. `share(path)` names such a file; tests/conftest.py then opens a second
connection like the first read-only one to it and keeps it, so the instance outlives the
test's own connection and the next reader joins it.

A kept instance never serves another version of the file: it is dropped when the file's
identity (inode, modification time, size) changed, and when a test opens the file with another
configuration (DuckDB refuses a second configuration while an instance is open), before
the connection is tried again (tests/conftest.py).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import duckdb

_SHARED: set[str] = set()
# path -> (the file's identity when it was opened, a connection keeping its instance)
_KEPT: dict[str, tuple[tuple[int, int, int], duckdb.DuckDBPyConnection]] = {}


def share(path: Path) -> Path:
    """Name `path` a database the tests only read (returns it)."""
    _SHARED.add(os.path.realpath(path))
    return path


def _identity(path: str) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def target(database) -> str | None:
    """The real path of a connect's database argument, or None for an in-memory one."""
    if database is None or str(database) in ("", ":memory:") or str(database).startswith(":memory:"):
        return None
    return os.path.realpath(str(database))


def before_connect(path: str | None) -> None:
    """Drop the kept instance of `path` if the file changed since it was opened."""
    kept = _KEPT.get(path) if path else None
    if kept is not None and kept[0] != _identity(path):
        release(path)


def after_connect(path: str | None, read_only: bool, again: Callable[[], duckdb.DuckDBPyConnection]) -> None:
    """Keep the instance of a shared file's first read-only connection open: `again()` makes
    a second connection like it (it joins the instance: a cursor would not keep it, closing
    a connection closes its cursors)."""
    if path is None or not read_only or path not in _SHARED or path in _KEPT:
        return
    identity = _identity(path)
    if identity is not None:
        _KEPT[path] = (identity, again())


def release(path: str | None) -> bool:
    """Close the kept connection of `path`; whether there was one."""
    kept = _KEPT.pop(path, None) if path else None
    if kept is None:
        return False
    try:
        kept[1].close()
    except duckdb.Error:
        pass
    return True
