"""Read-only access to the cockpit's DuckDB file for the UI.

The file path comes from env COCKPIT_DB (default data/cockpit.duckdb), shared with the ETL.
`identity()` changes whenever the ETL swaps in a new file; it is part of every cache key,
so a new load shows up without a restart.
"""
from __future__ import annotations

from pathlib import Path

import duckdb

from etl.dbfile import db_path, file_identity

REQUIRED_TABLES = ("grid_reports", "projects", "fund_transactions", "feedback")

# Every in-app reader connects with this one configuration. DuckDB keeps one database
# instance per file per process and refuses a second connection with a different config,
# so the pages, the explorer and the SQL console must agree. It is also the sandbox:
# read-only, no file or network access beyond the database, settings locked.
READ_CONFIG = {
    "enable_external_access": False,    # no read_csv('/etc/passwd'), COPY TO, ATTACH, INSTALL
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "memory_limit": "1GB",              # one analyst cannot starve the dashboard
    "lock_configuration": True,         # last: nothing above can be SET back
}


def path() -> Path:
    return db_path()


def identity() -> tuple[int, int, int] | None:
    return file_identity(db_path())


def connect() -> duckdb.DuckDBPyConnection | None:
    """A read-only connection, or None when there is no database file yet."""
    p = db_path()
    if not p.exists():
        return None
    return duckdb.connect(str(p), read_only=True, config=dict(READ_CONFIG))


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
