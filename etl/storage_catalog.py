"""The catalog side of the Parquet storage (etl/storage.py): what is stored and how it is read.

The stored tables' declarations (PARTITIONED, WHOLE, their columns as etl/schema.sql declares
them), the manifest `etl_storage.parts` / `etl_storage.deletes` and where new files go
(`parts_dir`, `publish_to` for a dry run), the VIEW over a table's current files with its
superseded keys left out (`view_sql`), and what a writer's connection notes: its parts folder
(`bind_root`) and the months each write changed (`record_change`, for etl.marts.build).
Writing the files, superseding keys and compaction are etl/storage.py's.

Table and column names come from PARTITIONED and etl/schema.sql only. File paths are bound
everywhere but in the view DDL, which cannot take parameters: there they are written as
quoted SQL literals of paths the storage made (`_literal`).
"""
from __future__ import annotations

import contextlib
import contextvars
import functools
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Iterator

import duckdb

SCHEMA_SQL = Path(__file__).with_name("schema.sql")


@dataclass(frozen=True)
class Partitioned:
    """A record table kept as monthly Parquet files: one key column, one time column."""
    table: str
    key: str          # unique: upserts replace by it
    time: str         # the TIMESTAMP/DATE column whose month names the partition


PARTITIONED: dict[str, Partitioned] = {p.table: p for p in (
    Partitioned("grid_reports", "report_id", "reported_at"),
    Partitioned("feedback", "feedback_id", "submitted_at"),
    Partitioned("participation", "record_id", "occurred_on"),
    # the other record tables that grow with every month: kept in the catalog they made it
    # 124 MB at 10M reports (mostly their primary-key indexes), copied by every load
    Partitioned("evaluations", "evaluation_id", "submitted_at"),
    Partitioned("fund_transactions", "txn_id", "txn_on"),
    Partitioned("usability_ratings", "rating_id", "submitted_at"),
    Partitioned("redemptions", "redemption_id", "redeemed_on"),
)}
# Per-message tables the pain-point engine writes (etl/painpoints/store.py): kept whole as one
# Parquet file each, rewritten by the run that changes them (`writable` brings one back into
# the catalog for that run), so a load never copies them.
WHOLE = ("feedback_tokens", "feedback_places", "feedback_pain_points")
PARTS_SUFFIX = ".parts"
# the writer's connection notes which months each write changed (for etl.marts.build)
_CHANGES_DDL = "CREATE TEMP TABLE IF NOT EXISTS etl_storage_changes (table_name VARCHAR, month_on DATE)"
_CHANGES_INSERT = "INSERT INTO etl_storage_changes SELECT $t, unnest($m)"
_CHANGES_READ = "SELECT table_name, month_on FROM temp.etl_storage_changes"

# The manifest lives in its own schema of the catalog: storage bookkeeping, not a table of the
# analysts' `main` namespace (dashboard/queries/base.py cannot name it, so no page reads it).
MANIFEST_DDL = (
    "CREATE SCHEMA IF NOT EXISTS etl_storage",
    # one row per Parquet file holding rows of a table kept outside the catalog
    """CREATE TABLE IF NOT EXISTS etl_storage.parts (
        table_name VARCHAR NOT NULL,
        month_on   DATE,                 -- first day of the month of the file's rows; NULL: a table kept whole
        root       VARCHAR NOT NULL,     -- the <db>.parts folder the file is in
        path       VARCHAR PRIMARY KEY,  -- absolute path; a file is never changed after it is written
        rows       BIGINT NOT NULL,      -- rows in the file, superseded ones included
        load_id    BIGINT,               -- the load that wrote it; NULL for a migration or compaction
        added_at   TIMESTAMP NOT NULL)""",
    # one row per stored row superseded by a later load (merge on read: the view leaves it out)
    """CREATE TABLE IF NOT EXISTS etl_storage.deletes (
        path       VARCHAR NOT NULL,     -- a file of etl_storage.parts
        key        VARCHAR NOT NULL)""",  # the row's key (report_id / feedback_id / record_id)
)

_target: contextvars.ContextVar[Path | None] = contextvars.ContextVar("parts_target", default=None)


