"""Big record tables as immutable monthly Parquet files under a small catalog file.

The DuckDB file is the *catalog*: small tables, marts, etl_* history, and the manifest
`etl_storage.parts` (one row per Parquet file: table, month, path, rows). Each table of PARTITIONED
lives in files under `<db>.parts/<table>/month=YYYY-MM/<load>-<uuid>.parquet` and is read
through a VIEW of the same name and columns (etl/schema.sql), so every query, mart and the
row-level scope (dashboard/queries/base.py) reads it unchanged. A writer copies only the
catalog (etl.dbfile.writer), so a load costs what it writes, not what the database holds.

Writes go through `upsert`: the staged rows become new files, one per month they touch;
a key already stored is *superseded*, not rewritten: its (file, key), found by a binary search
in the files' key sidecars (etl/storage_keys.py, in time that follows the load, not the
database), goes into `etl_storage.deletes` and the view leaves it out (merge on read, as
Iceberg's delete files).
A month is compacted into one file when it has more than COMPACT_FILES files or more than
COMPACT_DELETED of its stored rows superseded (a load within its budget, `python -m etl
compact` for the rest). Files are never changed after they are written; one that no kept
catalog (live, versions, pending dry runs) references any more is deleted after GC_GRACE_S
(etl/storage_upkeep.py, which also moves tables out of the catalog). docs/ARCHITECTURE.md
says why.

This module writes: the month COPYs (`write_files`), `upsert`, superseding and compaction.
The catalog side - the stored tables' declarations, the manifest, where files go
(`parts_dir`, `publish_to`), the views over the files and what a writer's connection notes -
is etl/storage_catalog.py (its names are importable from here too).

Table and column names come from PARTITIONED and etl/schema.sql only. File paths are
bound ($files) everywhere but in the view DDL (etl/storage_catalog.py::view_sql), which
cannot take parameters: there they are written as quoted SQL literals of paths the storage
made (`_literal`).
"""
from __future__ import annotations

import re
import time
import uuid
from datetime import date, datetime
from pathlib import Path

import duckdb
import numpy as np

from etl import storage_keys
# the catalog side (declarations, manifest, views, a writer's notes), importable from here as
# before: etl.dbfile, storage_upkeep, lake, marts, dryrun and the tests use storage.<name>
from etl.storage_catalog import (  # noqa: F401
    MANIFEST_DDL, PARTITIONED, PARTS_SUFFIX, SCHEMA_SQL, WHOLE, Partitioned, _schema, bind_root,
    changes, column_list, columns, declared, files, is_partitioned, parts_dir, publish_to,
    record_change, refresh_view, root_of, roots, table_type, view_sql)

COMPACT_FILES = 8           # a month with more files than this is rewritten as one
COMPACT_DELETED = 0.25      # ... or with more than this share of its stored rows superseded
# A load compacts at most max(COMPACT_BUDGET_ROWS, COMPACT_BUDGET_FACTOR x its rows) stored rows,
# worst months first, so its cost stays in proportion to the load; `python -m etl compact`
# (nightly) does the rest.
COMPACT_BUDGET_ROWS = 200_000
COMPACT_BUDGET_FACTOR = 4
GC_GRACE_S = 3600           # an unreferenced file younger than this may belong to a running write


# ---- writing files ----------------------------------------------------------------------

def month_of(path: str) -> date:
    """The month of a file this module wrote (its folder `month=YYYY-MM`)."""
    m = re.search(r"/month=(\d{4})-(\d{2})/", path)
    if m is None:
        raise ValueError(f"not a monthly file: {path}")
    return date(int(m.group(1)), int(m.group(2)), 1)


def write_files(con: duckdb.DuckDBPyConnection, table: str, select: str, root: Path,
                 tag: str, load_id: int | None, params: dict | None = None) -> list[tuple[date, str, int]]:
    """Write the rows of `select` (a SELECT of the table's columns) as one file per month, each
    sorted by key; record them in etl_storage.parts; return (month, path, rows) per file."""
    return _write_files(con, table, select, root, tag, load_id, params, sort=True)[0]


