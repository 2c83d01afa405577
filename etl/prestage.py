"""Typing the next file in the background while the loader writes the current one.

A load of several files works through them one transaction each: stage (read and type the
file), then write (Parquet files, key sidecars, lineage). DuckDB's CSV reading keeps only about
one and a half of two cores busy, and the write phase has single-threaded stretches, so while
file N is staged and written, file N+1's typing (the one statement that reads the file: most of
a file's staging) already runs on a second connection of the same database instance. Its rows
go into a table of a scratch database attached in memory (`SCRATCH`, never part of the catalog
file that is published); the load of file N+1 then runs the rest of its staging (errors,
duplicates, `_clean`) over that table inside its own transaction, exactly as over its own
`_typed_all` (etl/stage.py: `prestage_sql`, `run_stage(typed_all=...)`).

Only kinds whose typing reads nothing but the file and bound constants qualify
(`stage.prestageable`): the database may change between the background typing and the file's
own transaction (an earlier file of the same load), so nothing read from it may be typed in
advance. Whatever goes wrong in the background (a CSV error, bytes that are not UTF-8) is
dropped there and the file is staged as it always was, in its transaction, where the error is
reported or the file re-read as GB18030. The background connection keeps insertion order
(rowid = the file's row order: rejects name spreadsheet rows, the last of a repeated key wins).
"""
from __future__ import annotations

import contextlib
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable

import duckdb

from etl import stage
from etl.extract import RawSource

SCRATCH = "etl_prestage"   # the in-memory database holding the typed rows (name fixed here)
_ATTACH = "ATTACH ':memory:' AS " + SCRATCH
_USE = "USE " + SCRATCH
_DETACH = "DETACH DATABASE IF EXISTS " + SCRATCH
_DROP_SOURCE_VIEW = "DROP VIEW IF EXISTS " + SCRATCH + ".main._raw_src"
_DROP_TYPED = "DROP TABLE IF EXISTS {table}"   # a name `submit` made


class Prestager:
    """Types queued files in the background on a cursor of the writer's connection.

    `create_raw(con, src, kind)` makes the view `_raw` over a source on a connection and
    returns its column names (etl.load_file._create_raw). Use as a context manager around the
    load's files, outside any transaction; `submit` the next file, `take` its table when its
    turn comes (None: stage it the usual way), `release` it once its transaction is over."""

    def __init__(self, con: duckdb.DuckDBPyConnection, salt: str,
                 create_raw: Callable[[duckdb.DuckDBPyConnection, RawSource, str], list[str]]):
        self._con, self._salt, self._create_raw = con, salt, create_raw
        self._cursor: duckdb.DuckDBPyConnection | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._pending: dict[int, tuple[str, Future]] = {}

    def __enter__(self) -> Prestager:
        self._con.execute(_ATTACH)
        self._cursor = self._con.cursor()
        self._cursor.execute(_USE)   # the source's views go here, not into the catalog
        # the writer turns insertion order off for its own session while it writes; the
        # background typing must keep it whatever the writer does
        self._cursor.execute("SET SESSION preserve_insertion_order = true")
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cockpit-prestage")
        return self

    def __exit__(self, *exc) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        if self._cursor is not None:
            with contextlib.suppress(Exception):
                self._cursor.close()
        with contextlib.suppress(Exception):   # in an aborted transaction: gone with the connection
            self._con.execute(_DETACH)

    def submit(self, index: int, src: RawSource, kind: str) -> None:
        """Start typing `src` (the load's file number `index`) if its kind allows it."""
        if self._pool is None or not src.is_csv or not stage.prestageable(kind):
            return
        table = f"{SCRATCH}.typed_{int(index)}"
        self._pending[index] = (table, self._pool.submit(self._type, src, kind, table))

    def take(self, index: int) -> str | None:
        """The table holding file `index`'s typed rows, once typed; None when it was not
        submitted or its typing failed (the caller stages the file itself)."""
        entry = self._pending.pop(index, None)
        if entry is None:
            return None
        table, done = entry
        try:
            done.result()
        except Exception:   # noqa: BLE001 - staged again in the transaction, which reports it
            self.release(table)
            return None
        return table

    def release(self, table: str | None) -> None:
        """Drop a taken table (after its file's transaction): queued behind the typing running
        on the background connection, which alone writes the scratch database."""
        if table is not None and self._pool is not None:
            self._pool.submit(self._cursor.execute, _DROP_TYPED.format(table=stage.typed_table(table)))

    def _type(self, src: RawSource, kind: str, table: str) -> None:
        cur = self._cursor
        try:
            names = self._create_raw(cur, src, kind)
            keep = tuple(n for n in names if n.startswith("_x"))
            statement = stage.prestage_sql(kind, table, keep=keep, mask_once=stage.masks_once(src.text_bytes))
            bound = stage.params(kind, self._salt)
            cur.execute(statement, {k: v for k, v in bound.items() if f"${k}" in statement})
        finally:
            with contextlib.suppress(Exception):
                cur.execute("DROP VIEW IF EXISTS temp._raw")
            with contextlib.suppress(Exception):
                cur.execute(_DROP_SOURCE_VIEW)
