"""Reading a page ahead: a page's first queries started when the server gets the page's HTML.

A browser's first load of a page after a navigation spends ~2 s loading Streamlit's JavaScript
and opening the websocket; only then does the page's script run and ask its first queries
(0.4-1.1 s at 10M grid reports). The `Prefetch` middleware (dashboard/web.py) sees the HTML GET
(`/`, `/grid?from=...&community=...`) and queues a `Job`; one worker thread runs the page's PLAN
- the very `cache.run` calls the page's script makes first, with the same filters
(`cache.opening`: the sidebar's own opening filters for that URL) and arguments - so they are
in dashboard.cache's result cache, or being computed (the cache makes the page wait for that
computation instead of starting it again), when the script asks.

Scope: the job resolves its visitor as dashboard/access/gate.py would for a new session: open
mode (no key, no SSO) reads as everyone does there; otherwise only a live `cockpit_session`
cookie counts (sessions.resolve). An unknown, expired or signed-out token, a signed-out visitor
or an SSO-only session (no cookie the server can resolve) gets no read-ahead, and a page the
role may not open is not read. Every read goes through cache.run under that scope, so the
result cache keys it by scope: a read-ahead never widens what anyone sees.

No audit row: the audit records what a person viewed; the page records its own view when it
runs. Bounds: one worker, a queue of SLOTS jobs; a job that finds the queue full is dropped
(the page then reads as it would without read-ahead). A job's failure is logged and
swallowed. The worker runs at normal priority: DuckDB's threads inherit it, and a niced reader
holding the result cache's per-key lock would make the page wait behind it.
`COCKPIT_PREFETCH=0` turns it off (default on). docs/ARCHITECTURE.md, "Reading a page ahead".
"""
from __future__ import annotations

import os
import queue
import threading
import time
from dataclasses import dataclass
from typing import Callable
from urllib.parse import parse_qsl

from starlette.requests import cookie_parser
from streamlit.logger import get_logger

from dashboard import cache
from dashboard.access import gate, sessions
from dashboard.access.identity import OPEN, Identity
from dashboard.access.permissions import may_view
from dashboard.filters import Filters
from dashboard.queries import briefing as bq
from dashboard.queries import common
from dashboard.queries import funds as fq
from dashboard.queries import grid as gq
from dashboard.queries import linkage as lq
from dashboard.queries import overview as oq
from dashboard.queries import painpoints as ppq
from dashboard.queries import participation as paq
from dashboard.queries import projects as prq
from dashboard.queries.base import current_scope, use_scope
from dashboard.web_assets import page_name

SWITCH = "COCKPIT_PREFETCH"     # "0" turns reading ahead off
SLOTS = 4                       # jobs waiting at most; one more is dropped
START_PAGE = "overview"         # what "/" shows (app.py's DEFAULT_PAGE)
log = get_logger(__name__)      # Streamlit's: `--logger.level debug` shows each job


@dataclass(frozen=True)
class Job:
    """One page's HTML request: the page, its URL query (name, value pairs) and the session
    cookie's token, if any."""
    page: str
    query: tuple[tuple[str, str], ...] = ()
    token: str | None = None


# --- what each page reads first (keep in step with pages/*.py: tests/test_prefetch.py runs each
# page after its plan and checks that the page computes nothing more) -------------------------
def _header(f: Filters) -> None:
    cache.run(common.as_of, f)                  # ui.header's "as of" date


def _overview(f: Filters, _query: dict) -> None:
    _header(f)
    for period in ((f, f.previous_period()) if f.date_from and f.date_to else (f,)):
        cache.run(oq.kpis, period)
        cache.run(paq.kpis, period)
    for fn in (oq.top_pain_points, oq.top_hot_spots, oq.alerts):
        cache.run(fn, f)


def _grid(f: Filters, _query: dict) -> None:
    _header(f)
    cache.run(oq.grid_kpis, f)
    cache.run(gq.volume, f)                     # the view the page opens with
    cache.run(gq.sla_by, f, "category")         # the ranking it opens with


def _funds(f: Filters, _query: dict) -> None:
    _header(f)
    cache.run(oq.fund_kpis, f)
    for fn in (fq.sankey_links, fq.ledger_check, fq.execution, fq.in_kind):
        cache.run(fn, f)


def _linkage(f: Filters, _query: dict) -> None:
    _header(f)
    for fn in (lq.street_totals_for, lq.shares, lq.matrix, lq.unclassified_partners):
        cache.run(fn, f)


def _projects(f: Filters, _query: dict) -> None:
    _header(f)
    for fn in (prq.summary, prq.warnings, prq.project_table):
        cache.run(fn, f)
    cache.run(prq.counts_by, f, "stage")        # the view it opens with


