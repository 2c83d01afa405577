"""Page speed: every cockpit page cold in a new process, warm, and in a real browser.

    python -m bench.bench_pages                        # demo data at ~1M and ~10M grid reports
    python -m bench.bench_pages --data /work/bench-data   # prebuilt demo1m/demo10m.duckdb there
    python -m bench.bench_pages --reports 10m          # one size only
    python -m bench.bench_pages --scale 5 --procs 3    # any demo scale
    python -m bench.bench_pages --synthetic            # the old set-based synthetic corpus
    python -m bench.bench_pages --db PATH --no-write   # an existing database file, print only

Data (default): the demo generator's own exports (`python -m etl demo --scale N`: duplicates,
rejected rows, PII in free text, varied messages) loaded by the real ETL and pain-point engine.
`--reports 1m` is scale 33.4 (~0.99M grid reports), `--reports 10m` scale 338 (~10M). Each
size's database is taken from `--data DIR` (env COCKPIT_BENCH_DATA) as `demo1m.duckdb` /
`demo10m.duckdb` when it is there (prebuilt; opened read-only, its `.cockpit_salt` beside it),
else bench/out/demo-<scale>.duckdb (git-ignored), built once per scale and reused (--rebuild
to build it again). Without --reports both sizes run when a 10M database is already there
(in DIR or bench/out; building 10M takes hours, so it is never built implicitly), else 1M.
The pages' audit log goes to a private directory under bench/out, never beside the database.

Three measures per page (issue 14), each the median over several samples with the spread:
- cold: a NEW Python process per sample (bench/pages_child.py) first does what the real server
  does before it answers (dashboard/web.py's lifespan: imports, Streamlit's once-per-process
  costs, the shared read-only connection opened; no query result), then runs the page's full
  script (dashboard/app.py + the page) once under Streamlit's AppTest; that first run's wall
  time, i.e. what the first visitor of a freshly started server meets (--cold-bare: without
  the lifespan, the definition before 2026-12-01);
- warm: the second run of the same session inside that process;
- browser: the real cockpit in Debian's chromium, from the navigation to fully rendered, every
  element's code loaded and every chart drawn (bench/pages_browser.py): the page's first load on
  a freshly started server and a first visit (both an empty browser cache), a returning visit
  (the browser's cache from a previous visit) and the move from the sidebar within a session,
  over --browser-reps servers.
Pages are interleaved across the process rounds so load from other work hits them alike.
Budgets (issue 14): cold <= 1.5 s, warm <= 0.3 s, browser <= 2.5 s. The figures are written
into docs/BENCHMARKS.md between the bench_pages markers (replacing the previous run's section)
with the machine, the load average at start and end, the date and the data size; --no-write
prints only.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench import report

REPO = Path(__file__).resolve().parents[1]
PAGES = ("overview", "projects", "funds", "grid", "linkage", "painpoints", "participation",
         "explore", "sql_console", "briefing")
APP = str(REPO / "dashboard" / "app.py")
OUT = REPO / "bench" / "out"                      # git-ignored
DOC = REPO / "docs" / "BENCHMARKS.md"
START, STOP = "<!-- bench_pages:start -->", "<!-- bench_pages:end -->"
END = dt.date(2026, 11, 22)                       # the data's last day
REPORTS = {"1m": 33.4, "10m": 338.0}              # demo scale per grid-report volume
PREBUILT = {"1m": "demo1m.duckdb", "10m": "demo10m.duckdb"}   # names in --data DIR
BUDGET = {"cold": 1.5, "warm": 0.3, "browser": 2.5}
WHOLE_HISTORY = "2024-11-23"


def build_demo(db: Path, scale: float) -> None:
    report.build_demo(db, scale, END)


def measure(page: str, reps: int, query: dict[str, str] | None = None) -> tuple[float, float]:
    """In-process medians (cold = caches cleared, warm = the same session again); kept for
    bench_participation, which compares sections of one page inside one process."""
    from streamlit.testing.v1 import AppTest

    from dashboard import cache

    cold, warm = [], []
    for _ in range(reps):
        cache.clear()
        at = AppTest.from_file(APP, default_timeout=300)
        for k, v in (query or {}).items():
            at.query_params[k] = v
        if page != "overview":
            at.switch_page(f"../pages/{page}.py")
        t0 = time.perf_counter()
        at.run()
        cold.append(time.perf_counter() - t0)
        if at.exception:
            raise RuntimeError(f"{page}: {at.exception[0].value}")
        t0 = time.perf_counter()
        at.run()
        warm.append(time.perf_counter() - t0)
    return statistics.median(cold), statistics.median(warm)


def counts(path: Path) -> dict[str, int]:
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    try:
        return dict(con.execute("""
            SELECT 'grid_reports', count(*) FROM grid_reports UNION ALL
            SELECT 'feedback', count(*) FROM feedback UNION ALL
            SELECT 'projects', count(*) FROM projects UNION ALL
            SELECT 'fund_transactions', count(*) FROM fund_transactions""").fetchall())
    finally:
        con.close()


def private_env(db: Path) -> dict[str, str]:
    """The pages' own files (the audit log) in bench/out, not beside a shared database."""
    access = OUT / f"access-{db.stem}"
    access.mkdir(parents=True, exist_ok=True)
    return {"COCKPIT_ACCESS_DIR": str(access)}


