"""Streamlit caching for the UI: one read-only connection per database file, cached reads.

- `connection()`: `st.cache_resource` keyed by the file's identity (inode, mtime, size), so
  when the ETL swaps in a new file the next run opens it; the old connection is closed
  when it falls out of the cache.
- `run(fn, filters, *args)`: cached in RESULTS (dashboard.results_cache.ResultCache), keyed
  by (the query function's dotted name, the filters without the UI language, the file
  identity, the access scope, args). Each call uses its own cursor, so concurrent sessions
  never share a DuckDB cursor. Inside it, base.fetch_shared keeps its reads in RESULTS too
  (keyed by the file, the scope, the SQL and its parameters): a check that several query
  functions repeat runs once per file version and scope, not once per function.

Every cache here is bounded: entries expire after CACHE_TTL_S seconds (env
COCKPIT_CACHE_TTL_S, default 600), at most CACHE_ENTRIES results are kept (env
COCKPIT_CACHE_ENTRIES, default 300) taking at most CACHE_MB megabytes (env COCKPIT_CACHE_MB,
default 256; least recently used dropped first), so many users with different filters cannot
grow the server's memory without bound. Read at import time.
"""
from __future__ import annotations

import dataclasses
import importlib
import os
import pickle
import threading
from typing import Any, Callable

import duckdb
import pandas as pd
import streamlit as st

from dashboard import db
from dashboard.filters import Filters, Opening, opening as opening_of
from dashboard.queries import common
from dashboard.queries.base import Scope, current_scope, use_scope, use_store
from dashboard.results_cache import ResultCache


def _positive_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"env {name}={raw!r}: expected a whole number > 0") from None
    if value <= 0:
        raise ValueError(f"env {name}={raw!r}: expected a whole number > 0")
    return value


CACHE_TTL_S = _positive_int("COCKPIT_CACHE_TTL_S", 600)
CACHE_ENTRIES = _positive_int("COCKPIT_CACHE_ENTRIES", 300)
CACHE_MB = _positive_int("COCKPIT_CACHE_MB", 256)
RESULTS = ResultCache(CACHE_TTL_S, CACHE_ENTRIES, CACHE_MB * 2**20)


def _close(con: duckdb.DuckDBPyConnection) -> None:
    try:
        con.close()
    except Exception:  # already closed or file gone: nothing to release
        pass


@st.cache_resource(show_spinner=False, max_entries=2, on_release=_close)
def _connect(path: str, identity: tuple[int, int, int]) -> duckdb.DuckDBPyConnection:
    return db.open_read_only(path)


_open_identity: dict[str, tuple[int, int, int]] = {}
_open_lock = threading.Lock()


def _connection_for(path: str, identity: tuple[int, int, int]) -> duckdb.DuckDBPyConnection:
    """The cached connection for this version of the file.

    DuckDB keeps one database instance per path per process, so while a connection to the
    old file is open, connecting again returns the old file's data. When the identity
    changes, close the cached connections first.
    """
    with _open_lock:
        if _open_identity.get(path) not in (None, identity):
            _connect.clear()
        _open_identity[path] = identity
    return _connect(path, identity)


def connection() -> duckdb.DuckDBPyConnection | None:
    """The shared read-only connection to the current database file, or None if there is none."""
    ident = db.identity()
    if ident is None:
        return None
    return _connection_for(str(db.path()), ident)


def has_data() -> bool:
    """True when the database file exists and holds data (cached per file identity)."""
    ident = db.identity()
    return ident is not None and _has_data(str(db.path()), ident)


@st.cache_data(show_spinner=False, ttl=CACHE_TTL_S, max_entries=min(8, CACHE_ENTRIES))
def _has_data(path: str, identity: tuple[int, int, int]) -> bool:
    con = _connection_for(path, identity).cursor()
    try:
        return db.has_data(con)
    finally:
        con.close()


def _key(fn: Callable) -> str:
    return f"{fn.__module__}:{fn.__qualname__}"


def _resolve(key: str) -> Callable:
    module, _, name = key.partition(":")
    return getattr(importlib.import_module(module), name)


def _query(fn_key: str, filters: Filters, path: str, identity: tuple[int, int, int],
           scope: Scope, args: tuple) -> Any:
    cursor = _connection_for(path, identity).cursor()
    try:
        with use_scope(scope), use_store(_shared_store(path, identity)):
            return _resolve(fn_key)(cursor, filters, *args)
    finally:
        cursor.close()


def _shared_store(path: str, identity: tuple[int, int, int]):
    """base.fetch_shared's store for one file version: RESULTS, keyed by the file too (the
    scope and parameters are in fetch_shared's key), so a new load is read afresh."""
    return lambda key, compute: RESULTS.get(("shared", path, identity, key), compute)


def run(fn: Callable[..., pd.DataFrame], filters: Filters, *args: Any) -> Any:
    """fn(con, filters, *args), cached; the language never changes a query's result."""
    ident = db.identity()
    if ident is None:
        raise FileNotFoundError(str(db.path()))
    parts = (_key(fn), dataclasses.replace(filters, lang="zh"), str(db.path()), ident,
             current_scope(), tuple(args))
    try:
        hash(parts)
        key: Any = parts
    except TypeError:                    # an argument such as a list: key by its value
        key = pickle.dumps(parts)
    return RESULTS.get(key, lambda: _query(*parts))


def opening(query: dict[str, str]) -> Opening:
    """The filters a session opens with for a URL query (dashboard.filters.opening), from the
    sidebar's cached reads under the current scope: app.py seeds its sidebar with it and
    dashboard/prefetch.py reads a page ahead with it, so both compute the same filters."""
    first, last = common.first_last(run(common.date_bounds, Filters()))
    return opening_of(query, first, last, common.places(run(common.dimension_rows, Filters())),
                      run(common.categories, Filters())["category"].dropna().tolist())


def clear() -> None:
    """Drop every cached read and connection (benchmarks' cold runs, tests)."""
    RESULTS.clear()
    _has_data.clear()
    _connect.clear()
    _open_identity.clear()
