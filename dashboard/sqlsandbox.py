"""The SQL console's sandbox: the connection and the statement check (runs inside the worker).

Defence in depth, each layer enough on its own for its threat:
1. the connection: a fresh in-memory DuckDB that ATTACHes the cockpit file READ_ONLY, allows
   only the folders of its Parquet parts (the big tables' views read them), and
   then turns external access off and locks the configuration before any user SQL runs, so
   no statement - whatever the checks below miss - can write files, load extensions,
   ATTACH, or turn the sandbox off. The only writable place is the throwaway in-memory
   catalog. DuckDB still lets a connection read the files of its attached databases, so:
2. DuckDB's own parser (`extract_statements`) must find exactly one statement of a read
   type (SELECT, which covers WITH/FROM/DESCRIBE/SHOW/SUMMARIZE, or EXPLAIN);
3. the serialised parse tree must not touch `etl_meta` (internal settings; a file from before
   the salt moved to .cockpit_salt held it there until its next load), nor
   call a function that reads a file by name (read_blob('<the database file>') would hand
   out its raw bytes, free blocks and all), names a table by a string, or changes state;
   nor name a table by a path (`FROM 'cockpit.duckdb'` is a replacement scan of the file).
The OS limits (memory, CPU, wall clock, result size) live in dashboard/sqlconsole_worker.py
and dashboard/sqlconsole.py. This module imports only duckdb and the standard library: it
is loaded by the worker process, which must start fast.
"""
from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from typing import Iterator

import duckdb

ALLOWED_TYPES = {"SELECT", "EXPLAIN"}
HIDDEN_TABLES = ("etl_meta",)

# Functions that read a file given its name. External access being off does not stop them
# from reading the attached database file itself (nor its .wal).
FILE_READERS = frozenset({
    "read_blob", "read_text", "glob", "read_duckdb",
    "read_csv", "read_csv_auto", "read_single_csv_file", "sniff_csv",
    "read_json", "read_json_auto", "read_json_objects", "read_json_objects_auto",
    "read_ndjson", "read_ndjson_auto", "read_ndjson_objects", "read_single_json_file",
    "read_parquet", "parquet_scan", "read_single_parquet_file", "parquet_metadata",
    "parquet_file_metadata", "parquet_full_metadata", "parquet_kv_metadata",
    "parquet_schema", "parquet_bloom_probe",
})
# Functions whose table or statement is a string the parse tree cannot show.
NAME_BY_STRING = frozenset({"query", "query_table", "json_execute_serialized_sql"})
# Storage internals, raw pointers, and functions that change state or logging.
INTERNALS = frozenset({
    "pragma_storage_info", "pragma_metadata_info", "arrow_scan", "arrow_scan_dumb",
    "pandas_scan", "python_arrow_scan", "python_map_function", "seq_scan",
    "checkpoint", "force_checkpoint", "enable_logging", "disable_logging",
    "truncate_duckdb_logs", "enable_profiling", "disable_profiling",
    "create_external_resource", "register_external_resource",
    "register_external_resource_type", "deregister_external_resource",
    "destroy_external_resource",
})
DENIED_FUNCTIONS = FILE_READERS | NAME_BY_STRING | INTERNALS
# Table functions checked and allowed (tests fail when DuckDB adds one not in either list).
ALLOWED_TABLE_FUNCTIONS = frozenset({
    "range", "generate_series", "unnest", "repeat", "repeat_row", "summary", "histogram",
    "histogram_values", "json_each", "json_tree", "test_all_types", "test_vector_types",
    "pragma_table_info", "pragma_version", "pragma_database_size", "pragma_collations",
    "pragma_platform", "pragma_show", "pragma_user_agent", "icu_calendar_names",
    "pg_timezone_names", "which_secret", "duckdb_table_sample",
})
# plus every duckdb_* catalog function not denied above (duckdb_tables, duckdb_columns, ...)

SANDBOX_CONFIG = {                      # at connect; memory_limit, threads, temp dir per query
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "temp_directory": str(Path(tempfile.gettempdir()) / "cockpit-sqlconsole"),
    "max_temp_directory_size": "1GB",   # spilling cannot fill the server's disk
}
LOCKDOWN = (                            # right after ATTACH, before any user SQL
    "SET enable_external_access = false",   # no read_csv('/etc/passwd'), COPY TO, ATTACH, INSTALL
    "SET lock_configuration = true",        # last: nothing can be SET back
)
CATALOG = "cockpit"
_ATTACH = f"ATTACH $path AS {CATALOG} (READ_ONLY)"
_USE = f"USE {CATALOG}"
_EXPLAIN = re.compile(r"^\s*EXPLAIN(\s+ANALY[SZ]E)?\s+", re.IGNORECASE)
# how running out of address space shows up when it is not a MemoryError
_OUT_OF_MEMORY = ("std::bad_alloc", "Out of Memory", "can't start new thread",
                  "Cannot allocate memory", "failed to map segment")
