"""The analysts' read-only SQL console: one read statement, sandboxed, in its own process.

Each query runs in a child process (dashboard/sqlconsole_worker.py, forked by the console's
zygote, dashboard/sqlconsole_zygote.py, which has imported DuckDB and pyarrow once), so no query can slow
or crash the server or another user's page:
- the sandbox (dashboard/sqlsandbox.py): the file ATTACHed read-only, external access off,
  configuration locked, one read statement, `etl_meta` hidden, no function that reads a file
  by name (not even the database's own bytes);
- limits the kernel enforces in the child: address space (RLIMIT_AS, MEMORY_MB) and CPU
  seconds (RLIMIT_CPU, CPU_S); DuckDB's own memory_limit inside that;
- a wall clock: the child interrupts itself after `timeout_s`, and this process kills it
  `KILL_GRACE_S` later if DuckDB does not stop (per-row work is only interruptible between
  chunks of 2,048 rows);
- at most MAX_CONCURRENT console processes at once on the whole server;
- the result: at most `row_cap` rows and `byte_cap` bytes, sent back as Arrow IPC; the child
  stops fetching at either cap and says which one truncated; this process reads no more
  than `byte_cap` plus a small allowance and kills a child that sends more.
Refusals and failures are `ConsoleError`s carrying an i18n key (`sql.err.*`) and values;
nothing the child does (MemoryError, a crash, a signal) escapes as a traceback.
No streamlit import.
"""
from __future__ import annotations

import json
import os
import selectors
import shutil
import signal
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa

from dashboard import db
from dashboard.queries.base import console_allowed, current_scope
from dashboard.sqlconsole_worker import MEMORY_EXIT
from dashboard.sqlconsole_zygote import Zygote, ZygoteError
from dashboard.sqlsandbox import (ALLOWED_TYPES, DENIED_FUNCTIONS, HIDDEN_TABLES,  # noqa: F401
                                  ConsoleError, check_statement)
from dashboard.sqlsandbox import open_sandbox as _open_sandbox

ROW_CAP = 5_000            # rows returned at most
BYTE_CAP_MB = 20           # result bytes (Arrow buffers) returned at most
TIMEOUT_S = 10.0           # wall clock per query
CPU_S = 15                 # CPU seconds per query (all DuckDB threads together)
MEMORY_MB = 1536           # address space of the query process
THREADS = 2                # DuckDB threads in the query process
MAX_CONCURRENT = 2         # console processes at once, server-wide (so at most 2 x MEMORY_MB)
SLOT_WAIT_S = 2.0          # how long a query waits for a free slot before it is refused
KILL_GRACE_S = 2.0         # start-up and cooperative-interrupt allowance before the kill
BATCH_ROWS = 256           # rows per fetched Arrow batch: the byte cap is checked per batch
_ALLOWANCE = 1 << 20       # IPC framing and the header line, beyond the byte cap
_REPO = Path(__file__).resolve().parents[1]
_SLOTS = threading.BoundedSemaphore(MAX_CONCURRENT)
MB = 1024 * 1024

# (i18n key of the title, SQL) - the saved examples offered on the page
EXAMPLES: tuple[tuple[str, str], ...] = (
    ("sql.example.tables", "SHOW TABLES"),
    ("sql.example.reports_by_community",
     "SELECT community, count(*) AS reports,\n"
     "       round(avg(satisfaction), 2) AS avg_satisfaction\n"
     "FROM grid_cases\nGROUP BY community\nORDER BY reports DESC"),
    ("sql.example.marts",
     "SELECT view_name AS mart, 'view' AS kind FROM duckdb_views() WHERE NOT internal\n"
     "UNION ALL SELECT table_name, 'summary table' FROM duckdb_tables()\n"
     "  WHERE table_name IN ('grid_daily')\n"
     "UNION ALL SELECT function_name || '(' || array_to_string(parameters, ', ') || ')', 'table macro'\n"
     "  FROM duckdb_functions() WHERE function_type = 'table_macro' AND NOT internal\n"
     "ORDER BY kind, mart"),
    ("sql.example.on_time_by_category",
     "SELECT category, any_value(sla_hours) AS sla_hours,\n"
     "       count(*) FILTER (WHERE sla_met) / count(*) FILTER (WHERE sla_due) AS sla_share\n"
     "FROM grid_cases_at(current_date)\nGROUP BY category\nORDER BY sla_share"),
    ("sql.example.open_cases_by_category",
     "SELECT category, count(*) AS open_cases,\n"
     "       round(median(age_days) * 24, 1) AS median_age_hours\n"
     "FROM grid_cases_at(current_date)\nWHERE open_at_as_of\n"
     "GROUP BY category\nORDER BY open_cases DESC"),
    ("sql.example.funds_by_source",
     "SELECT source_type, direction, sum(amount_yuan) AS amount_yuan, count(*) AS txns\n"
     "FROM fund_flows\nGROUP BY ALL\nORDER BY amount_yuan DESC"),
    ("sql.example.feedback_by_month",
     "SELECT month_on, channel, count(*) AS messages\n"
     "FROM feedback_enriched\nGROUP BY ALL\nORDER BY month_on, messages DESC"),
    ("sql.example.describe", "DESCRIBE SELECT * FROM project_status(current_date)"),
)


