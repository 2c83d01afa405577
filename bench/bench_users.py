"""Many users at once: 10 and 20 simulated users on one cockpit server at ~1M grid reports.

    python -m bench.bench_users                          # 10 then 20 users, 5 minutes each
    python -m bench.bench_users --users 10 --minutes 1 --no-write
    python -m bench.bench_users --db PATH [--build]      # another database (--build: make it)
    python -m bench.bench_users --first-visits           # every user's browser cache empty

By default the users are returning users (a street office's leaders and analysts open the
cockpit every working day): before the timed window each user's browser context opens the
cockpit once, one user after another (their first-ever visit, timed and checked for errors,
reported on its own row), so in the window Streamlit's static files and plotly.js come from the
browser's cache. --first-visits leaves that out: every user's first load in the window is a
first-ever visit with an empty cache, all users arriving within the first think time.

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
            dims: Dimensions, first_visits: bool = False) -> dict:
    """A fresh server: one user alone over every page, then `users` users for `minutes`; the
    loads, the memory samples and the CPU used."""
    from bench.users_browser import alone
    from dashboard.cockpit_server import cockpit

    with tempfile.TemporaryDirectory(prefix="bench-users-") as tmp:
        access = Path(tmp) / "access"          # no keys file: open mode; audit log here
        access.mkdir()
        with cockpit(db, env={"COCKPIT_ACCESS_DIR": str(access)}) as server:
            warm_up(server.url)
            solo = asyncio.run(alone(server.url, pages, dims))
            print(f"  alone: " + ", ".join(f"{x.page} {x.seconds or float('nan'):.1f}" for x in solo),
                  flush=True)
            print(f"{users} users for {minutes:g} min on {server.url} ...", flush=True)
            with MemorySampler(server.proc.pid) as mem:
                t0 = time.perf_counter()
                loads, took = asyncio.run(run_users(server.url, users, pages, dims, minutes, think_s,
                                                    first_visits))
    return {"users": users, "loads": loads, "alone": solo, "rss": mem.rss_mb, "load": mem.load,
            "seconds": took, "cpu": mem.cpu, "cpu_seconds": time.perf_counter() - t0}


def summarise(run: dict) -> dict:
    primed: list[Load] = [x for x in run["loads"] if x.prime]
    loads: list[Load] = [x for x in run["loads"] if not x.prime]      # the timed window
    done = [x for x in loads if x.seconds is not None]
    per_page: dict[str, list[float]] = {}
    for x in done:
        per_page.setdefault(x.page, []).append(x.seconds)
    return {
        "users": run["users"], "loads": len(loads), "rendered": len(done),
        "per_page": per_page, "all": [x.seconds for x in done],
        "by_how": {how: [x.seconds for x in done if x.how == how] for how in ("open", "navigate")},
        "first_visit": [x.seconds for x in done if x.first_visit],
        "primed": [x.seconds for x in primed if x.seconds is not None],
        "open_returning": [x.seconds for x in done if x.how == "open" and not x.first_visit],
        "alone": {x.page: x.seconds for x in run["alone"] if x.seconds is not None},
        "alone_errors": [(x, e) for x in run["alone"] for e in x.errors],
        "errors": [(x, e) for x in [*primed, *loads] for e in x.errors],
        "probes": sum(x.probes for x in loads),
        "peak_rss": max(run["rss"], default=float("nan")),
        "median_rss": statistics.median(run["rss"]) if run["rss"] else float("nan"),
        "load_avg": (min(run["load"], default=0), max(run["load"], default=0)),
        "seconds": run["seconds"], "cpu": run["cpu"],
        # the CPU was sampled over the priming visits too: per load and per second over both
        "cpu_loads": len(run["loads"]), "cpu_seconds": run.get("cpu_seconds", run["seconds"]),
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


def run_lines(n: int, s: dict) -> list[str]:
    """The run's totals, memory, machine load, CPU and its first errors."""
    lo, hi = s["load_avg"]
    cpu, loads = s["cpu"], max(s["cpu_loads"], 1)
    out = [f"- **{n} users**: {s['loads']} page loads in {s['seconds'] / 60:.1f} min "
           f"({s['rendered']} rendered), {len(s['errors'])} errors; server memory (RSS with "
           f"children, every second) peak **{s['peak_rss']:,.0f} MB**, median "
           f"{s['median_rss']:,.0f} MB; machine load average during the run {lo:.1f}–{hi:.1f}; "
           f"CPU per page load (priming visits included): server {cpu['server'] / loads:.2f} s, chromium "
           f"{cpu['browser'] / loads:.2f} s (together {(cpu['server'] + cpu['browser']) / s['cpu_seconds']:.2f} "
           f"cores on average); Streamlit's own 404 probes (below) {s['probes']}."]
    kinds = Counter(e.split(":")[0].split(" after")[0] for _, e in s["errors"])
    if kinds:
        out.append("  - errors by kind: " + ", ".join(f"{k} {v}" for k, v in kinds.most_common()))
    for x, e in s["errors"][:5]:
        how = "first-ever visit, before the window" if x.prime else x.how
        out.append(f"  - user {x.user}, {x.page} ({how}) `{x.query}`: {e[:200]}")
    for x, e in s["alone_errors"][:3]:
        out.append(f"  - alone, {x.page}: {e[:200]}")
    return out


