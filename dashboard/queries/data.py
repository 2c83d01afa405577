"""Reads of the 数据管理 page: the load history, one load's rejects, the rollbacks.

`$by` limits the history to one uploader (a partner sees only its own loads); NULL = all.
"""
from __future__ import annotations

import duckdb
import pandas as pd

from dashboard.filters import Filters
from dashboard.queries.base import fetch

HISTORY_LIMIT = 200

_HISTORY = """
SELECT load_id, finished_at, loaded_by, regexp_extract(path, '[^/]+$') AS file, sheet,
       source_kind, encoding, rows_read, rows_loaded, rows_rejected, status, sha256
FROM {etl_loads}
WHERE ($by IS NULL OR loaded_by = $by)
ORDER BY load_id DESC
LIMIT $limit
"""


def load_history(con: duckdb.DuckDBPyConnection, filters: Filters, by: str | None = None) -> pd.DataFrame:
    """One row per load, newest first (who, when, file, sha256, counts, status)."""
    return fetch(con, _HISTORY, {"by": by, "limit": HISTORY_LIMIT})


_REJECTS = """
SELECT r.row_number AS row, r.column_name AS "column",
       json_extract_string(r.original_values, '$."' || replace(r.column_name, '"', '\\"') || '"') AS value,
       r.reason, r.original_values
FROM {etl_rejects} r
WHERE r.load_id = $load_id
  AND r.load_id IN (SELECT load_id FROM {etl_loads} WHERE $by IS NULL OR loaded_by = $by)
ORDER BY r.row_number, r.column_name
"""


def load_rejects(con: duckdb.DuckDBPyConnection, filters: Filters, load_id: int,
                 by: str | None = None) -> pd.DataFrame:
    """One row per rejected (row, column) of one load, with the original record as JSON."""
    return fetch(con, _REJECTS, {"load_id": load_id, "by": by})


_UNDOABLE = """
SELECT load_id, finished_at, loaded_by, regexp_extract(path, '[^/]+$') AS file, sheet,
       source_kind, rows_loaded
FROM {etl_loads}
WHERE status = 'loaded'
ORDER BY load_id DESC
LIMIT $limit
"""


def undoable_loads(con: duckdb.DuckDBPyConnection, filters: Filters) -> pd.DataFrame:
    """Loads whose rows are in the database now, newest first."""
    return fetch(con, _UNDOABLE, {"limit": HISTORY_LIMIT})


_ROLLBACKS = """
SELECT rollback_id, rolled_back_at, rolled_back_by, before_load_id, restored_load_id,
       removed_load_ids, rows_removed, version_file
FROM {etl_rollbacks}
ORDER BY rollback_id DESC
"""


def rollbacks(con: duckdb.DuckDBPyConnection, filters: Filters) -> pd.DataFrame:
    """One row per rollback, newest first."""
    return fetch(con, _ROLLBACKS)
