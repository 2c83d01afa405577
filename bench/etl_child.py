"""One timed load in a fresh process, for bench_etl: prints JSON {seconds, peak_mb, rows...}.

    python bench/etl_child.py duckdb  DB FILE...   # DuckDB's read_csv of each file into a table
    python bench/etl_child.py cockpit DB FILE...   # the cockpit's load_paths into DB

PYTHONPATH names the checkout whose loader runs (bench_etl --before times another one).
Imports and encoding sniffing happen before the clock starts, for both sides. Peak memory is
the process's VmHWM (ru_maxrss would survive exec and report the forking parent's size).
"""
from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

import duckdb

from etl.extract import SAMPLE_BYTES, detect_encoding
from etl.load import load_paths


def _duckdb_encoding(path: Path) -> str:
    """DuckDB 2.0 reads no GBK (its encodings extension would need a download): a GBK file is
    read as Latin-1, which parses the same bytes and converts every high byte - the cheapest
    way DuckDB can read that file at all."""
    with open(path, "rb") as f:
        return "latin-1" if detect_encoding(f.read(SAMPLE_BYTES)) == "gb18030" else "utf-8"


def _cpu() -> float:
    """CPU seconds of this process so far, all threads, and of its finished children (the
    `iconv` processes that transcode GBK files); steadier than wall time on a shared machine."""
    return sum(u.ru_utime + u.ru_stime for u in (resource.getrusage(resource.RUSAGE_SELF),
                                                 resource.getrusage(resource.RUSAGE_CHILDREN)))


# table names t0, t1, ... are generated here, never data; the path and encoding are bound
_READ_CSV = "CREATE TABLE {table} AS SELECT * FROM read_csv($p, encoding = $e)"
_COUNT = "SELECT count(*) FROM {table}"


def main() -> None:
    mode, db, *files = sys.argv[1:]
    paths = [Path(f) for f in files]
    out: dict = {}
    if mode == "duckdb":
        encodings = [_duckdb_encoding(p) for p in paths]
        t0, c0 = time.perf_counter(), _cpu()
        con = duckdb.connect(db)
        for i, (p, enc) in enumerate(zip(paths, encodings)):
            con.execute(_READ_CSV.format(table=f"t{i}"), {"p": str(p), "e": enc})
        con.close()
        out["seconds"], out["cpu_s"] = time.perf_counter() - t0, _cpu() - c0
        with duckdb.connect(db, read_only=True) as con:
            out["rows_read"] = sum(con.execute(_COUNT.format(table=f"t{i}")).fetchall()[0][0]
                                   for i in range(len(paths)))
    else:
        t0, c0 = time.perf_counter(), _cpu()
        results = load_paths(paths, Path(db), progress=None)
        bad = [r.message for r in results if r.status != "loaded"]
        if bad:
            raise SystemExit(f"not loaded: {bad}")
        out["seconds"], out["cpu_s"] = time.perf_counter() - t0, _cpu() - c0
        out.update(rows_read=sum(r.rows_read for r in results), rows_loaded=sum(r.rows_loaded for r in results),
                   rows_rejected=sum(r.rows_rejected for r in results))
    hwm = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
    out["peak_mb"] = hwm / 1024
    print(json.dumps(out))


if __name__ == "__main__":
    main()
