"""Where a load's time goes: wall and CPU per phase and per SQL statement, for one load.

    nice -n 10 python -m bench.profile_load DB FILE...    # load FILEs into DB (a copy you may write)

Wraps the loader's phase functions (staging, rejects, the Parquet write, key sidecars, the
supersede search, the summary marts' delta and build, the catalog copy, swap and garbage
collection) with timers, and times every statement the writer's connection executes.
PROFILE_SERIAL=1 turns the background typing of the next file off (etl/prestage.py), so each
phase's CPU is its own. CPU = user + system seconds of the whole process (all DuckDB threads) during the call: on a
shared machine steadier than wall time, but a background thread (GBK transcoding) counts in
whatever phase it overlaps. Nested phases count in each (run_stage is inside _stage_source).
PROFILE_TIMELINE=1 also prints every timed call's start and end (seconds from the load's start)
and its thread: what the writer's thread and the background connection do at each moment.
The thread is the Python thread that issued the call; DuckDB runs a statement on its own worker
threads (both cores here), so one Python thread busy is not one core busy (h-etl12 found the
summaries' delta at a command's end, one Python thread, using both cores).
Not a benchmark (bench/bench_etl.py is): a profile, to find the next thing to make faster.
"""
from __future__ import annotations

import collections
import functools
import os
import re
import resource
import sys
import threading
import time
from pathlib import Path

import duckdb

from etl import dbfile, extract, load, load_file, prestage, stage, storage, storage_keys, transcode, versions
from etl.marts import appended, delta

WALL: dict[str, float] = collections.defaultdict(float)
CPU: dict[str, float] = collections.defaultdict(float)
CALLS: collections.Counter = collections.Counter()
EVENTS: list[tuple[float, float, str, str]] = []   # (start, end, label, thread) for PROFILE_TIMELINE
T0 = time.perf_counter()
PHASES = [(load_file, ["_stage_source", "_reject_rows", "_write_records", "_insert_rejects"]),
          (prestage.Prestager, ["_type"]),
          (load, ["_loaded_hashes"]),
          (stage, ["run_stage"]),
          (storage, ["_write_files", "find_superseded", "compact", "refresh_view"]),
          (storage_keys, ["write", "ensure", "matches", "superseded"]),
          (extract, ["read_sources"]), (transcode, ["to_utf8"]), (delta, ["note", "flush"]),
          (appended, ["appended", "after_load", "compact"]),
          (dbfile, ["build_marts", "collect_garbage", "ensure_schema"]),
          (dbfile.storage_upkeep, ["ensure_layout", "vacuum_copy"]), (versions, ["keep"])]


def _cpu() -> float:
    use = resource.getrusage(resource.RUSAGE_SELF)
    return use.ru_utime + use.ru_stime


def _timed(label: str, fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        t0, c0 = time.perf_counter(), _cpu()
        try:
            return fn(*args, **kwargs)
        finally:
            t1 = time.perf_counter()
            WALL[label] += t1 - t0
            CPU[label] += _cpu() - c0
            CALLS[label] += 1
            EVENTS.append((t0 - T0, t1 - T0, label, threading.current_thread().name))
    return wrapper


class _TimedConnection:
    """The writer's connection, each execute() timed under the statement's first words."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self._con = con

    def execute(self, sql: str, *args, **kwargs):
        label = "SQL " + re.sub(r"\s+", " ", sql).strip()[:100]
        _timed(label, self._con.execute)(sql, *args, **kwargs)
        return self

    def commit(self):
        """A file's commit: DuckDB persists what its transaction appended (WAL or checkpoint)."""
        return _timed("COMMIT", self._con.commit)()

    def __getattr__(self, name: str):
        return getattr(self._con, name)


def main() -> None:
    db, *files = sys.argv[1:]
    for module, names in PHASES:
        for name in names:
            setattr(module, name, _timed(f"{module.__name__}.{name}", getattr(module, name)))
    connect = duckdb.connect

    class _Duck:   # dbfile's `duckdb`: connect() returns a timed connection
        def __getattr__(self, name):
            return getattr(duckdb, name)

        @staticmethod
        def connect(*args, **kwargs):
            return _TimedConnection(connect(*args, **kwargs))

    dbfile.duckdb = _Duck()
    if os.environ.get("PROFILE_SERIAL"):
        prestage.Prestager.submit = lambda *args, **kwargs: None
    global T0
    T0 = t0 = time.perf_counter()
    c0 = _cpu()
    results = load.load_paths([Path(f) for f in files], Path(db), progress=None)
    print(f"load: {time.perf_counter() - t0:.2f} s wall, {_cpu() - c0:.2f} s CPU")
    for r in results:
        print(f"  {r.label}: {r.status}, {r.rows_read:,} read, {r.rows_loaded:,} loaded, {r.rows_rejected:,} rejected")
    print(f"{'wall s':>8} {'CPU s':>7} {'calls':>5}  phase / statement (by CPU)")
    for label in sorted(CPU, key=lambda k: -CPU[k])[:int(os.environ.get("PROFILE_TOP", 40))]:
        print(f"{WALL[label]:8.2f} {CPU[label]:7.2f} {CALLS[label]:5d}  {label}")
    if os.environ.get("PROFILE_TIMELINE"):
        print(f"{'start':>7} {'end':>7}  thread              phase (not SQL statements)")
        for start, end, label, thread in sorted(EVENTS):
            if not label.startswith(("SQL ", "COMMIT")):
                print(f"{start:7.2f} {end:7.2f}  {thread[:18]:18s}  {label}")


if __name__ == "__main__":
    main()
