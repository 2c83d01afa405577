"""One SQL console query in its own process, under limits the kernel enforces.

A query process is forked by the console's zygote (dashboard/sqlconsole_zygote.py: a process
that has imported DuckDB and pyarrow once, so a query no longer pays the interpreter's
start-up and their imports) and runs `child()`: its first act is to cap its own address space (RLIMIT_AS) and
CPU seconds (RLIMIT_CPU: SIGXCPU at the limit, SIGKILL a second later) and to ask the kernel
to kill it when its parent dies. Limits are set here rather than in the server because the
Streamlit server is multi-threaded; the zygote is single-threaded (tests check it).

It reads the request (JSON: path, sql, caps, timeout_s, threads, temp_dir) from its request
pipe and answers on its result pipe with one JSON header line and, for a result, an Arrow IPC
stream of at most `row_cap` rows and about `byte_cap` bytes: it stops fetching at either cap
and says which one truncated. Any failure, MemoryError included, becomes a header with an i18n
key; if even that cannot be written the process exits with MEMORY_EXIT.
"""
from __future__ import annotations

import ctypes
import json
import os
import resource
import signal
import threading

MEMORY_EXIT = 86      # exit status when even the error report could not be written
_PR_SET_PDEATHSIG = 1


def set_limits(memory_mb: int, cpu_s: int) -> None:
    """Cap this process's address space and CPU time; die with the parent."""
    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 1))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))       # SIGXCPU would otherwise dump core
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):                         # not Linux: the wall clock still holds
        pass


def fit(batch, budget: int):
    """The longest prefix of `batch` whose buffers take at most `budget` bytes."""
    lo, hi = 0, batch.num_rows
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if batch.slice(0, mid).nbytes <= budget:
            lo = mid
        else:
            hi = mid - 1
    return batch.slice(0, lo)


def collect(reader, row_cap: int, byte_cap: int) -> tuple[list, str | None]:
    """Batches from `reader` up to `row_cap` rows and `byte_cap` bytes; which cap cut them."""
    batches, rows, used = [], 0, 0
    for batch in reader:
        if rows + batch.num_rows > row_cap:
            batch, cut = batch.slice(0, row_cap - rows), "rows"
        else:
            cut = None
        size = batch.nbytes
        if used + size > byte_cap:
            batch, cut = fit(batch, byte_cap - used), "bytes"
            size = batch.nbytes
        if batch.num_rows:
            batches.append(batch)
        rows += batch.num_rows
        used += size
        if cut:
            return batches, cut
    return batches, None


def execute(request: dict):
    """Run the request's query; (header, schema, batches) for a result."""
    import duckdb
    from dashboard import sqlsandbox

    timeout_s = float(request["timeout_s"])
    con = sqlsandbox.open_sandbox(request["path"], memory_limit=request["duckdb_memory"],
                                  threads=request.get("threads"), temp_dir=request.get("temp_dir"))
    timer = threading.Timer(timeout_s, con.interrupt)    # cooperative stop; the parent kills
    try:
        kind = sqlsandbox.check_statement(con, request["sql"])
        timer.start()
        reader = con.sql(request["sql"]).to_arrow_reader(request["batch_rows"])
        batches, cut = collect(reader, request["row_cap"], request["byte_cap"])
        schema = reader.schema
    except sqlsandbox.ConsoleError:
        raise
    except (duckdb.Error, MemoryError) as exc:
        raise sqlsandbox.translate(exc, timeout_s) from exc
    finally:
        timer.cancel()
    names = sqlsandbox.unique(list(schema.names))
    header = {"ok": True, "kind": kind, "truncated": cut, "columns": names,
              "rows": sum(b.num_rows for b in batches)}
    return header, schema, batches, names


def write_result(out, header: dict, schema, batches: list, names: list[str]) -> None:
    """The header line, then the Arrow IPC stream (built in full first, so a failure while
    building it still leaves room for a clean error header)."""
    import pyarrow as pa

    renamed = pa.schema([f.with_name(n) for f, n in zip(schema, names)])
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, renamed) as writer:
        for batch in batches:
            writer.write_batch(pa.record_batch(batch.columns, schema=renamed))
    body = sink.getvalue()
    out.write(json.dumps(header).encode() + b"\n")
    out.write(memoryview(body))


def child(memory_mb: int, cpu_s: int, request_fd: int, out_fd: int) -> int:
    """A forked query process: limits first, then the request from its pipe, the answer on
    `out_fd`; the exit status. Stray prints go nowhere (they cannot corrupt the answer)."""
    set_limits(memory_mb, cpu_s)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    out = os.fdopen(out_fd, "wb")
    try:
        with os.fdopen(request_fd, "rb") as pipe:
            request = json.loads(pipe.read().decode("utf-8"))
        return serve(request, out)
    except MemoryError:
        return _report_memory(out)


def serve(request: dict, out) -> int:
    """Answer one request on `out`; the exit status."""
    try:
        from dashboard.sqlsandbox import ConsoleError
        try:
            write_result(out, *execute(request))
        except ConsoleError as err:
            out.write(json.dumps({"ok": False, "key": err.key, "values": err.values}).encode()
                      + b"\n")
        out.flush()
        return 0
    except (MemoryError, ImportError):  # an import fails only when its mapping hits RLIMIT_AS
        return _report_memory(out)
    except Exception as exc:          # anything unforeseen: a message, never a traceback
        try:
            from dashboard.sqlsandbox import translate
            err = translate(exc, 0)
            out.write(json.dumps({"ok": False, "key": err.key, "values": err.values}).encode()
                      + b"\n")
            out.flush()
            return 0
        except MemoryError:
            return _report_memory(out)


def _report_memory(out) -> int:
    try:
        out.write(b'{"ok": false, "key": "sql.err.memory", "values": {}}\n')
        out.flush()
        return 0
    except BaseException:
        return MEMORY_EXIT

