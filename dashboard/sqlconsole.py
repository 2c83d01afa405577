"""The analysts' read-only SQL console: one read statement, sandboxed, time- and row-limited.

Defence in depth, each layer enough on its own for its threat:
1. the connection: a fresh in-memory DuckDB per query that ATTACHes the cockpit file
   READ_ONLY and then turns external access off and locks the configuration before any
   user SQL runs, so no statement - whatever the checks below miss - can read or write
   files, load extensions, ATTACH, or turn the sandbox off. (Attaching, rather than
   `duckdb.connect(file, config=...)`, is needed because the dashboard already holds the
   same file open in this process with the default configuration, and DuckDB refuses a
   second connection to one file with a different configuration.) The only writable place
   is the throwaway in-memory catalog, discarded after the query;
2. DuckDB's own parser (`extract_statements`) must find exactly one statement of a read
   type (SELECT, which covers WITH/FROM/DESCRIBE/SHOW/SUMMARIZE, or EXPLAIN);
3. the serialised parse tree must not touch `etl_meta` (it holds the pseudonym salt) nor
   use the table functions that take a table name as a string;
4. a timer thread calls `interrupt()` after the time limit; at most `row_cap` rows come back.
Refusals and failures are `ConsoleError`s carrying an i18n key (`sql.err.*`) and values.
No streamlit import.
"""
from __future__ import annotations

import re
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from dashboard import db
from dashboard.queries.base import current_scope

ROW_CAP = 5_000
TIMEOUT_S = 10.0
ALLOWED_TYPES = {"SELECT", "EXPLAIN"}
HIDDEN_TABLES = ("etl_meta",)
# table functions whose table argument is a string the parse tree cannot show as a table
DENIED_FUNCTIONS = {"query", "query_table", "pragma_storage_info", "pragma_metadata_info"}
SANDBOX_CONFIG = {                      # at connect
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "memory_limit": "1GB",              # one analyst cannot starve the dashboard
    "temp_directory": str(Path(tempfile.gettempdir()) / "cockpit-sqlconsole"),
}
LOCKDOWN = (                            # right after ATTACH, before any user SQL
    "SET enable_external_access = false",   # no read_csv('/etc/passwd'), COPY TO, ATTACH, INSTALL
    "SET lock_configuration = true",        # last: nothing can be SET back
)
CATALOG = "cockpit"
_ATTACH = f"ATTACH $path AS {CATALOG} (READ_ONLY)"
_USE = f"USE {CATALOG}"
_EXPLAIN = re.compile(r"^\s*EXPLAIN(\s+ANALY[SZ]E)?\s+", re.IGNORECASE)

# (i18n key of the title, SQL) - the saved examples offered on the page
EXAMPLES: tuple[tuple[str, str], ...] = (
    ("sql.example.tables", "SHOW TABLES"),
    ("sql.example.reports_by_community",
     "SELECT community, count(*) AS reports,\n"
     "       round(avg(satisfaction), 2) AS avg_satisfaction\n"
     "FROM grid_reports\nGROUP BY community\nORDER BY reports DESC"),
    ("sql.example.open_cases_by_category",
     "SELECT category, count(*) AS open_cases,\n"
     "       round(median(date_diff('hour', reported_at, now()::TIMESTAMP)), 1) AS median_age_hours\n"
     "FROM grid_reports\nWHERE status IN ('待受理', '处置中')\n"
     "GROUP BY category\nORDER BY open_cases DESC"),
    ("sql.example.funds_by_source",
     "SELECT source_type, direction, sum(amount_yuan) AS amount_yuan, count(*) AS txns\n"
     "FROM fund_transactions\nGROUP BY ALL\nORDER BY amount_yuan DESC"),
    ("sql.example.feedback_by_month",
     "SELECT date_trunc('month', submitted_at)::DATE AS month_on, channel, count(*) AS messages\n"
     "FROM feedback\nGROUP BY ALL\nORDER BY month_on, messages DESC"),
    ("sql.example.describe", "DESCRIBE projects"),
)


class ConsoleError(Exception):
    """A refused or failed console query; `key` is an i18n key, `values` its format args."""

    def __init__(self, key: str, **values):
        super().__init__(key, values)
        self.key = key
        self.values = values


