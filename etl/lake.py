"""The database as a plain Parquet lake another engine reads unchanged, and the storage migration.

`lake_export(db, out)` writes, into a new folder `out`:
    <table>/month=YYYY-MM/part-NNNN.parquet   each table of etl.storage.PARTITIONED (Hive layout)
    <table>/part-0000.parquet                 every other table of the catalog (not etl_meta and
                                              the storage manifest), and the WHOLE tables
Months without superseded rows are hard links to the database's own immutable files (no copy);
a month with superseded rows is written merged. Spark (`spark.read.parquet(out + "/grid_reports")`),
Trino/Hive (an external table partitioned by `month`), pyarrow.dataset and DuckDB
(`read_parquet('out/grid_reports/*/*.parquet', hive_partitioning = true)`) read it as it is:
docs/ARCHITECTURE.md. The folder appears whole or not at all (written beside it, then renamed).

`compact_all(db)`: the nightly maintenance (`python -m etl compact`): every month with too many
files or superseded rows rewritten as one file (a load only compacts within a budget).
`compact_unpublished(catalog)`: the same for a catalog no reader has opened yet (the demo build
before its swap), deleting at once the files the compaction replaced.

`migrate(db)`: a database file from before the catalog layout (every table inside the file) is
rewritten as catalog + Parquet files, like the first write would do, and packed small; the
key sidecars (etl/storage_keys.py) a catalog from before them lacks are written.
"""
from __future__ import annotations

import contextlib
import os
import re
import shutil
from pathlib import Path

import duckdb

from etl import storage, storage_keys

INTERNAL = ("etl_meta",)    # settings stay home (the manifest is in schema etl_storage, never exported)


def migrate(db: Path) -> tuple[int, int, list[str]]:
    """(catalog bytes before, after, tables moved out) for the database at `db`."""
    from etl.dbfile import writer
    before = db.stat().st_size
    moved: list[str] = []
    with writer(db) as con:
        moved = [t for t in (*storage.PARTITIONED, *storage.WHOLE) if storage.table_type(con, t) == "VIEW"]
        for table in storage.PARTITIONED:      # the key sidecars a catalog made before them lacks
            if table in moved:
                storage_keys.ensure(con, storage.PARTITIONED[table].key, con.execute(
                    "SELECT path, rows FROM etl_storage.parts WHERE table_name = $t", {"t": table}).fetchall())
    return before, db.stat().st_size, moved


def compact_all(db: Path) -> dict[str, list]:
    """`python -m etl compact` (nightly): the record tables' Parquet parts, without a budget,
    every month not yet whole - more than one file or any stored row superseded - so the day's
    reads meet one file a month and no superseded row to leave out (a load compacts only the
    months past its thresholds, within its budget); and the summaries' appended deltas
    (etl/marts/appended.py); its checkpoint vacuums the deleted rows the day's loads left in
    the catalog's tables (etl/storage_upkeep.py NO_VACUUM)."""
    from etl.dbfile import writer
    from etl.marts import appended
    done: dict[str, list] = {}
    with writer(db, vacuum=True) as con:     # and the deleted rows loads leave in the catalog
        root = storage.root_of(con)
        for table in storage.PARTITIONED:
            if storage.is_partitioned(con, table):
                done[table] = storage.compact(con, table, None, root, whole=True)
                if done[table]:
                    storage.refresh_view(con, table)
                    storage.record_change(con, table, done[table])
        done.update(appended.compact_all(con))
    return done


def compact_unpublished(catalog: Path) -> dict[str, list]:
    """compact_all for a catalog that has never been published (`python -m etl demo`'s build
    file before it is swapped in): the files its compaction replaced were only ever referenced by
    this catalog, so no reader can hold them and they are deleted now, with their key sidecars,
    instead of staying until the garbage collection's grace period (etl/dbfile.collect_garbage),
    which a build swapped over the live file never runs for them."""
    from etl import storage_upkeep
    before = storage_upkeep.referenced(catalog)
    done = compact_all(catalog)
    for gone in before - storage_upkeep.referenced(catalog):
        for path in (Path(gone), Path(gone + storage_keys.SUFFIX)):
            path.unlink(missing_ok=True)
    return done


def _link(src: str, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:                 # another file system: copy
        shutil.copyfile(src, dst)


# composed from the table's columns (etl/schema.sql) and its spec's key, or a catalog table's
# own name (quoted as an identifier); paths are bound
_COPY_MONTH = ("COPY (SELECT {names} FROM read_parquet($files, hive_partitioning = false) f "
               "ANTI JOIN etl_storage.deletes d ON d.path = f.filename AND d.key = f.{key} "
               "ORDER BY f.{key}) TO $path (FORMAT parquet)")
_COPY_TABLE = 'COPY (SELECT * FROM "{table}") TO $path (FORMAT parquet)'


def _export_partitioned(con: duckdb.DuckDBPyConnection, table: str, out: Path) -> int:
    spec = storage.PARTITIONED[table]
    months = con.execute("""
        SELECT p.month_on, list(p.path ORDER BY p.path),
               bool_or(EXISTS (SELECT 1 FROM etl_storage.deletes d WHERE d.path = p.path))
        FROM etl_storage.parts p WHERE p.table_name = $t GROUP BY 1 ORDER BY 1""", {"t": table}).fetchall()
    names = ", ".join(f"f.{n}" for n, _ in storage.columns(table))
    written = 0
    for month, paths, dirty in months:
        folder = out / table / f"month={month:%Y-%m}"
        if not dirty:
            for i, path in enumerate(paths):
                _link(path, folder / f"part-{i:04d}.parquet")
            written += len(paths)
            continue
        folder.mkdir(parents=True, exist_ok=True)
        con.execute(_COPY_MONTH.format(names=names, key=spec.key),
                    {"files": paths, "path": str(folder / "part-0000.parquet")})
        written += 1
    return written


def _catalog_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute("SELECT table_name FROM information_schema.tables WHERE table_catalog = current_database() "
                       "AND table_schema = 'main' AND table_type = 'BASE TABLE' ORDER BY 1").fetchall()
    names = [r[0] for r in rows if r[0] not in INTERNAL and re.fullmatch(r"[a-z][a-z0-9_]*", r[0])]
    return names + [t for t in storage.WHOLE if t not in names]


def lake_export(db: Path, out: Path) -> dict[str, int]:
    """Write the lake into the new folder `out`; returns files written per table."""
    out = Path(out)
    if out.exists():
        raise FileExistsError(f"{out} exists: give a new folder")
    tmp = out.with_name(out.name + ".writing")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    counts: dict[str, int] = {}
    try:
        with contextlib.closing(duckdb.connect()) as con:
            con.execute("ATTACH $p AS c (READ_ONLY)", {"p": str(db)})
            con.execute("USE c")
            for table in storage.PARTITIONED:
                if storage.table_type(con, table) == "VIEW":
                    counts[table] = _export_partitioned(con, table, tmp)
            for table in _catalog_tables(con):
                if table in storage.PARTITIONED and table in counts:
                    continue
                folder = tmp / table
                folder.mkdir()
                # table names come from the catalog's own information_schema, quoted as identifiers
                con.execute(_COPY_TABLE.format(table=table), {"path": str(folder / "part-0000.parquet")})
                counts[table] = 1
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return counts
