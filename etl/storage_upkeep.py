"""Upkeep of the storage layout (etl/storage.py): moving tables out of the catalog and back,
packing the catalog, and deleting Parquet files no catalog references any more.

- `ensure_layout`: every table of storage.PARTITIONED and storage.WHOLE stored as files + view
  (a file from before this layout, a fresh one, or tables a pain-point run wrote);
- `writable`: a WHOLE table back into the writer's catalog for the pain-point engine;
- `vacuum_copy`: the catalog rewritten with only its live blocks after tables moved out;
- `NO_VACUUM` / `vacuum_due`: a write's checkpoint leaves deleted rows in place unless enough
  of a table is deleted rows (or the write is the nightly compaction or a rebuild);
- `collect_garbage`: files older than GC_GRACE_S that no catalog (live, kept versions, pending
  dry runs) references.
"""
from __future__ import annotations

import contextlib
import json
import os
import time
from datetime import datetime
from pathlib import Path

import duckdb

from etl import storage, storage_keys


# ---- layout: migrating a table into files -------------------------------------------------

# table names from storage.PARTITIONED and storage.WHOLE only, their columns from etl/schema.sql
_COUNT = "SELECT count(*) FROM main.{table}"
_DROP = "DROP TABLE main.{table}"
_DROP_VIEW = "DROP VIEW main.{table}"
_COPY_WHOLE = "COPY (SELECT {columns} FROM main.{table}) TO $path (FORMAT parquet)"
_INSERT_FILES = "INSERT INTO main.{table} SELECT {columns} FROM read_parquet($files, hive_partitioning = false)"


def ensure_layout(con: duckdb.DuckDBPyConnection, root: Path) -> list[str]:
    """Every table of storage.PARTITIONED and storage.WHOLE as files + view (a table still stored in the
    catalog, as in a file from before this layout, a fresh one, or one a pain-point run wrote,
    is moved out); returns the tables moved."""
    for statement in storage.MANIFEST_DDL:
        con.execute(statement)
    moved = []
    # duckdb_tables() lists base tables only, at half the cost of information_schema
    tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() "
                                        "WHERE database_name = current_database() AND schema_name = 'main'").fetchall()}
    for table in (*storage.PARTITIONED, *storage.WHOLE):
        if table in tables:
            count = con.execute(_COUNT.format(table=table)).fetchall()[0][0]
            if table in storage.WHOLE:
                _write_whole(con, table, root, count)
            elif count:
                storage.write_files(con, table, f"SELECT {storage.column_list(table)} FROM main.{table}", root, "M", None)
            con.execute(_DROP.format(table=table))
            storage.refresh_view(con, table)
            moved.append(table)
    return moved


def _write_whole(con: duckdb.DuckDBPyConnection, table: str, root: Path, count: int) -> None:
    """Replace the files of a storage.WHOLE table by one file of its catalog rows."""
    con.execute("DELETE FROM etl_storage.parts WHERE table_name = $t", {"t": table})
    if not count:
        return
    folder = root / table
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"W{time.time_ns()}-{os.getpid()}.parquet"
    con.execute(_COPY_WHOLE.format(columns=storage.column_list(table), table=table), {"path": str(path)})
    con.execute("INSERT INTO etl_storage.parts VALUES ($t, NULL, $root, $path, $rows, NULL, $at)",
                {"t": table, "root": str(root), "path": str(path), "rows": count, "at": datetime.now()})


