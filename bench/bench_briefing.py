"""Benchmark: the weekly-briefing export, end to end, as cron runs it.

    python -m bench.bench_briefing [--db PATH] [--week 2026-W47] [--repeat 2]

Targets (issue 5): one scope <= 10 s including cockpit and browser start; each additional
scope <= 4 s. Measures the real command line (`python -m etl briefing`) in a subprocess:
once for the whole street, once with --all-communities; per additional scope =
(all - one) / (scopes - 1). Without --db it builds a small demo database first.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dashboard.queries import briefing as bq  # noqa: E402

ONE_SCOPE_S, EXTRA_SCOPE_S = 10.0, 4.0


def demo_db(root: Path) -> Path:
    from etl import demo
    from etl.load import load_paths

    db = root / "cockpit.duckdb"
    demo.generate(root / "inbox", seed=7, scale=0.05)
    load_paths([root / "inbox"], db)
    return db


def timed_export(db: Path, week: str, out: Path, *extra: str) -> float:
    started = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "etl", "briefing", "--week", week,
                          "--out", str(out), "--db", str(db), *extra],
                         cwd=REPO, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if run.returncode != 0:
        sys.exit(f"export failed ({run.returncode}):\n{run.stderr}")
    return seconds


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--db")
    p.add_argument("--week")
    p.add_argument("--repeat", type=int, default=2)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        db = Path(args.db).resolve() if args.db else demo_db(root)
        con = duckdb.connect(str(db), read_only=True)
        week, scopes = args.week or bq.default_week(con), 1 + len(bq.communities(con))
        con.close()
        one = [timed_export(db, week, root / f"one{i}") for i in range(args.repeat)]
        every = [timed_export(db, week, root / f"all{i}", "--all-communities")
                 for i in range(args.repeat)]
    one_s, all_s = statistics.median(one), statistics.median(every)
    extra_s = (all_s - one_s) / max(1, scopes - 1)
    print(f"briefing export, week {week}, database {db.name}, median of {args.repeat}")
    print(f"  one scope (incl. cockpit + browser start): {one_s:5.1f} s  "
          f"(target <= {ONE_SCOPE_S:g} s) {'OK' if one_s <= ONE_SCOPE_S else 'SLOW'}")
    print(f"  all {scopes} scopes:                           {all_s:5.1f} s")
    print(f"  each additional scope:                     {extra_s:5.1f} s  "
          f"(target <= {EXTRA_SCOPE_S:g} s) {'OK' if extra_s <= EXTRA_SCOPE_S else 'SLOW'}")
    return 0 if one_s <= ONE_SCOPE_S and extra_s <= EXTRA_SCOPE_S else 1


if __name__ == "__main__":
    sys.exit(main())