ROW_GROUP_ROWS = 122_880   # COPY's default row group: readers prune by a whole group's min/max
# A write of at most this many months copies each month to its file with a COPY of its own (a
# time-range filter over the source, which row-group statistics of a staged file mostly prune);
# more months (a migration of a whole table) go through one COPY ... PARTITION_BY. DuckDB's
# partitioned COPY cost 1.6-1.9x the CPU of plain COPYs of the same rows (0.33 vs 0.20 CPU-s
# for a 221k-row, six-month export): the load of the demo's 1M-row exports spent 1.9 CPU-s in it.
PER_MONTH_MAX = 12


def _write_files(con: duckdb.DuckDBPyConnection, table: str, select: str, root: Path, tag: str,
                 load_id: int | None, params: dict | None = None, sort: bool | None = None
                 ) -> tuple[list[tuple[date, str, int]], dict[str, np.ndarray]]:
    """write_files, and the new files' key hashes (path -> sorted hashes, their sidecars).
    sort: rows sorted by key within each month's file (True), or None: only in a month that
    fills more than one row group (a file of one is read the same in any order; the sort was a
    third of the write's CPU for the demo's exports)."""
    spec = PARTITIONED[table]
    folder = root / table
    folder.mkdir(parents=True, exist_ok=True)
    months = _month_rows(con, spec, select, params)
    # the rows' order within a write is otherwise irrelevant, so DuckDB may stage them in
    # parallel (preserve_insertion_order off, for this connection only: the background typing
    # of the next file, etl/prestage.py, keeps it on)
    con.execute("SET SESSION preserve_insertion_order = false")
    try:
        if len(months) <= PER_MONTH_MAX:
            out = [_copy_month(con, table, select, folder, tag, params, month,
                               sort if sort is not None else rows > ROW_GROUP_ROWS)
                   for month, rows in months]
        else:
            out = _copy_partitioned(con, table, select, folder, tag, params,
                                    sort if sort is not None else max(n for _, n in months) > ROW_GROUP_ROWS)
    finally:
        con.execute("RESET SESSION preserve_insertion_order")   # staging's row numbers rely on it
    written = [(m, p, n) for m, p, n in out if n > 0]
    hashes = {}
    if written:
        con.execute("INSERT INTO etl_storage.parts SELECT $t, unnest($months), $root, unnest($paths), "
                    "unnest($rows), $load, $at",
                    {"t": table, "months": [m for m, _, _ in written], "root": str(root),
                     "paths": [p for _, p, _ in written], "rows": [n for _, _, n in written],
                     "load": load_id, "at": datetime.now()})
        hashes = storage_keys.write(con, spec.key, [p for _, p, _ in written])
    return written, hashes


# composed with the table's columns from etl/schema.sql, its spec's time and key columns and the
# caller's SELECT (this module's callers' SQL, never data); values and paths are bound
_COPY_MONTH = ("COPY (SELECT {typed} FROM ({select}) WHERE {time} >= $month_from AND {time} < $month_to "
               "{order}) TO $path (FORMAT parquet)")
_COPY_PARTITIONED = ("COPY (SELECT {typed}, strftime({time}, '%Y-%m') AS month FROM ({select}) {order}) "
                     "TO $folder (FORMAT parquet, PARTITION_BY (month), APPEND true, "
                     "FILENAME_PATTERN $pattern, RETURN_STATS true)")


def _typed_columns(table: str) -> str:
    return ", ".join(f"CAST({n} AS {t}) AS {n}" for n, t in columns(table))


