"""Many users at once: 10 and 20 simulated users on one cockpit server at ~1M grid reports.

    python -m bench.bench_users                          # 10 then 20 users, 5 minutes each
    python -m bench.bench_users --users 10 --minutes 1 --no-write
    python -m bench.bench_users --db PATH [--build]      # another database (--build: make it)

One real cockpit server (Streamlit headless, dashboard.cockpit_server.cockpit, open mode: no
keys file) on a private copy of the database (default /work/bench-data/demo1m.duckdb, the demo
generator's ~1M grid reports; --build builds the demo there with bench/report.build_demo if
the file is missing), freshly started for each user count. ONE Debian chromium with a browser
context and tab per user (bench/users_browser.py): each user loops over every page with its own
filters (dates, street/community, category, language; new ones each round) for --minutes,
each page load timed from navigation to fully rendered. The browsers share the machine's cores
with the server, as they would on a street office's laptop demo; the load average is recorded.

Recorded per user count: page loads, errors (Streamlit exceptions, HTTP errors, console errors,
timeouts), median / p95 / max per page and overall, and the server's memory (RSS of the server
process and its children, sampled every second with psutil). Budgets (issue 14): no error at
either count, p95 <= 3 s at 10 users, peak server memory <= 1.5 GB at 20 users. The figures
go into docs/BENCHMARKS.md between the bench_users markers (--no-write prints only).
"""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import math
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from bench import report
from bench.users_browser import Dimensions, Load, load as load_page, run_users

DEFAULT_DB = Path("/work/bench-data/demo1m.duckdb")
PAGES = ("overview", "projects", "funds", "grid", "linkage", "painpoints", "participation",
         "explore", "sql_console", "briefing")
START, STOP = "<!-- bench_users:start -->", "<!-- bench_users:end -->"
DEMO_SCALE, DEMO_END = 33.4, dt.date(2026, 11, 22)     # ~1M grid reports, as bench_pages
P95_BUDGET_S, P95_AT = 3.0, 10
RSS_BUDGET_MB, RSS_AT = 1536, 20
THINK_S = 20.0


def p95(xs: list[float]) -> float:
    """Nearest-rank 95th percentile."""
    s = sorted(xs)
    return s[max(math.ceil(0.95 * len(s)) - 1, 0)]


def dimensions(db: Path) -> tuple[Dimensions, str]:
    """Filter values the users draw from, and a one-line description of the data."""
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        first, last = con.execute(
            "SELECT min(reported_at)::DATE, max(reported_at)::DATE FROM grid_reports").fetchone()
        comm = con.execute("""SELECT community, min(street) FROM grid_reports
                              WHERE community IS NOT NULL AND street IS NOT NULL
                              GROUP BY community""").fetchall()
        cats = con.execute("SELECT DISTINCT category FROM grid_reports WHERE category IS NOT NULL "
                           "ORDER BY category").fetchall()
        reports = con.execute("SELECT count(*) FROM grid_reports").fetchone()[0]
    finally:
        con.close()
    about = (f"{reports:,} grid reports from {first} to {last}, {len(comm)} communities, "
             f"{len(cats)} report categories")
    return Dimensions(first, last, dict(comm), tuple(c for (c,) in cats)), about


class MemorySampler:
    """RSS of a process and all its children, every `every_s` seconds, in a thread; also the
    machine's 1-minute load average, and the CPU seconds used by the server and by the rest of
    this bench's process tree (the browser) while it ran."""

    def __init__(self, pid: int, every_s: float = 1.0):
        import psutil

        self.proc = psutil.Process(pid)
        self.every_s = every_s
        self.rss_mb: list[float] = []
        self.load: list[float] = []
        self.cpu = {"server": 0.0, "browser": 0.0}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _cpu(self) -> dict[str, float]:
        """CPU seconds (user + system) of the server's tree and of the bench's other descendants
        (playwright's driver and chromium), by process, so exited ones are not lost."""
        import psutil

        server = {self.proc.pid, *(c.pid for c in self.proc.children(recursive=True))}
        out = {}
        for p in psutil.Process().children(recursive=True):
            try:
                t = p.cpu_times()
                out[p.pid] = ("server" if p.pid in server else "browser", t.user + t.system)
            except psutil.NoSuchProcess:
                pass
        return out

    def _run(self) -> None:
        import psutil

        first, last = self._cpu(), {}
        while not self._stop.is_set():
            total = 0
            try:
                for p in [self.proc, *self.proc.children(recursive=True)]:
                    try:
                        total += p.memory_info().rss
                    except psutil.NoSuchProcess:
                        pass
                last.update(self._cpu())
            except psutil.NoSuchProcess:
                break
            self.rss_mb.append(total / 2**20)
            self.load.append(os.getloadavg()[0])
            self._stop.wait(self.every_s)
        for pid, (who, secs) in last.items():
            self.cpu[who] += secs - first.get(pid, (who, 0.0))[1]

    def __enter__(self) -> "MemorySampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def warm_up(base: str) -> None:
    """One load of the data page, so the server's imports are not counted as a user's wait."""
    async def once() -> None:
        from playwright.async_api import async_playwright

        from dashboard.briefing_export import CHROMIUM, CHROMIUM_ARGS

        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            tab = await browser.new_page()
            await load_page(tab, f"{base}/data")
            await browser.close()
    asyncio.run(once())