def in_new_processes(db: Path, pages: list[str], procs: int, date_from: str | None,
                     bare: bool = False) -> dict[str, dict[str, list[float]]]:
    """startup / cold / warm / process (wall time of the whole process, Python start-up
    included) per page, one new process per sample; the pages rotate within each round."""
    env = {**os.environ, "COCKPIT_DB": str(db), **private_env(db)}
    out = {p: {"startup": [], "cold": [], "warm": [], "process": []} for p in pages}
    for i in range(procs):
        k = i % len(pages)
        for page in pages[k:] + pages[:k]:
            cmd = [sys.executable, "-m", "bench.pages_child", page]
            if date_from:
                cmd += ["--from", date_from]
            if bare:
                cmd.append("--bare")
            t0 = time.perf_counter()
            done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
            took = time.perf_counter() - t0
            if done.returncode:
                raise RuntimeError(f"{page}: the child process failed:\n{done.stderr[-2000:]}")
            got = json.loads(done.stdout.strip().splitlines()[-1])
            for key in ("startup", "cold", "warm"):
                out[page][key].append(got[key])
            out[page]["process"].append(took)
            print(f"  round {i + 1} {page}: start-up {got['startup']:.2f} s, cold {got['cold']:.2f} s, "
                  f"warm {got['warm']:.2f} s, process {took:.1f} s", flush=True)
    return out


def cell(xs: list[float], budget: float | None = None) -> str:
    med = statistics.median(xs)
    text = f"{med:.2f} ({min(xs):.2f}–{max(xs):.2f})"
    return f"**{text}** ⚠" if budget is not None and med > budget else text


def table(data: str, rows: dict[str, int], procs: int, times: dict,
          browser: dict | None, load: str, storage: str = "") -> tuple[list[str], list[str]]:
    """The Markdown lines of one data size's table, and what is over budget in it."""
    from bench.pages_browser import COLUMNS
    head = ["| page | cold, new process (s) | warm (s) | server start-up before it (s) "
            "| process incl. Python start (s) |"
            + "".join(f" {h} |" for h in COLUMNS.values() if browser),
            "|---|---:|---:|---:|---:|" + ("---:|" * len(COLUMNS) if browser else "")]
    over = []
    for page, t in times.items():
        line = f"| {page} | {cell(t['cold'], BUDGET['cold'])} | {cell(t['warm'], BUDGET['warm'])} | " \
               f"{cell(t['startup'])} | {cell(t['process'])} |"
        if browser:
            b = browser[page]
            line += "".join(f" {cell(b[k], BUDGET['browser'])} |" for k in COLUMNS)
        head.append(line)
        for key in ("cold", "warm"):
            if statistics.median(t[key]) > BUDGET[key]:
                over.append(f"{page} {key}")
        for key in COLUMNS if browser else ():
            if statistics.median(browser[page][key]) > BUDGET["browser"]:
                over.append(f"{page} browser ({key})")
    intro = [f"**Data:** {data}: " + ", ".join(f"{k} {v:,}" for k, v in rows.items())
             + (f"; {storage}" if storage else "") + f". Median of {procs} processes; {load}.", ""]
    if browser:
        from bench.pages_browser import verdict
        head += ["", verdict(browser, BUDGET["browser"])]
    return intro + head, over