_PATH_CHARS = re.compile(r"[/\\.:*?~]")


class ConsoleError(Exception):
    """A refused or failed console query; `key` is an i18n key, `values` its format args."""

    def __init__(self, key: str, **values):
        super().__init__(key, values)
        self.key = key
        self.values = values


def open_sandbox(path: Path | str, *, memory_limit: str = "1GB", threads: int | None = None,
                 temp_dir: str | None = None) -> duckdb.DuckDBPyConnection:
    """A new connection seeing the DB file read-only, external access off, configuration locked."""
    p = Path(path)
    if not p.exists():
        raise ConsoleError("sql.err.no_db")
    config = dict(SANDBOX_CONFIG, memory_limit=memory_limit)
    if threads:
        config["threads"] = threads
    if temp_dir:
        config["temp_directory"] = temp_dir
    con = duckdb.connect(":memory:", config=config)
    try:
        con.execute(_ATTACH, {"path": str(p)})
        con.execute(_USE)
        dirs = _part_roots(con)
        if dirs:                          # the Parquet parts of the big tables (etl/storage.py)
            con.execute("SET allowed_directories = $dirs", {"dirs": dirs})
        for statement in LOCKDOWN:
            con.execute(statement)
    except BaseException:
        con.close()
        raise
    return con


_PART_ROOTS = f"SELECT DISTINCT root FROM {CATALOG}.etl_storage.parts ORDER BY 1"   # a constant


def _part_roots(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The folders of the catalog's Parquet files (as etl.storage.roots; not imported here:
    the worker must start fast)."""
    try:
        rows = con.execute(_PART_ROOTS).fetchall()
    except duckdb.CatalogException:
        return []
    return [r[0].rstrip("/") + "/" for r in rows]


def check_statement(con: duckdb.DuckDBPyConnection, sql: str) -> str:
    """The statement type if `sql` is one allowed read; raises ConsoleError otherwise."""
    if not sql or not sql.strip():
        raise ConsoleError("sql.err.empty")
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as exc:
        raise ConsoleError("sql.err.syntax", detail=first_line(exc)) from exc
    if len(statements) != 1:
        raise ConsoleError("sql.err.multiple", n=len(statements))
    kind = statements[0].type.name
    if kind not in ALLOWED_TYPES:
        raise ConsoleError("sql.err.not_read", kind=kind)
    check_references(con, _EXPLAIN.sub("", sql, count=1) if kind == "EXPLAIN" else sql)
    return kind


def check_references(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Refuse hidden tables, denied functions and tables named by a path, from the parse tree."""
    text = con.execute("SELECT json_serialize_sql($sql)", {"sql": sql}).fetchall()[0][0]
    tree = json.loads(text)
    if tree.get("error"):
        raise ConsoleError("sql.err.not_read", kind="?")
    lowered = text.lower()
    for hidden in HIDDEN_TABLES:
        if hidden in lowered:
            raise ConsoleError("sql.err.hidden_table", table=hidden)
    for key, value in _strings(tree):
        if key == "function_name" and value.lower() in DENIED_FUNCTIONS:
            raise ConsoleError("sql.err.denied_function", function=value.lower())
        if key == "table_name" and _PATH_CHARS.search(value):
            raise ConsoleError("sql.err.file_table", table=value)


def _strings(node: object) -> Iterator[tuple[str, str]]:
    """Every (key, string value) pair anywhere in a JSON tree."""
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, str):
                yield key, value
            else:
                yield from _strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)


def translate(exc: BaseException, timeout_s: float) -> ConsoleError:
    """DuckDB's (or Python's) exception -> the message an analyst can act on."""
    if isinstance(exc, MemoryError) or isinstance(exc, duckdb.OutOfMemoryException):
        return ConsoleError("sql.err.memory")
    detail = first_line(exc)
    if isinstance(exc, duckdb.InterruptException):
        return ConsoleError("sql.err.timeout", seconds=f"{timeout_s:g}")
    if isinstance(exc, duckdb.PermissionException):
        return ConsoleError("sql.err.external", detail=detail)
    if "configuration has been locked" in detail:
        return ConsoleError("sql.err.config_locked", detail=detail)
    if "read-only mode" in detail:
        return ConsoleError("sql.err.read_only", detail=detail)
    if isinstance(exc, duckdb.ParserException):
        return ConsoleError("sql.err.syntax", detail=detail)
    if any(marker in detail for marker in _OUT_OF_MEMORY):
        return ConsoleError("sql.err.memory")
    return ConsoleError("sql.err.failed", detail=detail)


def first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def unique(names: list[str]) -> list[str]:
    """Column names made unique (SELECT 1, 1 gives two columns called '1')."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        n = seen.get(name, 0)
        seen[name] = n + 1
        out.append(name if n == 0 else f"{name}_{n}")
    return out