def one_run(db: Path, users: int, minutes: float, think_s: float, pages: list[str],
            dims: Dimensions) -> dict:
    """A fresh server, `users` users for `minutes`; the loads and the memory samples."""
    from dashboard.cockpit_server import cockpit

    with tempfile.TemporaryDirectory(prefix="bench-users-") as tmp:
        access = Path(tmp) / "access"          # no keys file: open mode; audit log here
        access.mkdir()
        with cockpit(db, env={"COCKPIT_ACCESS_DIR": str(access)}) as server:
            warm_up(server.url)
            print(f"{users} users for {minutes:g} min on {server.url} ...", flush=True)
            with MemorySampler(server.proc.pid) as mem:
                t0 = time.perf_counter()
                loads = asyncio.run(run_users(server.url, users, pages, dims, minutes, think_s))
                took = time.perf_counter() - t0
    return {"users": users, "loads": loads, "rss": mem.rss_mb, "load": mem.load, "seconds": took,
            "cpu": mem.cpu}


def summarise(run: dict) -> dict:
    loads: list[Load] = run["loads"]
    done = [x for x in loads if x.seconds is not None]
    per_page: dict[str, list[float]] = {}
    for x in done:
        per_page.setdefault(x.page, []).append(x.seconds)
    errors = [(x, e) for x in loads for e in x.errors]
    return {
        "users": run["users"], "loads": len(loads), "rendered": len(done),
        "per_page": per_page, "all": [x.seconds for x in done],
        "errors": errors, "probes": sum(x.probes for x in loads), "peak_rss": max(run["rss"], default=float("nan")),
        "median_rss": statistics.median(run["rss"]) if run["rss"] else float("nan"),
        "load_avg": (min(run["load"], default=0), max(run["load"], default=0)),
        "seconds": run["seconds"], "cpu": run["cpu"],
    }


def stats_cell(xs: list[float]) -> str:
    if not xs:
        return "– | – | – | 0"
    return f"{statistics.median(xs):.2f} | {p95(xs):.2f} | {max(xs):.2f} | {len(xs)}"


def verdicts(sums: dict[int, dict]) -> list[str]:
    out = []
    for n, s in sums.items():
        out.append(f"{n} users: " + ("no error ✓" if not s["errors"]
                                     else f"**{len(s['errors'])} errors** ⚠"))
    if P95_AT in sums and sums[P95_AT]["all"]:
        v = p95(sums[P95_AT]["all"])
        out.append(f"p95 page load at {P95_AT} users {v:.2f} s (budget ≤ {P95_BUDGET_S:g} s) "
                   + ("✓" if v <= P95_BUDGET_S else "⚠"))
    if RSS_AT in sums:
        v = sums[RSS_AT]["peak_rss"]
        out.append(f"peak server memory at {RSS_AT} users {v:,.0f} MB (budget ≤ {RSS_BUDGET_MB:,} MB) "
                   + ("✓" if v <= RSS_BUDGET_MB else "⚠"))
    return out