def section(view: str, procs: int, reps: int, started: str, parts: list[tuple[str, list[str], list[str]]],
            bare: bool = False) -> str:
    """The whole bench_pages section: how it was measured, then one table per data size."""
    from bench.pages_browser import describe
    lines = [
        "## 2. Pages (issues 3 and 14) — `bench/bench_pages.py`",
        "",
        "Written by the bench itself (`python -m bench.bench_pages`); do not edit by hand.",
        "",
        f"**Date:** {dt.datetime.now().strftime('%Y-%m-%d %H:%M')}. **Machine:** {started}. "
        f"**View:** {view}.",
        f"Cold = the page's first full script run (app.py + page) under AppTest in a new Python process"
        + (" (`--cold-bare`: nothing done before it but Streamlit's component scan)" if bare else
           ", after what the real server does before it answers its health check (dashboard/web.py's "
           "lifespan: `warmup.start()` imports what the scripts import, pays Streamlit's "
           "once-per-process costs and opens the shared read-only connection, scanning the catalog "
           "tables; `warmup.freeze()`), so no visitor waits for it; its time is the *server "
           "start-up* column, and every page query still runs in the timed first run")
        + f", warm = the second run in that process; median of {procs} processes with the spread "
        f"(min–max) in brackets. {describe(reps)} Budgets (issue 14): cold ≤ {BUDGET['cold']} s, warm ≤ "
        f"{BUDGET['warm']} s, browser ≤ {BUDGET['browser']} s.",
    ]
    for title, body, over in parts:
        verdict = ("every page within budget" if not over
                   else "over budget (⚠): " + ", ".join(over))
        lines += ["", f"### {title}", "", *body, "", f"Result: {verdict}."]
    return "\n".join(lines)


def data_dir(args) -> Path | None:
    configured = args.data or os.environ.get("COCKPIT_BENCH_DATA")
    return Path(configured) if configured else None


def demo_path(args, size: str) -> Path:
    """Where the demo database of `size` is: prebuilt in --data DIR, else bench/out."""
    root = data_dir(args)
    if root is not None and (root / PREBUILT[size]).exists():
        return root / PREBUILT[size]
    return OUT / f"demo-{REPORTS[size]:g}.duckdb"


def sizes(args) -> list[str]:
    """--reports as given; by default 1m, and 10m too when its database is already there."""
    if args.reports:
        return args.reports
    return ["1m", "10m"] if demo_path(args, "10m").exists() else ["1m"]