def parts_dir(db: Path) -> Path:
    """Where new files of `db`'s tables go: `<db>.parts`, or the live database's folder while
    a dry run writes its copy (publish_to)."""
    override = _target.get()
    return override if override is not None else Path(db).with_name(Path(db).name + PARTS_SUFFIX)


@contextlib.contextmanager
def publish_to(live: Path) -> Iterator[None]:
    """Writes inside write their files into `live`'s parts folder: a dry run loads a copy of
    the catalog that is later swapped in as `live`, so its files must already be there."""
    token = _target.set(Path(live).with_name(Path(live).name + PARTS_SUFFIX))
    try:
        yield
    finally:
        _target.reset(token)


@functools.lru_cache(maxsize=1)
def _schema() -> dict[str, tuple[tuple[tuple[str, str], ...], str]]:
    """table -> ((name, type) in order, CREATE TABLE text) for the stored tables, as
    etl/schema.sql declares them (read once per process)."""
    wanted = [*PARTITIONED, *WHOLE]
    with duckdb.connect() as con:
        con.execute(SCHEMA_SQL.read_text(encoding="utf-8"))
        cols = con.execute("SELECT table_name, list((column_name, data_type) ORDER BY ordinal_position) "
                           "FROM information_schema.columns WHERE list_contains($t, table_name) GROUP BY 1",
                           {"t": wanted}).fetchall()
        ddl = dict(con.execute("SELECT table_name, sql FROM duckdb_tables() WHERE list_contains($t, table_name)",
                               {"t": wanted}).fetchall())
    return {t: (tuple((c[0], c[1]) if isinstance(c, tuple) else (c["column_name"], c["data_type"])
                      for c in cs), ddl[t]) for t, cs in cols}


def declared(table: str) -> tuple[tuple[tuple[str, str], ...], str]:
    if table not in PARTITIONED and table not in WHOLE:
        raise ValueError(f"not a stored table: {table!r}")
    return _schema()[table]


@functools.lru_cache(maxsize=None)
def columns(table: str) -> tuple[tuple[str, str], ...]:
    """(name, type) of `table` as etl/schema.sql declares it, in order (read from the DDL text:
    cheaper than running it, and tests/test_storage.py checks it against DuckDB's reading)."""
    if table not in PARTITIONED and table not in WHOLE:
        raise ValueError(f"not a stored table: {table!r}")
    text = SCHEMA_SQL.read_text(encoding="utf-8")
    body = re.search(rf"CREATE TABLE IF NOT EXISTS {table} \((.*?)\n\);", text, re.S).group(1)
    out = []
    for line in body.splitlines():
        m = re.match(r"\s+([a-z_][a-z0-9_]*)\s+([A-Z]+(?:\(\d+,\d+\))?(?:\[\])?)", line)
        if m and m.group(1) not in ("primary",):
            out.append((m.group(1), m.group(2)))
    return tuple(out)


def column_list(table: str) -> str:
    return ", ".join(n for n, _ in columns(table))


def _literal(text: str) -> str:
    """A SQL string literal of a path made by this module (DDL cannot bind parameters)."""
    if "\x00" in text:
        raise ValueError("NUL in a path")
    return "'" + text.replace("'", "''") + "'"


def table_type(con: duckdb.DuckDBPyConnection, table: str) -> str | None:
    """'BASE TABLE', 'VIEW' or None for a table of the main catalog."""
    rows = con.execute("SELECT table_type FROM information_schema.tables WHERE table_catalog = current_database() "
                       "AND table_schema = 'main' AND table_name = $t", {"t": table}).fetchall()
    return rows[0][0] if rows else None