def _copy_month(con: duckdb.DuckDBPyConnection, table: str, select: str, folder: Path, tag: str,
                params: dict | None, month: date, sort: bool) -> tuple[date, str, int]:
    """COPY the rows of `select` in `month` to a new file of that month's folder, sorted by
    key when `sort` (row-group statistics of the key then prune lookups by key)."""
    spec = PARTITIONED[table]
    path = folder / f"month={month:%Y-%m}" / f"{tag}-{uuid.uuid4()}.parquet"
    path.parent.mkdir(exist_ok=True)
    query = _COPY_MONTH.format(typed=_typed_columns(table), select=select, time=spec.time,
                               order=f"ORDER BY {spec.key}" if sort else "")
    out = con.execute(query, {**(params or {}), "path": str(path), "month_from": month,
                              "month_to": next_month(month)}).fetchall()
    return month, str(path), int(out[0][0])


def _copy_partitioned(con: duckdb.DuckDBPyConnection, table: str, select: str, folder: Path, tag: str,
                      params: dict | None, sort: bool) -> list[tuple[date, str, int]]:
    """One COPY ... PARTITION_BY (month) of every row of `select`, sorted by key within each
    month when `sort`."""
    spec = PARTITIONED[table]
    query = _COPY_PARTITIONED.format(typed=_typed_columns(table), select=select, time=spec.time,
                                     order=f"ORDER BY month, {spec.key}" if sort else "")
    out = con.execute(query, {**(params or {}), "folder": str(folder), "pattern": f"{tag}-{{uuid}}"}).fetchall()
    return [(month_of(r[0]), r[0], int(r[1])) for r in out]


def next_month(day: date) -> date:
    """The first day of the month after `day`'s."""
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


_MONTH_ROWS = ("SELECT date_trunc('month', {time})::DATE AS month_on, count(*) FROM ({select}) "
               "GROUP BY ALL ORDER BY 1")


def _month_rows(con: duckdb.DuckDBPyConnection, spec: Partitioned, select: str,
                params: dict | None) -> list[tuple[date, int]]:
    """(first of the month, rows) of each month of `select` (the caller's SQL; the time column
    from its spec). A row without a time has no month to be kept in: refused."""
    found = con.execute(_MONTH_ROWS.format(select=select, time=spec.time), params or {}).fetchall()
    if any(month is None for month, _ in found):
        raise ValueError(f"{spec.table}: rows without {spec.time} cannot be stored by month")
    return [(month, int(n)) for month, n in found]


_WRITTEN = "CREATE OR REPLACE TEMP TABLE etl_written AS SELECT unnest(CAST($paths AS VARCHAR[])) AS path"


def upsert(con: duckdb.DuckDBPyConnection, table: str, source: str, source_columns: list[str],
           load_id: int) -> int:
    """Write the rows of `source` (a relation name of this module's callers, e.g. `_clean`)
    with source_load_id = load_id: latest wins by key. Returns the rows written.

    `source` is read once, straight into the new files (no copy of it first). The stored rows
    it supersedes are left in temp.etl_superseded (path, key) and the files it wrote in
    temp.etl_written (path) until the next upsert, for the summary marts' delta
    (etl/marts/delta.py); the pairs are also in etl_storage.deletes.
    Runs inside the caller's transaction: if it rolls back, the manifest forgets the new files
    (collect_garbage removes them later) and the live catalog never saw them.
    """
    root = root_of(con)
    current = con.execute("SELECT path, rows FROM etl_storage.parts WHERE table_name = $t ORDER BY path",
                          {"t": table}).fetchall()
    cols = ", ".join(source_columns)
    written, hashes = _write_files(con, table, f"SELECT {cols}, $load_id AS source_load_id FROM {source}",
                                   root, f"L{load_id}", load_id, {"load_id": load_id})
    con.execute(_WRITTEN, {"paths": [p for _, p, _ in written]})
    superseded = find_superseded(con, table, current, hashes)
    months = {m for m, _, _ in written} | superseded
    loaded = sum(n for _, _, n in written)
    compact(con, table, sorted(months), root,
            budget=max(COMPACT_BUDGET_ROWS, COMPACT_BUDGET_FACTOR * loaded))
    refresh_view(con, table)
    record_change(con, table, months)
    return loaded


