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

import contextlib
import os
from pathlib import Path
from typing import Callable, Iterator

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


# --- reading a catalog a test has just written -------------------------------------------------
# The files a test loads into change with every load, so no instance of them can be kept: each
# `duckdb.connect(path, read_only=True)` after a load built a new instance (~15-25 ms of CPU,
# mostly DuckDB's catalog of built-in functions; ~135 reads per fast loop). Attaching the file to one
# in-memory instance per process reads the same catalog, views and Parquet parts for ~4 ms.
_HOST: list[duckdb.DuckDBPyConnection] = []


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@contextlib.contextmanager
def reading(path: Path | str) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to the catalog file `path`, for a test's own reads of a file it
    wrote: the file attached read-only (under the name a plain connection gives it, its stem) to
    this process's one in-memory instance, and that database made the default, so the same
    statements see the same tables, views and rows as on `duckdb.connect(path, read_only=True)`.
    Detached on exit; the next read attaches the file as it is then. (Only the listings of
    every database and its schemas differ: they also name the empty in-memory one.)"""
    if not _HOST:
        _HOST.append(duckdb.connect(":memory:"))
    name = Path(path).stem
    attached = {r[0] for r in _HOST[0].execute("SELECT database_name FROM duckdb_databases()").fetchall()}
    if name in attached:             # a file of the same stem is being read: a connection of its own
        with duckdb.connect(str(path), read_only=True) as con:
            yield con
        return
    cur = _HOST[0].cursor()
    try:
        cur.execute(f"ATTACH $p AS {_quoted(name)} (READ_ONLY)", {"p": str(path)})
        try:
            cur.execute(f"USE {_quoted(name)}")
            yield cur
        finally:
            cur.execute("USE memory")
            cur.execute(f"DETACH {_quoted(name)}")
    finally:
        cur.close()