def writable(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Bring a storage.WHOLE table back into the writer's catalog as a table (its rows, its schema.sql
    DDL with keys), so the pain-point engine can DELETE/INSERT/UPDATE it; the writer moves it
    out again when it finishes (ensure_layout). A no-op when it is a table already."""
    if table not in storage.WHOLE or storage.table_type(con, table) != "VIEW":
        return
    paths = storage.files(con, table)
    con.execute(_DROP_VIEW.format(table=table))
    con.execute(storage.declared(table)[1])
    if paths:
        con.execute(_INSERT_FILES.format(table=table, columns=storage.column_list(table)), {"files": paths})


# ---- vacuum: deleted rows at a write's checkpoint ---------------------------------------------

# DuckDB's CHECKPOINT "vacuums" by default: row groups thinned by deletions are merged and
# rewritten. A load's in-budget compaction of a summary month (etl/marts/appended.py) deletes
# that month's rows wherever they lie, so the checkpoint rewrote most of grid_daily's row groups:
# 0.5-0.6 s of a 35k-row update load's ~1.8 s of CPU into the 1M demo (measured 2026-12-01,
# docs/ARCHITECTURE.md section 3, "Tenth round"). A write's connection therefore starts with
# vacuuming off (NO_VACUUM); its final checkpoint vacuums (VACUUM) only when the write is the
# nightly compaction or a rebuild, or when a catalog table has become DELETED_SHARE deleted rows
# (a scan still reads a deleted row, it only skips it), so deleted rows stay bounded.
NO_VACUUM = "SET max_vacuum_tasks = 0"
VACUUM = "RESET max_vacuum_tasks"
DELETED_SHARE = 0.2
DELETED_MIN_ROWS = 10_000             # smaller tables: their deleted rows cost nothing to read
# estimated_size counts the rows a table stores, deleted ones included; count(*) the live ones
_STORED = """
    SELECT table_name, estimated_size FROM duckdb_tables()
    WHERE database_name = current_database() AND schema_name = 'main' AND NOT temporary
      AND estimated_size >= $min"""
_LIVE = 'SELECT count(*) FROM main."{table}"'      # a name read from duckdb_tables() above


def deleted_rows(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[int, int]]:
    """table -> (rows stored, rows live) for the catalog's tables of DELETED_MIN_ROWS or more."""
    out = {}
    for table, stored in con.execute(_STORED, {"min": DELETED_MIN_ROWS}).fetchall():
        out[table] = (stored, con.execute(_LIVE.format(table=table.replace('"', '""'))).fetchone()[0])
    return out


