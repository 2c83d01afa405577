"""Row-level scope speed: each page read as the street office (unscoped) and as a community,
a partner and the public, on the demo generator's data at 1M grid reports.

    python -m bench.bench_scope                  # builds or reuses bench/out/scope.duckdb
    python -m bench.bench_scope --rebuild --scale 33.4 --reps 5
    python -m bench.bench_scope --db PATH --no-write   # print only

Target (issue 11): a scoped read costs at most 1.5x the unscoped read of the same page.
Two measures, both cold (every st.cache_data / st.cache_resource entry cleared first):
- page: the page's full script run (app.py + page) under AppTest with session_state["scope"];
- reads: every query function of dashboard/queries that takes (con, filters), run once with
  the page's filters under the scope (no Streamlit) - the reads alone, without rendering.
The roles are interleaved within each repetition so load from other processes hits them alike.
The ratio per page is the worst role's median of paired per-repetition ratios.
Medians and the spread are printed and written into docs/BENCHMARKS.md (between the
bench_scope markers) with the machine and the date.
"""
from __future__ import annotations

import argparse
import ast
import datetime as dt
import inspect
import os
import statistics
import sys
import time
from pathlib import Path

from bench import report

REPO = Path(__file__).resolve().parents[1]
APP = REPO / "dashboard" / "app.py"
DEFAULT_DB = REPO / "bench" / "out" / "scope.duckdb"      # git-ignored
DOC = REPO / "docs" / "BENCHMARKS.md"
START, END = "<!-- bench_scope:start -->", "<!-- bench_scope:end -->"
ROLES = ("leader", "community", "partner", "public")
TARGET = 1.5


def pages() -> list[str]:
    """The pages of dashboard/app.py's SECTIONS (read from its source; importing runs the app)."""
    for node in ast.parse(APP.read_text("utf-8")).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "SECTIONS" for t in node.targets):
            return [p for group in ast.literal_eval(node.value).values() for p in group]
    raise RuntimeError("SECTIONS not found")


def build(db: Path, scale: float) -> None:
    """The demo generator's exports loaded by the real ETL (`python -m etl demo`)."""
    report.build_demo(db, scale, dt.date(2026, 11, 22), inbox=db.parent / "scope_inbox")


def scopes(db: Path) -> dict:
    """One scope per role: the busiest community, the party in the most projects."""
    import duckdb

    from dashboard.queries.base import Scope

    con = duckdb.connect(str(db), read_only=True)
    try:
        community = con.execute("SELECT community FROM grid_reports GROUP BY 1 "
                                "ORDER BY count(*) DESC LIMIT 1").fetchone()[0]
        party = con.execute("""
            SELECT party FROM (
                SELECT lead_party AS party FROM projects
                UNION ALL SELECT trim(unnest(regexp_split_to_array(
                    COALESCE(partner_parties, ''), '[、,，;；/]+'))) FROM projects)
            WHERE party <> '' GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1""").fetchone()[0]
    finally:
        con.close()
    return {"leader": Scope(), "community": Scope(communities=(community,), role="community"),
            "partner": Scope(role="partner", party=party), "public": Scope(role="public")}


def page_cold(page: str, scope, query: dict) -> float:
    from streamlit.testing.v1 import AppTest

    from dashboard import cache

    cache.clear()
    at = AppTest.from_file(str(APP), default_timeout=600)
    at.session_state["scope"] = scope
    for k, v in query.items():
        at.query_params[k] = v
    if page != "overview":
        at.switch_page(f"../pages/{page}.py")
    t0 = time.perf_counter()
    at.run()
    took = time.perf_counter() - t0
    if at.exception:
        raise RuntimeError(f"{page}: {at.exception[0].value}")
    return took


def read_functions() -> list:
    """Every query function taking exactly (con, filters)."""
    import importlib

    out = []
    for name in ("common", "overview", "grid", "funds", "projects", "linkage", "painpoints",
                 "briefing"):
        mod = importlib.import_module(f"dashboard.queries.{name}")
        for fname, fn in inspect.getmembers(mod, inspect.isfunction):
            params = list(inspect.signature(fn).parameters.values())
            if (fn.__module__ == mod.__name__ and len(params) >= 2 and params[0].name == "con"
                    and all(p.default is not p.empty for p in params[2:])
                    and fname not in ("recluster", "period_params")):
                out.append(fn)
    return out


def reads_cold(db: Path, scope, filters) -> float:
    """Seconds for every (con, filters) query function under the scope, on a fresh connection."""
    import duckdb

    from dashboard import cache
    from dashboard.db import READ_CONFIG
    from dashboard.queries.base import ScopeError, use_scope

    cache.clear()                     # the pages' cached connection closed: this one is fresh
    con = duckdb.connect(str(db), read_only=True, config=dict(READ_CONFIG))
    try:
        t0 = time.perf_counter()
        with use_scope(scope):
            for fn in read_functions():
                try:
                    fn(con, filters)
                except ScopeError:          # row-level reads an aggregate role may not run
                    pass
        return time.perf_counter() - t0
    finally:
        con.close()