def section(sums: dict[int, dict], data: str, minutes: float, think_s: float, machine: str,
            first_visits: bool = False) -> str:
    pages = list(dict.fromkeys(p for s in sums.values() for p in [*s["alone"], *s["per_page"]]))
    counts = list(sums)
    alone = lambda p: " | ".join(                                       # noqa: E731
        f"{sums[n]['alone'][p]:.2f}" if p in sums[n]["alone"] else "–" for n in counts)
    head = ("| page | " + " | ".join(f"alone before {n} (s)" for n in counts) + " | "
            + " | ".join(f"{n} users: median | p95 | max (s) | loads" for n in counts) + " |")
    rule = "|---|" + "---:|" * len(counts) + "---:|---:|---:|---:|" * len(counts)
    rows = [f"| {p} | {alone(p)} | " + " | ".join(stats_cell(sums[n]["per_page"].get(p, []))
                                                 for n in counts) + " |" for p in pages]
    blank = " | ".join("" for _ in counts)
    for label, pick in (("before the window: a user's first-ever visit (empty browser cache, one user at a time)",
                         lambda s: s["primed"]),
                        ("opened at its URL", lambda s: s["by_how"]["open"]),
                        ("… a user's first visit (empty browser cache)", lambda s: s["first_visit"]),
                        ("… later (browser cache warm)", lambda s: s["open_returning"]),
                        ("reached from the sidebar", lambda s: s["by_how"]["navigate"]),
                        ("**every page**", lambda s: s["all"])):
        rows.append(f"| {label} | {blank} | " + " | ".join(stats_cell(pick(sums[n])) for n in counts) + " |")
    runs = [line for n, s in sums.items() for line in run_lines(n, s)]
    return "\n".join([
        "## Many users (issue 14) — `bench/bench_users.py`",
        "",
        "Written by the bench itself (`python -m bench.bench_users`); do not edit by hand.",
        "",
        f"**Date:** {dt.datetime.now().strftime('%Y-%m-%d %H:%M')}. **Machine:** {machine}.",
        f"**Data:** {data}.",
        "",
        f"One cockpit server (Streamlit, open mode), freshly started per user count, and ONE Debian "
        f"chromium with a browser context and tab per user, all on this machine's cores. Each user "
        f"loops over the {len(pages)} pages for {minutes:g} min: every round it draws its own "
        f"filters (date range, street or community, category, language), opens the round's first "
        f"page at the URL carrying them and reaches the others from the sidebar, reading each page "
        f"for {think_s / 2:g}–{think_s * 1.5:g} s (with the default `--think-s 20` a user sees "
        f"every page about once in five minutes); the users arrive spread over the first {think_s:g} s. "
        + ("Every user's browser context starts empty (`--first-visits`): its first load in the "
           "window is its first-ever visit. "
           if first_visits else
           "Returning users, as a street office's staff are on a working day: before the window "
           "each user's browser context opened the cockpit once, one user after another (their "
           "first-ever visit: timed, checked for errors like every load, on its own row below), so "
           "in the window Streamlit's static files and plotly.js come from the browser's cache "
           "(`--first-visits` measures every user arriving with an empty cache instead). ")
        + f"A page load = from the "
        f"navigation (goto or click) to fully rendered (the e2e idle test, confirmed 300 ms later). "
        f"Errors = Streamlit exceptions or error boxes on a page, HTTP errors, console errors, page "
        f"errors, loads not rendered within 60 s. \"Alone\" = one user over every page once, on "
        f"the same server just before the users start (no think time): the page's cost at that "
        f"moment without the other users. Budgets (issue 14): no error; p95 ≤ {P95_BUDGET_S:g} s "
        f"at {P95_AT} users; server memory ≤ {RSS_BUDGET_MB:,} MB at {RSS_AT} users.",
        "",
        head, rule, *rows,
        "",
        *runs,
        "",
        "Not counted as errors: Streamlit's frontend, opened at a page's own URL (`/grid?...`), "
        "asks `/grid/_stcore/health` and `/grid/_stcore/host-config` first, gets 404, waits "
        "100 ms and falls back to `/_stcore/...` (streamlit/streamlit#7074). Since 2026-11-30 "
        "the cockpit's page HTML names the app's base (dashboard/web_assets.py) and the frontend "
        "goes straight to `/_stcore/...`; any such probe still seen is counted apart above.",
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
    ap.add_argument("--first-visits", action="store_true",
                    help="no priming visit: every user's browser cache is empty in the window")
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
            sums[n] = summarise(one_run(db, n, args.minutes, args.think_s, list(args.pages), dims,
                                        args.first_visits))
            s = sums[n]
            print(f"  {n} users: {s['loads']} loads, {len(s['errors'])} errors, p95 "
                  f"{p95(s['all']) if s['all'] else float('nan'):.2f} s, peak RSS "
                  f"{s['peak_rss']:,.0f} MB; CPU server {s['cpu']['server']:.0f} s, chromium "
                  f"{s['cpu']['browser']:.0f} s", flush=True)
    finally:
        shutil.rmtree(db.parent, ignore_errors=True)
    block = section(sums, data, args.minutes, args.think_s, machine, args.first_visits)
    print("\n" + block, flush=True)
    if not args.no_write:
        report.write_section(START, STOP, block)
        print(f"\nwritten to {report.DOC}")


if __name__ == "__main__":
    main()