def prepare(args) -> list[tuple[str, Path, str]]:
    """(title, database file, description) per data size to measure; built if missing."""
    if args.db:
        return [(f"`{args.db.name}`", args.db, f"`{args.db}`")]
    if args.synthetic:
        from bench.synthetic_db import build_synthetic
        db = OUT / "pages-synthetic.duckdb"
        todo = [("synthetic corpus", db, "synthetic corpus (`--synthetic`, set-based SQL)",
                 build_synthetic)]
    elif args.scale is not None:
        db = OUT / f"demo-{args.scale:g}.duckdb"
        todo = [(f"demo scale {args.scale:g}", db, _demo_text(args.scale, db),
                 lambda path, sc=args.scale: build_demo(path, sc))]
    else:
        todo = []
        for size in sizes(args):
            db, scale = demo_path(args, size), REPORTS[size]
            todo.append((f"~{size.upper()} grid reports", db, _demo_text(scale, db),
                         lambda path, sc=scale: build_demo(path, sc)))
    out = []
    for title, db, text, build in todo:
        if (args.rebuild and db.parent == OUT) or not db.exists():
            t0 = time.perf_counter()
            build(db)
            print(f"built {db} in {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
        out.append((title, db, text))
    return out


def _demo_text(scale: float, db: Path) -> str:
    return (f"the demo generator's exports through the real ETL "
            f"(`python -m etl demo --scale {scale:g}`), `{db.name}`")


def storage_text(path: Path) -> str:
    """How the record tables are stored: months whole (etl/storage.py `is_whole`: one file,
    nothing superseded), or read from several files / leaving superseded rows out with an
    anti-join (docs/ARCHITECTURE.md section 3: a load leaves them; the nightly `python -m etl
    compact` makes every month whole)."""
    import duckdb

    from etl import storage

    con = duckdb.connect(str(path), read_only=True)
    try:
        stats = [s for table in ("grid_reports", "feedback") for s in storage.month_stats(con, table)]
    except duckdb.Error:
        return "storage: not the monthly Parquet layout"
    finally:
        con.close()
    whole = sum(storage.is_whole(files, gone) for _, files, _, gone in stats)
    superseded = sum(gone for *_, gone in stats)
    return (f"storage: {whole} of {len(stats)} months of grid_reports and feedback whole "
            f"(one file, no row superseded), {superseded:,} superseded rows left out by the views"
            + (" (as the build's loads left them, before a nightly `etl compact`)" if whole < len(stats)
               else " (compacted, as the nightly `etl compact` leaves them; `etl demo` ends with it)"))


def load_text() -> str:
    return f"load average {os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else "load ?"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reports", nargs="+", choices=sorted(REPORTS), default=None,
                    help="grid-report volumes of the demo data (1m: scale 33.4, 10m: scale 338); "
                         "default 1m, plus 10m when its database exists")
    ap.add_argument("--data", type=Path, default=None,
                    help="directory of prebuilt demo1m.duckdb / demo10m.duckdb "
                         "(default: env COCKPIT_BENCH_DATA)")
    ap.add_argument("--scale", type=float, default=None, help="any demo scale (overrides --reports)")
    ap.add_argument("--synthetic", action="store_true", help="the set-based synthetic corpus instead")
    ap.add_argument("--db", type=Path, default=None, help="measure an existing database file")
    ap.add_argument("--rebuild", action="store_true", help="build bench/out's database again")
    ap.add_argument("--procs", type=int, default=3, help="new processes per page (cold/warm)")
    ap.add_argument("--browser-reps", type=int, default=3,
                    help="freshly started servers, i.e. browser samples per page")
    ap.add_argument("--no-browser", action="store_true")
    ap.add_argument("--cold-bare", action="store_true",
                    help="cold without the server's start-up before it (the pre-2026-12-01 definition)")
    ap.add_argument("--pages", nargs="*", default=list(PAGES))
    ap.add_argument("--from-date", default=WHOLE_HISTORY,
                    help="URL ?from= (default: the whole two years; '' = the app's last 30 days)")
    ap.add_argument("--no-write", action="store_true", help="print only, leave the docs alone")
    args = ap.parse_args()
    todo = prepare(args)
    started = report.machine()
    date_from = args.from_date or None
    view = (f"from {date_from} to {END} (`?from={date_from}`)" if date_from
            else "the app's default (last 30 days)")
    parts = []
    for title, db, data in todo:
        rows = counts(db)
        print(f"{data}\nrows: " + ", ".join(f"{k} {v:,}" for k, v in rows.items()), flush=True)
        at_start = load_text()
        times = in_new_processes(db, args.pages, args.procs, date_from, args.cold_bare)
        browser = None
        if not args.no_browser:
            from bench.pages_browser import measure as browser_measure
            browser = browser_measure(db, args.pages, args.browser_reps, date_from,
                                      env=private_env(db))
        body, over = table(data, rows, args.procs, times, browser,
                           f"{at_start} at its start, {load_text()} at its end", storage_text(db))
        parts.append((title, body, over))
    block = section(view, args.procs, args.browser_reps, started, parts, args.cold_bare)
    print("\n" + block, flush=True)
    if not args.no_write:
        report.write_section(START, STOP, block)
        print(f"\nwritten to {DOC}")


if __name__ == "__main__":
    main()
