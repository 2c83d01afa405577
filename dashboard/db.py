"""Read-only access to the cockpit's DuckDB file for the UI.

The file path comes from env COCKPIT_DB (default data/cockpit.duckdb), shared with the ETL.
`identity()` changes whenever the ETL swaps in a new file; it is part of every cache key,
so a new load shows up without a restart.
"""
from __future__ import annotations

import contextlib
from pathlib import Path

import duckdb

from etl import storage
from etl.dbfile import db_path, file_identity

REQUIRED_TABLES = ("grid_reports", "projects", "fund_transactions", "feedback")

# Every in-app reader connects with this one configuration. DuckDB keeps one database
# instance per file per process and refuses a second connection with a different config,
# so the pages, the explorer and the SQL console must agree. It is also the sandbox, which
# `open_read_only` completes right after connecting: read-only, no file or network access
# beyond the database and its Parquet parts (etl/storage.py), settings locked. External
# access is turned off by SET, not here: DuckDB refuses to set allowed_directories after it.
READ_CONFIG = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "memory_limit": "1GB",              # one analyst cannot starve the dashboard
}


def path() -> Path:
    return db_path()


def identity() -> tuple[int, int, int] | None:
    return file_identity(db_path())


def lock_down(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """Allow only the catalog's parts folders, turn external access off, lock the settings.

    Once per database instance: a second connection to the same file in this process shares
    the (already locked) instance."""
    if con.execute("SELECT current_setting('lock_configuration')").fetchall()[0][0]:
        return con
    dirs = storage.roots(con)
    if dirs:
        con.execute("SET allowed_directories = $dirs", {"dirs": dirs})
    with contextlib.suppress(duckdb.Error):        # parquet footers read once per file, not per query
        con.execute("SET parquet_metadata_cache = true")
    con.execute("SET enable_external_access = false")   # no read_csv('/etc/passwd'), COPY TO, ATTACH, INSTALL
    con.execute("SET lock_configuration = true")        # last: nothing above can be SET back
    return con


def open_read_only(p: Path | str) -> duckdb.DuckDBPyConnection:
    """A sandboxed read-only connection to the catalog file `p`."""
    con = duckdb.connect(str(p), read_only=True, config=dict(READ_CONFIG))
    try:
        return lock_down(con)
    except BaseException:
        con.close()
        raise


def connect() -> duckdb.DuckDBPyConnection | None:
    """A read-only connection, or None when there is no database file yet."""
    p = db_path()
    if not p.exists():
        return None
    return open_read_only(p)


def has_data(con: duckdb.DuckDBPyConnection | None) -> bool:
    """True when the core tables exist and at least one holds rows."""
    if con is None:
        return False
    present = {r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
    ).fetchall()}
    if not set(REQUIRED_TABLES) <= present:
        return False
    total = con.execute(
        "SELECT (SELECT count(*) FROM grid_reports) + (SELECT count(*) FROM projects)"
        " + (SELECT count(*) FROM feedback)"
    ).fetchall()[0][0]
    return total > 0