@dataclass
class ConsoleResult:
    """The first `row_cap` rows of one read; `truncated` when more existed."""
    df: pd.DataFrame
    truncated: bool
    seconds: float
    statement_type: str
    row_cap: int = ROW_CAP
    columns: list[str] = field(default_factory=list)


def open_sandbox(path: Path | None = None) -> duckdb.DuckDBPyConnection:
    """A new connection seeing the DB file read-only, external access off, configuration locked."""
    p = Path(path or db.path())
    if not p.exists():
        raise ConsoleError("sql.err.no_db")
    con = duckdb.connect(":memory:", config=dict(SANDBOX_CONFIG))
    try:
        con.execute(_ATTACH, {"path": str(p)})
        con.execute(_USE)
        for statement in LOCKDOWN:
            con.execute(statement)
    except BaseException:
        con.close()
        raise
    return con


def check_statement(con: duckdb.DuckDBPyConnection, sql: str) -> str:
    """The statement type if `sql` is one allowed read; raises ConsoleError otherwise."""
    if not sql or not sql.strip():
        raise ConsoleError("sql.err.empty")
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as exc:
        raise ConsoleError("sql.err.syntax", detail=_first_line(exc)) from exc
    if len(statements) != 1:
        raise ConsoleError("sql.err.multiple", n=len(statements))
    kind = statements[0].type.name
    if kind not in ALLOWED_TYPES:
        raise ConsoleError("sql.err.not_read", kind=kind)
    _check_references(con, _EXPLAIN.sub("", sql, count=1) if kind == "EXPLAIN" else sql)
    return kind


def _check_references(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Refuse hidden tables and name-by-string table functions, read from the parse tree."""
    tree = con.execute("SELECT json_serialize_sql($sql)", {"sql": sql}).fetchone()[0]
    lowered = tree.lower()
    if '"error":true' in lowered.replace(" ", ""):
        raise ConsoleError("sql.err.not_read", kind="?")
    for hidden in HIDDEN_TABLES:
        if hidden in lowered:
            raise ConsoleError("sql.err.hidden_table", table=hidden)
    for name in re.findall(r'"function_name":\s*"([^"]+)"', lowered):
        if name in DENIED_FUNCTIONS:
            raise ConsoleError("sql.err.denied_function", function=name)


def run(sql: str, *, path: Path | None = None, row_cap: int | None = None,
        timeout_s: float | None = None) -> ConsoleResult:
    """Run one checked read statement in the sandbox; translate every failure to ConsoleError."""
    row_cap = ROW_CAP if row_cap is None else row_cap
    timeout_s = TIMEOUT_S if timeout_s is None else timeout_s
    if current_scope().communities is not None:
        raise ConsoleError("sql.err.scoped")   # raw SQL would bypass row-level security
    con = open_sandbox(path)
    timer = threading.Timer(timeout_s, con.interrupt)
    started = time.perf_counter()
    try:
        kind = check_statement(con, sql)
        timer.start()
        cursor = con.execute(sql)
        columns = _unique([d[0] for d in (cursor.description or [])])
        rows = cursor.fetchmany(row_cap + 1)
    except ConsoleError:
        raise
    except duckdb.Error as exc:
        raise _translate(exc, timeout_s) from exc
    finally:
        timer.cancel()
        con.close()
    truncated = len(rows) > row_cap
    df = pd.DataFrame.from_records(rows[:row_cap], columns=columns)
    return ConsoleResult(df=df, truncated=truncated, seconds=time.perf_counter() - started,
                         statement_type=kind, row_cap=row_cap, columns=columns)


def _translate(exc: duckdb.Error, timeout_s: float) -> ConsoleError:
    """DuckDB's exception -> the message an analyst can act on."""
    detail = _first_line(exc)
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
    return ConsoleError("sql.err.failed", detail=detail)


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _unique(names: list[str]) -> list[str]:
    """Column names made unique (SELECT 1, 1 gives two columns called '1')."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        n = seen.get(name, 0)
        seen[name] = n + 1
        out.append(name if n == 0 else f"{name}_{n}")
    return out
