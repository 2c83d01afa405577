"""协商与参与 page speed at 10x the demo's participation volume, cold and warm (issue 15).

    python -m bench.bench_participation                  # builds or reuses bench/out/participation.duckdb
    python -m bench.bench_participation --rebuild --scale 10 --reps 5

The database is built the realistic way, but only for what the page reads: the demo generator's
projects workbook and its deliberation and participation exports (etl.demo.participation) at
`--scale` (10 -> ~200k resident tasks, ~30k evaluations, ~600 projects, 30 votes, ~400 meetings),
loaded by the real ETL (etl.load.load_paths). The page shows its cards and one section at a time
(?section=...); every section is measured. Each run is the full script (app.py + page) under
Streamlit's AppTest; cold = every cache cleared first, warm = the same session run again; medians.
Budget (issue 15): cold <= 0.6 s, warm <= 0.2 s.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from bench.bench_pages import END, measure

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DB = REPO / "bench" / "out" / "participation.duckdb"   # git-ignored
BUDGET_COLD, BUDGET_WARM = 0.6, 0.2
# SQL texts fixed at import from this constant tuple of table names
COUNT_SQL = {t: "SELECT count(*) FROM " + t for t in ("projects", "meetings", "resolutions", "votes",
                                                      "participation", "redemptions", "evaluations")}


def build(path: Path, scale: float) -> dict:
    """Generate the projects and participation exports at `scale` and load them; returns the counts."""
    import numpy as np

    from etl.demo import participation
    from etl.demo.projects import build_projects, write_projects
    from etl.demo.world import Ctx, calendar
    from etl.load import load_paths

    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        inbox, truth = Path(tmp) / "inbox", Path(tmp) / "truth"
        inbox.mkdir()
        truth.mkdir()
        ctx = Ctx(np.random.default_rng(7), scale, END, inbox, calendar(END))
        projects, milestones = build_projects(ctx)
        write_projects(ctx, projects, milestones)
        counts = participation.generate(ctx, 7, projects, truth)
        load_paths([inbox], path, progress=None)
    return counts


def rows(path: Path) -> dict[str, int]:
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    try:
        return {t: con.execute(sql).fetchall()[0][0] for t, sql in COUNT_SQL.items()}
    finally:
        con.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", type=Path, default=DEFAULT_DB)
    ap.add_argument("--scale", type=float, default=10.0)
    ap.add_argument("--rebuild", action="store_true")
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    if args.rebuild or not args.db.exists():
        t0 = time.perf_counter()
        build(args.db, args.scale)
        print(f"built {args.db} (scale {args.scale}) in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    os.environ["COCKPIT_DB"] = str(args.db)
    import logging
    logging.getLogger("streamlit").setLevel(logging.ERROR)
    print("rows: " + ", ".join(f"{k} {v:,}" for k, v in rows(args.db).items()))
    measure("participation", 1)   # imports and first-use costs out of the way
    print(f"\nmedian of {args.reps}; budget cold {BUDGET_COLD} s, warm {BUDGET_WARM} s")
    print("\n| view | cold (s) | warm (s) |")
    print("|---|---:|---:|")
    views = [("last 30 days, votes", None)]
    views += [(f"all 2 years, {section}", {"from": "2024-12-01", "section": section})
              for section in ("votes", "meetings", "usage", "concentration", "evaluations", "effectiveness")]
    views += [("one community, all 2 years, concentration",
               {"from": "2024-12-01", "community": "美和园社区", "section": "concentration"})]
    for label, query in views:
        cold, warm = measure("participation", args.reps, query)
        print(f"| {label} | {cold:.2f} | {warm:.2f} |", flush=True)
    # the host is shared: a light page measured in the same minutes shows how loaded it is
    # (linkage: 0.30 s cold / 0.10 s warm on a quiet host, docs/BENCHMARKS.md section 2)
    cold, warm = measure("linkage", args.reps)
    print(f"| reference: linkage page, last 30 days | {cold:.2f} | {warm:.2f} |", flush=True)
    print(f"\nload average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs", flush=True)


if __name__ == "__main__":
    main()