def find_superseded(con: duckdb.DuckDBPyConnection, table: str, current: list[tuple[str, int]],
                    incoming: dict[str, np.ndarray]) -> set[date]:
    """Note in etl_storage.deletes the stored rows of `table`'s files `current` ((path, rows),
    those before this write) whose key is in the new files `incoming` (path -> their sorted key
    hashes); leave them in temp.etl_superseded (path, key); return the months they are in."""
    storage_keys.superseded(con, PARTITIONED[table].key, current, incoming)
    con.execute("INSERT INTO etl_storage.deletes SELECT path, key FROM temp.etl_superseded")
    return {r[0] for r in con.execute(
        "SELECT DISTINCT month_on FROM etl_storage.parts WHERE path IN "
        "(SELECT DISTINCT path FROM temp.etl_superseded)").fetchall()}


_MONTH_STATS = """
    SELECT p.month_on, count(*) AS n, sum(p.rows) AS stored,
           (SELECT count(*) FROM etl_storage.deletes d JOIN etl_storage.parts q USING (path)
            WHERE q.table_name = $t AND q.month_on = p.month_on) AS gone
    FROM etl_storage.parts p WHERE p.table_name = $t AND ($m IS NULL OR list_contains($m, p.month_on))
    GROUP BY p.month_on"""


def month_stats(con: duckdb.DuckDBPyConnection, table: str,
                months: list[date] | None = None) -> list[tuple[date, int, int, int]]:
    """(month, files, stored rows, stored rows superseded) for each month of `table` (of
    `months`; None: all)."""
    return con.execute(_MONTH_STATS, {"t": table, "m": months}).fetchall()


def is_whole(files: int, superseded: int) -> bool:
    """A month as the nightly compaction leaves it: one file, no stored row superseded (its
    reads need no anti-join)."""
    return files <= 1 and superseded == 0


def compact(con: duckdb.DuckDBPyConnection, table: str, months: list[date] | None, root: Path,
            budget: int | None = None, force: bool = False, whole: bool = False) -> list[date]:
    """Rewrite as one file each month (of `months`; None: all) with more than COMPACT_FILES
    files or more than COMPACT_DELETED of its stored rows superseded (every one with `force`;
    with `whole`, the nightly's rule: every month not `is_whole`), the worst first, until
    `budget` stored rows have been rewritten (None: no limit)."""
    due = [(n / COMPACT_FILES + gone / max(stored, 1) / COMPACT_DELETED, month, stored)
           for month, n, stored, gone in month_stats(con, table, months)
           if force or n > COMPACT_FILES or gone > COMPACT_DELETED * max(stored, 1)
           or (whole and not is_whole(n, gone))]
    done, spent = [], 0
    for _, month, stored in sorted(due, reverse=True):
        if budget is not None and spent + stored > budget:
            continue
        _rewrite_month(con, table, month, root)
        done.append(month)
        spent += stored
    return done


def _rewrite_month(con: duckdb.DuckDBPyConnection, table: str, month: date, root: Path) -> None:
    spec = PARTITIONED[table]
    old = files(con, table, [month])
    names = column_list(table)
    select = (f"SELECT {', '.join('f.' + n for n, _ in columns(table))} "
              f"FROM read_parquet($files, hive_partitioning = false) f ANTI JOIN etl_storage.deletes d "
              f"ON d.path = f.filename AND d.key = f.{spec.key}")
    con.execute("DELETE FROM etl_storage.parts WHERE list_contains($files, path)", {"files": old})
    write_files(con, table, f"SELECT {names} FROM ({select})", root, f"C{int(time.time())}", None,
                 {"files": old})
    con.execute("DELETE FROM etl_storage.deletes WHERE list_contains($files, path)", {"files": old})