def paired_ratio(times: dict[str, list[float]]) -> float:
    """The worst scoped role's median of per-repetition ratios to the unscoped run of the same
    repetition (paired, so a burst of load from other processes cancels out)."""
    return max(statistics.median(t / u for t, u in zip(times[r], times["leader"]))
               for r in ROLES[1:])


def spread(xs: list[float]) -> str:
    return f"{min(xs):.2f}–{max(xs):.2f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", type=Path, default=DEFAULT_DB)
    ap.add_argument("--scale", type=float, default=33.4, help="demo scale (33.4 ~ 1M reports)")
    ap.add_argument("--rebuild", action="store_true")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--from-date", default="2024-11-23", help="URL ?from= (the whole history)")
    ap.add_argument("--pages", nargs="*", default=None)
    ap.add_argument("--no-write", action="store_true", help="print only, leave the docs alone")
    args = ap.parse_args()
    if args.rebuild or not args.db.exists():
        t0 = time.perf_counter()
        build(args.db, args.scale)
        print(f"built {args.db} in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    os.environ["COCKPIT_DB"] = str(args.db)
    import logging
    logging.getLogger("streamlit").setLevel(logging.ERROR)
    from bench.bench_pages import counts
    from dashboard.filters import Filters

    started = report.machine()
    rows = counts(args.db)
    by_role = scopes(args.db)
    query = {"from": args.from_date}
    f = Filters(date_from=dt.date.fromisoformat(args.from_date), date_to=dt.date(2026, 11, 22))
    page_cold("overview", by_role["leader"], query)          # imports and first use out of the way
    for name in list(logging.root.manager.loggerDict):        # AppTest's bare-mode warnings
        if name.startswith("streamlit"):
            logging.getLogger(name).setLevel(logging.ERROR)
    lines = [f"| page | {' | '.join(f'{r} (s)' for r in ROLES)} | worst scoped ÷ unscoped |",
             "|---|" + "---:|" * (len(ROLES) + 1)]
    worst = 0.0
    print("\n".join(lines), flush=True)
    measures: dict[str, dict[str, list[float]]] = {}
    for page in args.pages or pages():
        times = {r: [] for r in ROLES}
        for i in range(args.reps):
            for role in ROLES[i % len(ROLES):] + ROLES[:i % len(ROLES)]:   # rotate the order
                times[role].append(page_cold(page, by_role[role], query))
        measures[page] = times
        med = {r: statistics.median(v) for r, v in times.items()}
        ratio = paired_ratio(times)
        worst = max(worst, ratio)
        line = (f"| {page} | " + " | ".join(f"{med[r]:.2f} ({spread(times[r])})" for r in ROLES)
                + f" | {ratio:.2f}× |")
        lines.append(line)
        print(line, flush=True)
    reads = {r: [] for r in ROLES}
    for i in range(args.reps):
        for role in ROLES[i % len(ROLES):] + ROLES[:i % len(ROLES)]:
            reads[role].append(reads_cold(args.db, by_role[role], f))
    rmed = {r: statistics.median(v) for r, v in reads.items()}
    rworst = paired_ratio(reads)
    read_line = ("| all reads (every `(con, filters)` query function) | "
                 + " | ".join(f"{rmed[r]:.2f} ({spread(reads[r])})" for r in ROLES)
                 + f" | {rworst:.2f}× |")
    print(read_line, flush=True)
    verdict = "met" if max(worst, rworst) <= TARGET else "NOT met"
    section = "\n".join([
        "## 5. Row-level scope (issue 11) — `bench/bench_scope.py`",
        "",
        f"**Date:** {dt.date.today().isoformat()}. **Machine:** {started}.",
        "Data: `python -m etl demo --scale 33.4` (the demo generator's exports through the real ETL"
        " and pain-point engine): " + ", ".join(f"{k} {v:,}" for k, v in rows.items()) + ".",
        f"Scopes: community = {by_role['community'].communities[0]} (the busiest), partner = "
        f"{by_role['partner'].party} (in the most projects), public. Every figure is a cold run "
        f"(caches cleared), filters from {args.from_date} to 2026-11-22, median of {args.reps} "
        "with the spread in brackets; roles interleaved. The ratio is the worst scoped role's median "
        "of per-repetition ratios (scoped run ÷ the unscoped run of the same repetition).",
        "",
        *lines[:2], *lines[2:], read_line,
        "",
        f"Target: scoped ≤ {TARGET}× unscoped for every page — **{verdict}** (worst page "
        f"{worst:.2f}×, all reads {rworst:.2f}×). Scoped pages do less work where a role sees "
        "less (public and partner pages skip message lists; a community reads one community's "
        "rows), so the ratio can fall below 1; the rules add a filtered subquery per table "
        "reference, which DuckDB plans like a view.",
    ])
    if not args.no_write:
        report.write_section(START, END, section)
        print(f"\nwritten to {DOC}")


if __name__ == "__main__":
    main()