def _painpoints(f: Filters, _query: dict) -> None:
    months = cache.run(ppq.months, f)
    if months.empty:
        return
    first = months["month_on"].iloc[0]          # the month picker's first option
    month = first.date() if hasattr(first, "date") else first
    top = cache.run(ppq.top3, f, month)
    cache.run(ppq.hot_spots, f, month)
    if not top.empty:
        cache.run(ppq.trend, f, tuple(top["pain_point_id"]), month)
        cache.run(ppq.funding_summary, f, month)
        cache.run(ppq.funding, f, month)


def _participation(f: Filters, query: dict) -> None:
    _header(f)
    cache.run(paq.votes, f)
    cache.run(paq.resolutions, f)
    cache.run(paq.kpis, f)


def _briefing(f: Filters, query: dict) -> None:
    communities = cache.run(bq.communities, Filters())
    week = query.get("week") or cache.run(bq.default_week, Filters())
    if bq.parse_week(week) is None:
        return
    own = communities if current_scope().communities is not None else []
    scope = f.community or query.get("community") or (own[0] if len(own) == 1 else None)
    if scope is not None and scope not in communities:
        return
    bf = bq.week_filters(week, scope, f.lang)
    cache.run(bq.last_load, Filters())
    for fn in (bq.headline, bq.daily_activity, bq.money_flows, bq.pain_points, bq.hot_spots,
               bq.projects_due, bq.new_warnings):
        cache.run(fn, bf)


PLANS: dict[str, Callable[[Filters, dict], None]] = {
    "overview": _overview, "grid": _grid, "funds": _funds, "linkage": _linkage,
    "projects": _projects, "painpoints": _painpoints, "participation": _participation,
    "briefing": _briefing,
}


# --- the job ------------------------------------------------------------------------------------
def enabled() -> bool:
    return os.environ.get(SWITCH, "1").strip() != "0"


def job_for(path: str, query_string: str = "", cookie: str = "") -> Job | None:
    """The job for a request, or None when the path is not a page with a plan."""
    name = page_name(path)
    page = START_PAGE if name == "" else name
    if page not in PLANS:
        return None
    token = cookie_parser(cookie).get(sessions.COOKIE) if cookie else None
    return Job(page, tuple(parse_qsl(query_string)), token or None)


def visitor(token: str | None) -> Identity | None:
    """Who a new session with this cookie token would be (gate.identify's order), or None:
    open mode -> OPEN; else a live session token only."""
    if gate.open_mode():
        return OPEN
    return sessions.resolve(token)


def run(job: Job) -> bool:
    """Read the job's page ahead for its visitor; False when there is nothing to read for it."""
    who = visitor(job.token)
    if who is None:
        return False
    # dict(): a name repeated in the URL keeps its last value, as st.query_params does
    return read_ahead(who, job.page, dict(job.query))


def read_ahead(who: Identity, page: str, query: dict[str, str]) -> bool:
    """Run `page`'s plan as `who` with the filters its sidebar opens with for the URL `query`;
    False when the role may not open the page or there is nothing to read."""
    if not may_view(who.role, page):
        return False
    with use_scope(who.scope):
        if not cache.has_data():
            return False
        f = cache.opening(query).filters
        if f.date_to is None:       # no dated data: the sidebar's pickers open on today instead
            return False
        PLANS[page](f, query)
    return True


# --- the queue and its worker ------------------------------------------------------------------
_jobs: queue.Queue[Job] = queue.Queue(SLOTS)
_worker: threading.Thread | None = None
_worker_lock = threading.Lock()


def submit(job: Job | None) -> bool:
    """Queue a job (starting the worker on first use); False when off, not a page, or full."""
    if job is None or not enabled():
        return False
    _start_worker()
    try:
        _jobs.put_nowait(job)
    except queue.Full:
        log.debug("read-ahead queue full: %s dropped", job.page)
        return False
    return True


def _start_worker() -> None:
    global _worker
    with _worker_lock:
        if _worker is None or not _worker.is_alive():
            _worker = threading.Thread(target=_work, daemon=True, name="prefetch")
            _worker.start()


def _work() -> None:
    while True:
        job = _jobs.get()
        try:
            t0, computed = time.perf_counter(), cache.RESULTS.computed
            done = run(job)
            log.debug("read ahead %s: %s, %d results computed, %.2f s", job.page,
                      "done" if done else "nothing to read", cache.RESULTS.computed - computed,
                      time.perf_counter() - t0)
        except Exception:  # noqa: BLE001 - a read-ahead is an optimisation: the page reads anyway
            log.warning("read-ahead of page %s failed", job.page, exc_info=True)
        finally:
            _jobs.task_done()


class Prefetch:
    """ASGI middleware: a GET of a page's HTML queues that page's read-ahead; the request goes
    on to the app unchanged."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and enabled():
            headers = dict(scope["headers"])
            submit(job_for(scope["path"], scope.get("query_string", b"").decode("latin-1"),
                           headers.get(b"cookie", b"").decode("latin-1")))
        await self.app(scope, receive, send)
