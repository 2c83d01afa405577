"""Where the database file is, without importing DuckDB, pandas or the storage layer.

A command that reads no database (`python -m etl --help`, `keys`, `audit verify`) imports this
instead of etl/dbfile.py, which re-exports both functions for everyone else.
"""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def db_path() -> Path:
    """The database file: env COCKPIT_DB, default data/cockpit.duckdb (relative to the repo)."""
    configured = os.environ.get("COCKPIT_DB")
    path = Path(configured) if configured else REPO_ROOT / "data" / "cockpit.duckdb"
    return path if path.is_absolute() else (Path.cwd() / path)


def file_identity(path: Path | None = None) -> tuple[int, int, int] | None:
    """(inode, mtime_ns, size) of the file, or None if it does not exist: changes on every swap."""
    path = path or db_path()
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)