@dataclass
class ConsoleResult:
    """The first rows of one read, within `row_cap` rows and `byte_cap` bytes.

    `truncated` when more existed; `truncated_by` says which cap cut it ("rows" or "bytes").
    """
    df: pd.DataFrame
    truncated: bool
    seconds: float
    statement_type: str
    row_cap: int = ROW_CAP
    columns: list[str] = field(default_factory=list)
    truncated_by: str | None = None
    byte_cap: int = BYTE_CAP_MB * MB


@dataclass(frozen=True)
class Limits:
    """The limits of one console query (defaults: the module constants above)."""
    row_cap: int = ROW_CAP
    byte_cap: int = BYTE_CAP_MB * MB
    timeout_s: float = TIMEOUT_S
    cpu_s: int = CPU_S
    memory_mb: int = MEMORY_MB
    threads: int = THREADS

    @property
    def duckdb_memory(self) -> str:
        """DuckDB's own budget: a third of the address space (the rest is code, threads, Arrow)."""
        return f"{max(64, self.memory_mb // 3)}MB"


def limits(**overrides) -> Limits:
    """The current defaults (read at call time, so tests can patch the constants)."""
    base = Limits(ROW_CAP, BYTE_CAP_MB * MB, TIMEOUT_S, CPU_S, MEMORY_MB, THREADS)
    return Limits(**{**base.__dict__, **{k: v for k, v in overrides.items() if v is not None}})


def open_sandbox(path: Path | None = None):
    """A sandboxed connection in this process (for tests and checks; queries use the worker)."""
    return _open_sandbox(Path(path or db.path()))


def run(sql: str, *, path: Path | None = None, row_cap: int | None = None,
        timeout_s: float | None = None, byte_cap: int | None = None,
        memory_mb: int | None = None, cpu_s: int | None = None) -> ConsoleResult:
    """Run one checked read statement in a limited child process; every failure a ConsoleError."""
    scope = current_scope()
    if not console_allowed(scope):
        raise ConsoleError("sql.err.scoped")   # raw SQL would bypass row-level security
    lim = limits(row_cap=row_cap, timeout_s=timeout_s, byte_cap=byte_cap,
                 memory_mb=memory_mb, cpu_s=cpu_s)
    p = Path(path or db.path())
    if not p.exists():
        raise ConsoleError("sql.err.no_db")
    started = time.perf_counter()
    if not _SLOTS.acquire(timeout=SLOT_WAIT_S):
        raise ConsoleError("sql.err.busy", n=MAX_CONCURRENT)
    try:
        header, body = _run_child(sql, p, lim)
    finally:
        _SLOTS.release()
    if not header.get("ok"):
        key, values = header.get("key", "sql.err.failed"), dict(header.get("values", {}))
        if key == "sql.err.memory":
            values["mb"] = lim.memory_mb
        raise ConsoleError(key, **values)
    if header["truncated"] == "bytes" and header["rows"] == 0:
        raise ConsoleError("sql.err.row_too_large", mb=_mb(lim.byte_cap))
    try:
        df = _to_frame(pa.ipc.open_stream(pa.py_buffer(body)).read_all())
    except MemoryError as exc:
        raise ConsoleError("sql.err.memory", mb=lim.memory_mb) from exc
    except (pa.ArrowException, ValueError, TypeError) as exc:
        raise ConsoleError("sql.err.failed", detail=str(exc).splitlines()[0][:300]) from exc
    return ConsoleResult(df=df, truncated=header["truncated"] is not None,
                         seconds=time.perf_counter() - started, statement_type=header["kind"],
                         row_cap=lim.row_cap, columns=list(header["columns"]),
                         truncated_by=header["truncated"], byte_cap=lim.byte_cap)


_UNCONVERTIBLE = (pa.ArrowNotImplementedError, pa.ArrowTypeError, pa.ArrowInvalid, ValueError,
                  OverflowError)


def _to_frame(table: pa.Table) -> pd.DataFrame:
    """The result as a DataFrame; a column pandas cannot hold (a UNION, a date before year 1)
    becomes text."""
    try:
        return table.to_pandas()
    except _UNCONVERTIBLE:
        pass
    return pd.DataFrame({name: _column(column)
                         for name, column in zip(table.column_names, table.columns)})