def vacuum_due(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether some table of the catalog `con` writes is DELETED_SHARE or more deleted rows."""
    return any(stored > live and stored - live >= DELETED_SHARE * stored
               for stored, live in deleted_rows(con).values())


# a catalog is rewritten when this share of its blocks is free and they add up to at least
# BLOAT_MIN_BYTES (a safety net: DuckDB reuses free blocks, so a load's freed blocks are mostly
# filled by the next; a big update load at 10M frees about a third, and rewriting then cost
# 1.5 s). `python -m etl marts --rebuild` asks for the rewrite itself (writer(compact=True)).
BLOAT_SHARE = 0.5
BLOAT_MIN_BYTES = 8 << 20


def bloated(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the catalog `con` writes (after its CHECKPOINT) holds enough free blocks to be
    worth a vacuum_copy."""
    row = con.execute("SELECT free_blocks, total_blocks, block_size FROM pragma_database_size()"
                      " WHERE database_name = current_database()").fetchone()
    if not row:
        return False
    free, total, size = row
    return total > 0 and free >= BLOAT_SHARE * total and free * size >= BLOAT_MIN_BYTES


def vacuum_copy(src: Path, dst: Path) -> None:
    """Copy the catalog `src` into a new file `dst` holding only its live blocks (after a
    migration the old file keeps the moved tables' space until it is rebuilt)."""
    with contextlib.suppress(FileNotFoundError):
        dst.unlink()
    with duckdb.connect() as con:
        con.execute("ATTACH $src AS src (READ_ONLY)", {"src": str(src)})
        con.execute("ATTACH $dst AS dst", {"dst": str(dst)})
        con.execute("COPY FROM DATABASE src TO dst")
        con.execute("DETACH dst")


# ---- garbage ------------------------------------------------------------------------------

def manifest(con: duckdb.DuckDBPyConnection) -> set[str]:
    """The files the catalog `con` is connected to references (its manifest)."""
    try:
        return {r[0] for r in con.execute("SELECT path FROM etl_storage.parts").fetchall()}
    except duckdb.CatalogException:
        return set()


def referenced(catalog: Path) -> set[str]:
    """The files a catalog file references (empty when it has no manifest or cannot be read)."""
    try:
        with duckdb.connect() as con:
            con.execute("ATTACH $p AS c (READ_ONLY)", {"p": str(catalog)})
            con.execute("USE c")
            return manifest(con)
    except duckdb.Error:
        return set()


# What each catalog references, kept between collections in the parts folder: a catalog file is
# never written after it is swapped in (a writer writes a copy; a kept version is a hard link
# of a former live catalog), so its manifest is read once, keyed by the file's identity (inode,
# mtime, size: the same for a version and the live file it was), instead of opening every kept
# catalog at every collection (four ATTACHes, about 0.1 s of CPU at 10M reports, each load). A
# changed or unknown file is read again; entries of files no longer listed are dropped.
REFS_CACHE = ".gc-refs.json"


def _identity(path: Path) -> str | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return f"{st.st_ino}:{st.st_mtime_ns}:{st.st_size}"


def _read_cache(root: Path) -> dict[str, list[str]]:
    try:
        got = json.loads((root / REFS_CACHE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return got if isinstance(got, dict) else {}


def _write_cache(root: Path, entries: dict[str, list[str]]) -> None:
    tmp = root / f"{REFS_CACHE}.tmp-{os.getpid()}"
    try:
        tmp.write_text(json.dumps(entries), encoding="utf-8")
        os.replace(tmp, root / REFS_CACHE)
    except OSError:            # a cache: the next collection reads the catalogs again
        with contextlib.suppress(OSError):
            tmp.unlink()


def _references(root: Path, catalogs: list[Path], known: dict[Path, set[str]]) -> set[str] | None:
    """The union of what `catalogs` reference (None: one exists but cannot be read). `known`:
    catalog -> its references, read by the caller (the writer knows its own manifest)."""
    cache, entries, keep = _read_cache(root), {}, set()
    for catalog in catalogs:
        ident = _identity(catalog)
        if ident is None:
            continue                       # gone since it was listed (an older version pruned)
        entry = ident        # a kept version is a hard link of a former live catalog: same entry
        refs = known.get(catalog)
        if refs is None and isinstance(cache.get(entry), list):
            refs = set(cache[entry])
        if refs is None:
            refs = referenced(catalog)
            if not refs and _has_manifest_error(catalog):
                return None                # a catalog we could not read: delete nothing this time
        entries[entry] = sorted(refs)
        keep |= refs
    _write_cache(root, entries)
    return keep


def collect_garbage(live: Path, catalogs: list[Path], grace_s: float = storage.GC_GRACE_S,
                    known: dict[Path, set[str]] | None = None) -> list[Path]:
    """Delete files under `live`'s parts folder that none of `catalogs` (the live file, the kept
    versions, the pending dry runs) references, once older than grace_s; returns them.
    `known`: catalog -> the files it references, when the caller has read them already."""
    root = Path(live).with_name(Path(live).name + storage.PARTS_SUFFIX)
    if not root.is_dir():
        return []
    keep = _references(root, catalogs, known or {})
    if keep is None:
        return []
    now = time.time()
    removed = []
    for path in root.rglob("*.parquet"):
        if str(path) in keep:
            continue
        with contextlib.suppress(FileNotFoundError):
            if now - path.stat().st_mtime >= grace_s:
                path.unlink()
                removed.append(path)
    # a file's key sidecar (etl/storage_keys.py) goes with it, or once its file is gone
    for side in root.rglob("*" + storage_keys.SUFFIX):
        if side.name.endswith(".parquet" + storage_keys.SUFFIX) and str(side)[:-len(storage_keys.SUFFIX)] in keep:
            continue
        with contextlib.suppress(FileNotFoundError):
            if not Path(str(side)[:-len(storage_keys.SUFFIX)]).exists() or now - side.stat().st_mtime >= grace_s:
                side.unlink()
    return sorted(removed)


def _has_manifest_error(catalog: Path) -> bool:
    """True when the catalog exists but could not be opened (locked by a writer, damaged)."""
    try:
        with duckdb.connect() as con:
            con.execute("ATTACH $p AS c (READ_ONLY)", {"p": str(catalog)})
            con.execute("SELECT count(*) FROM information_schema.tables").fetchall()
        return False
    except duckdb.Error:
        return True