def is_partitioned(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    return table in PARTITIONED and table_type(con, table) == "VIEW"


def files(con: duckdb.DuckDBPyConnection, table: str, months: list[date] | None = None) -> list[str]:
    """The current files of `table` (of `months` only, when given)."""
    rows = con.execute("SELECT path FROM etl_storage.parts WHERE table_name = $t "
                       "AND ($m IS NULL OR list_contains($m, month_on)) ORDER BY path",
                       {"t": table, "m": months}).fetchall()
    return [r[0] for r in rows]


def roots(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The folders the catalog's files are in (what a sandboxed reader must be allowed)."""
    try:
        rows = con.execute("SELECT DISTINCT root FROM etl_storage.parts ORDER BY 1").fetchall()
    except duckdb.CatalogException:
        return []
    return [r[0].rstrip("/") + "/" for r in rows]


# ---- the view ---------------------------------------------------------------------------

# Which of a table's files have superseded rows: one semi join of the files with the deletes'
# distinct paths (a correlated EXISTS probed the 190k deletes of the 10M demo per file: 25-35 ms
# of CPU a write, against 3-5 ms)
_DIRTY = """
    SELECT p.path, p.path IN (SELECT DISTINCT path FROM etl_storage.deletes) AS dirty
    FROM etl_storage.parts p WHERE p.table_name = $t ORDER BY p.path"""


def view_sql(con: duckdb.DuckDBPyConnection, table: str) -> str:
    """CREATE OR REPLACE VIEW <table> over its current files, superseded keys left out."""
    if table in WHOLE:
        paths = files(con, table)
        if not paths:
            typed = ", ".join(f"CAST(NULL AS {t}) AS {n}" for n, t in columns(table))
            return f"CREATE OR REPLACE VIEW {table} AS SELECT {typed} WHERE FALSE"
        return (f"CREATE OR REPLACE VIEW {table} AS SELECT {column_list(table)} FROM "
                f"read_parquet([{', '.join(map(_literal, paths))}], hive_partitioning = false)")
    spec = PARTITIONED[table]
    rows = con.execute(_DIRTY, {"t": table}).fetchall()
    clean = [p for p, dirty in rows if not dirty]
    dirty = [p for p, d in rows if d]
    names = column_list(table)
    parts = []
    if clean:
        parts.append(f"SELECT {names} FROM read_parquet([{', '.join(map(_literal, clean))}], "
                     "hive_partitioning = false)")
    if dirty:
        prefixed = ", ".join(f"f.{n}" for n, _ in columns(table))
        parts.append(f"SELECT {prefixed} FROM read_parquet([{', '.join(map(_literal, dirty))}], "
                     f"hive_partitioning = false) f ANTI JOIN etl_storage.deletes d "
                     f"ON d.path = f.filename AND d.key = f.{spec.key}")
    if not parts:
        typed = ", ".join(f"CAST(NULL AS {t}) AS {n}" for n, t in columns(table))
        parts.append(f"SELECT {typed} WHERE FALSE")
    return f"CREATE OR REPLACE VIEW {table} AS\n" + "\nUNION ALL\n".join(parts)


def refresh_view(con: duckdb.DuckDBPyConnection, table: str) -> None:
    con.execute(view_sql(con, table))


# ---- what a writer's connection notes ----------------------------------------------------

def record_change(con: duckdb.DuckDBPyConnection, table: str, months) -> None:
    """Note that `table` changed in `months` (for the marts: etl.marts.build(changed=...))."""
    con.execute(_CHANGES_DDL)
    con.execute(_CHANGES_INSERT, {"t": table, "m": sorted(months) or [None]})


def changes(con: duckdb.DuckDBPyConnection) -> dict[str, set[date]] | None:
    """table -> months changed by this connection's writes; None when nothing was noted."""
    try:
        rows = con.execute(_CHANGES_READ).fetchall()
    except duckdb.CatalogException:
        return None
    out: dict[str, set[date]] = {}
    for table, month in rows:
        out.setdefault(table, set())
        if month is not None:
            out[table].add(month)
    return out


def bind_root(con: duckdb.DuckDBPyConnection, root: Path) -> None:
    """Tell this (writer's) connection where its new files go."""
    con.execute("CREATE OR REPLACE TEMP TABLE etl_storage_root AS SELECT $r AS root", {"r": str(root)})


def root_of(con: duckdb.DuckDBPyConnection) -> Path:
    try:
        return Path(con.execute("SELECT root FROM temp.etl_storage_root").fetchall()[0][0])
    except duckdb.CatalogException:
        raise RuntimeError("not a writer's connection (etl.dbfile.writer binds the parts folder)") from None