def section(sums: dict[int, dict], data: str, minutes: float, machine: str) -> str:
    pages = list(dict.fromkeys(p for s in sums.values() for p in s["per_page"]))
    counts = list(sums)
    head = "| page | " + " | ".join(f"{n} users: median | p95 | max (s) | loads" for n in counts) + " |"
    rule = "|---|" + "---:|---:|---:|---:|" * len(counts)
    rows = [f"| {p} | " + " | ".join(stats_cell(sums[n]["per_page"].get(p, [])) for n in counts) + " |"
            for p in pages]
    rows.append("| **every page** | " + " | ".join(stats_cell(sums[n]["all"]) for n in counts) + " |")
    runs = []
    for n, s in sums.items():
        lo, hi = s["load_avg"]
        runs.append(f"- **{n} users**: {s['loads']} page loads in {s['seconds'] / 60:.1f} min "
                    f"({s['rendered']} rendered), {len(s['errors'])} errors ({s['probes']} of Streamlit's "
                    f"own 404 probes apart, see below); server memory (RSS incl. "
                    f"children) peak {s['peak_rss']:,.0f} MB, median {s['median_rss']:,.0f} MB; "
                    f"load average during the run {lo:.1f}–{hi:.1f}; CPU used by the server "
                    f"{s['cpu']['server']:.0f} s, by chromium {s['cpu']['browser']:.0f} s "
                    f"({(s['cpu']['server'] + s['cpu']['browser']) / s['seconds']:.2f} cores).")
        kinds = Counter(e.split(":")[0] for _, e in s["errors"])
        for (x, e) in s["errors"][:5]:
            runs.append(f"  - user {x.user}, {x.page} `{x.query}`: {e[:200]}")
        if kinds:
            runs.append("  - by kind: " + ", ".join(f"{k} {v}" for k, v in kinds.most_common()))
    return "\n".join([
        "## Many users (issue 14) — `bench/bench_users.py`",
        "",
        "Written by the bench itself (`python -m bench.bench_users`); do not edit by hand.",
        "",
        f"**Date:** {dt.datetime.now().strftime('%Y-%m-%d %H:%M')}. **Machine:** {machine}.",
        f"**Data:** {data}. One cockpit server (open mode), freshly started per user count; ONE "
        f"Debian chromium with a tab per user on the same 2 cores, each user looping over the "
        f"{len(pages)} pages for {minutes:g} min with its own filters (date range, street or "
        f"community, category, language: new ones every round, given in the URL). A page load = "
        f"navigation to fully rendered (the e2e idle test); errors = Streamlit exceptions on the "
        f"page, HTTP errors, console errors, loads not rendered in 60 s. Server memory sampled "
        f"every second. Budgets: no error; p95 ≤ {P95_BUDGET_S:g} s at {P95_AT} users; "
        f"memory ≤ {RSS_BUDGET_MB:,} MB at {RSS_AT} users.",
        "",
        head, rule, *rows,
        "",
        *runs,
        "",
        "Not counted as errors: when a page is opened at its own URL (`/grid?...`), Streamlit's "
        "frontend first asks `/grid/_stcore/health` and `/grid/_stcore/host-config`, gets 404 "
        "and falls back to `/_stcore/...` (streamlit/streamlit#7074, a known Streamlit "
        "behaviour); those probes are counted above, apart from the errors.",
        "",
        "Result: " + "; ".join(verdicts(sums)) + ".",
    ])


def prepare(args) -> Path:
    """A private copy of the database (and its salt) the server may open."""
    src: Path = args.db
    if not src.exists():
        if not args.build:
            sys.exit(f"{src} not found (add --build to build the ~1M-report demo there)")
        report.build_demo(src, DEMO_SCALE, DEMO_END)
    work = Path(tempfile.mkdtemp(prefix="bench-users-db-"))
    dst = work / src.name
    shutil.copyfile(src, dst)
    if (src.parent / ".cockpit_salt").exists():
        shutil.copyfile(src.parent / ".cockpit_salt", work / ".cockpit_salt")
    return dst


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", type=Path, default=DEFAULT_DB, help="the database (copied, never written)")
    ap.add_argument("--build", action="store_true", help="build the ~1M demo at --db if it is missing")
    ap.add_argument("--users", type=int, nargs="+", default=[10, 20])
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--think-s", type=float, default=THINK_S,
                    help="mean seconds a user reads a page before the next (0.5-1.5 x this)")
    ap.add_argument("--pages", nargs="*", default=list(PAGES))
    ap.add_argument("--no-write", action="store_true", help="print only, leave the docs alone")
    args = ap.parse_args()
    db = prepare(args)
    try:
        machine = report.machine()
        dims, about = dimensions(db)
        data = f"`{args.db.name}`: {about}"
        print(data, flush=True)
        sums = {}
        for n in args.users:
            sums[n] = summarise(one_run(db, n, args.minutes, args.think_s, list(args.pages), dims))
            s = sums[n]
            print(f"  {n} users: {s['loads']} loads, {len(s['errors'])} errors, p95 "
                  f"{p95(s['all']) if s['all'] else float('nan'):.2f} s, peak RSS "
                  f"{s['peak_rss']:,.0f} MB; CPU server {s['cpu']['server']:.0f} s, chromium "
                  f"{s['cpu']['browser']:.0f} s", flush=True)
    finally:
        shutil.rmtree(db.parent, ignore_errors=True)
    block = section(sums, data, args.minutes, machine)
    print("\n" + block, flush=True)
    if not args.no_write:
        report.write_section(START, STOP, block)
        print(f"\nwritten to {report.DOC}")


if __name__ == "__main__":
    main()