def _column(column: pa.ChunkedArray) -> pd.Series:
    try:
        return column.to_pandas()
    except _UNCONVERTIBLE:
        pass
    try:
        return column.cast(pa.string()).to_pandas()
    except _UNCONVERTIBLE:
        return pd.Series([_text(column[i]) for i in range(len(column))], dtype=object)


def _text(scalar: pa.Scalar) -> str | None:
    """One value as text; a value Python cannot represent shows as its type in brackets."""
    try:
        value = scalar.as_py()
    except _UNCONVERTIBLE:
        return f"<{scalar.type}>"
    return None if value is None else str(value)


def _run_child(sql: str, path: Path, lim: Limits) -> tuple[dict, memoryview]:
    """Start the worker, send the request, read its bounded answer: (header, Arrow bytes)."""
    temp_dir = tempfile.mkdtemp(prefix="cockpit-sqlconsole-")   # its own spill space
    try:
        return _talk(sql, path, lim, temp_dir)
    finally:
        shutil.rmtree(temp_dir, ignore_errors=True)


def _talk(sql: str, path: Path, lim: Limits, temp_dir: str) -> tuple[dict, memoryview]:
    request = {"path": str(path), "sql": sql, "row_cap": lim.row_cap, "byte_cap": lim.byte_cap,
               "timeout_s": lim.timeout_s, "threads": lim.threads, "temp_dir": temp_dir,
               "duckdb_memory": lim.duckdb_memory, "batch_rows": BATCH_ROWS}
    request_r, request_w = os.pipe()
    result_r, result_w = os.pipe()
    try:
        query = _ZYGOTE.fork(lim.memory_mb, lim.cpu_s, request_r, result_w)
    except ZygoteError as exc:
        for fd in (request_r, request_w, result_r, result_w):
            os.close(fd)
        raise ConsoleError("sql.err.failed", detail=str(exc)[:300]) from exc
    os.close(request_r)
    os.close(result_w)
    try:
        with os.fdopen(request_w, "wb") as pipe:
            pipe.write(json.dumps(request).encode("utf-8"))
    except BrokenPipeError:
        pass                                          # it died at once; its status says why
    try:
        data, stopped = _read_bounded(result_r, lim.timeout_s + KILL_GRACE_S,
                                      lim.byte_cap + _ALLOWANCE)
        if stopped:
            query.kill()
        try:
            returncode = query.returncode()           # it is gone (and its temp files closed)
        except ZygoteError as exc:
            raise ConsoleError("sql.err.failed", detail=str(exc)[:300]) from exc
        if stopped == "time":
            raise ConsoleError("sql.err.timeout", seconds=f"{lim.timeout_s:g}")
        if stopped == "bytes":
            raise ConsoleError("sql.err.too_large", mb=_mb(lim.byte_cap))
        newline = data.find(b"\n")
        if newline >= 0:
            try:
                return json.loads(data[:newline]), memoryview(data)[newline + 1:]   # no copy
            except ValueError:
                pass
        raise _death(returncode, lim)
    finally:
        os.close(result_r)
        query.close()


def _read_bounded(fd: int, wall_s: float, cap: int) -> tuple[bytearray, str | None]:
    """The child's answer until EOF; stops early on the wall clock ("time") or the cap ("bytes")."""
    deadline = time.monotonic() + wall_s
    data = bytearray()
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return data, "time"
            if not sel.select(timeout=left):
                continue
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return data, None
            data += chunk
            if len(data) > cap:
                return data, "bytes"


def _death(returncode: int, lim: Limits) -> ConsoleError:
    """Why the child ended without an answer, as a message."""
    if returncode in (-signal.SIGXCPU,):
        return ConsoleError("sql.err.cpu", seconds=lim.cpu_s)
    if returncode == MEMORY_EXIT:
        return ConsoleError("sql.err.memory", mb=lim.memory_mb)
    return ConsoleError("sql.err.crashed", code=returncode, mb=lim.memory_mb)


def _child_env() -> dict[str, str]:
    """The zygote's (and so every query process's) environment."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_REPO), env.get("PYTHONPATH")]))
    env["MALLOC_ARENA_MAX"] = "2"                 # glibc reserves 64 MB of address per arena
    env["ARROW_DEFAULT_MEMORY_POOL"] = "system"   # so does jemalloc/mimalloc, up front
    # the zygote imports pyarrow and must stay single-threaded (sqlconsole_zygote._preload_arrow)
    env["JE_ARROW_MALLOC_CONF"] = "background_thread:false"     # libarrow's jemalloc
    env["OPENBLAS_NUM_THREADS"] = "1"             # numpy's BLAS pool (no console query uses it)
    return env


def _mb(n: int) -> str:
    return f"{n / MB:g}"


_ZYGOTE = Zygote(_child_env)     # started on the first console query, again if it died
