"""Simulated users for bench_users: one Debian chromium, one browser context and tab per user,
each tab looping over the cockpit's pages with the user's own filters until a deadline.

Each round a user draws new filters (from, to, street, community, category, lang), opens its
first page at the URL carrying them (`page.goto`: a new Streamlit session, as when a link is
followed) and reaches the other pages through the sidebar's links (the same session, the
filters kept), reading each page for a while (think time) before the next. A page load is
timed from the goto or the click to fully rendered: the e2e harness's idle test
(tests/e2e/conftest.py IDLE_JS), confirmed 300 ms later as bench/pages_browser.py does; the
recorded time is the idle check that held. A user's browser context lives for the whole run.
By default the users are returning users, as a street office's leaders and analysts are on
any working day: before the timed window each user's context opens the cockpit once, one user
after another (their first-ever visit, on some earlier day: an empty browser cache,
Streamlit's static files and plotly.js fetched and compiled), then closes that tab; in the
window every user starts in a new tab with those files in the browser's cache. These priming
loads are timed and checked for errors like any other (Load.prime, Load.first_visit) and
reported apart. `first_visits=True` (bench_users --first-visits) skips the priming: every
user's first load in the window is its first-ever visit, all arriving within the first think
time — the day the cockpit is introduced to everyone at once.

Errors, each attributed to the load it happened in: Streamlit exception or error elements on
the rendered page, HTTP responses >= 400 from the cockpit, console errors and uncaught page
errors, and loads not rendered within TIMEOUT_S.
"""
from __future__ import annotations

import asyncio
import random
import re
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from urllib.parse import urlencode, urlsplit

from dashboard.briefing_export import CHROMIUM, CHROMIUM_ARGS
from tests.e2e.conftest import ERRORS_JS, IDLE_JS

CONFIRM_MS = 300
TIMEOUT_S = 60
# How often a waiting tab checks the idle test. Chromium pays for polling much faster than
# this in every waiting tab (50 ms: ~11 % of a core per tab here, 100 ms: ~1 %), which with 20
# tabs would be the bench measuring itself; a load's time is thus rounded up by < 100 ms.
POLL_MS = 100


@dataclass(frozen=True)
class Dimensions:
    """What filters can be drawn from: the data's last day, streets with their communities,
    and the report categories (read from the database before the run)."""
    first: date
    last: date
    communities: dict[str, str]          # community -> its street
    categories: tuple[str, ...]


@dataclass
class Load:
    user: int
    page: str
    query: dict[str, str]
    how: str                             # "open" (goto the URL) or "navigate" (sidebar link)
    started: float                       # seconds since the run started
    seconds: float | None                # None: not rendered (see errors)
    errors: list[str] = field(default_factory=list)
    probes: int = 0                      # Streamlit's own 404 probes (see PROBE)
    first_visit: bool = False            # the user's first load: an empty browser cache
    prime: bool = False                  # a priming load before the timed window


def draw_filters(rng: random.Random, dims: Dimensions) -> dict[str, str]:
    """One user's filters for one round over the pages: a date range (the app's default last
    30 days, a month, a quarter, a year or the whole history), sometimes a street or a
    community, sometimes a category, sometimes English."""
    q: dict[str, str] = {}
    kind = rng.choice(("default", "month", "quarter", "year", "all"))
    if kind != "default":
        days = {"month": 30, "quarter": 91, "year": 365, "all": (dims.last - dims.first).days}[kind]
        span = max((dims.last - dims.first).days - days, 0)
        start = dims.first + timedelta(days=rng.randint(0, span))
        q["from"], q["to"] = start.isoformat(), min(start + timedelta(days=days), dims.last).isoformat()
    where = rng.random()
    if where < 0.35 and dims.communities:
        community = rng.choice(sorted(dims.communities))
        q["street"], q["community"] = dims.communities[community], community
    elif where < 0.55 and dims.communities:
        q["street"] = rng.choice(sorted(set(dims.communities.values())))
    if rng.random() < 0.4 and dims.categories:
        q["category"] = rng.choice(dims.categories)
    if rng.random() < 0.2:
        q["lang"] = "en"
    return q


def page_url(base: str, page: str, query: dict[str, str]) -> str:
    path = "" if page == "overview" else page
    return f"{base}/{path}" + (f"?{urlencode(query)}" if query else "")


# Streamlit's frontend, opened at a page's own URL (/grid), first probes /grid/_stcore/health
# and /grid/_stcore/host-config, gets 404 and falls back to /_stcore/...: a known Streamlit
# behaviour (github.com/streamlit/streamlit/issues/7074), not a cockpit error. The cockpit's
# page HTML names the app's base so the frontend skips the probe (dashboard/web_assets.py);
# one still seen is counted apart.
PROBE = re.compile(r"^/[a-z_]+/_stcore/(health|host-config)$")


def is_probe(url: str, status: int | None) -> bool:
    """A 404 (or its console echo, status None) of Streamlit's page-relative probe."""
    return status in (None, 404) and bool(PROBE.match(urlsplit(url).path))


class _Watch:
    """What a tab reports between two calls of take(): console errors, page errors, HTTP
    errors from the cockpit (errors), and Streamlit's own 404 probes (probes)."""

    def __init__(self, tab, base: str):
        self.base = base
        self.found: list[str] = []
        self.probes = 0
        tab.on("console", self._console)
        tab.on("pageerror", lambda e: self.found.append(f"page error: {str(e)[:300]}"))
        tab.on("response", self._response)

    def _console(self, m) -> None:
        if m.type != "error":
            return
        url = (m.location or {}).get("url", "")
        if "status of 404" in m.text and is_probe(url, None):
            return                       # the console echo of a probe, counted in _response
        self.found.append(f"console: {m.text[:300]}" + (f" ({url[:200]})" if url else ""))

    def _response(self, r) -> None:
        if r.status < 400 or not r.url.startswith(self.base):
            return
        if is_probe(r.url, r.status):
            self.probes += 1
        else:
            self.found.append(f"HTTP {r.status}: {r.url[:200]}")

    def take(self) -> tuple[list[str], int]:
        out, probes, self.found, self.probes = self.found, self.probes, [], 0
        return out, probes


async def load(tab, url: str) -> tuple[float | None, list[str]]:
    """Open `url` (a new Streamlit session): (seconds from goto to rendered, Streamlit errors
    on the page), or (None, [why])."""
    async def go() -> None:
        await tab.goto(url, wait_until="commit", timeout=TIMEOUT_S * 1000)
    return await _timed(tab, go)


async def navigate(tab, base: str, page: str) -> tuple[float | None, list[str]]:
    """Click the page's link in the sidebar (the same session, its filters kept): seconds from
    the click to rendered. Streamlit changes the path when the new page's run starts, so
    waiting for the path first keeps the old page's idle state from counting."""
    path = "/" + ("" if page == "overview" else page)

    async def click() -> None:
        await tab.click(f'[data-testid="stSidebarNavLink"][href="{base}{path}"]',
                        timeout=TIMEOUT_S * 1000)
        await tab.wait_for_function("p => location.pathname === p", arg=path,
                                    timeout=TIMEOUT_S * 1000, polling=POLL_MS)
    return await _timed(tab, click)


async def _timed(tab, start) -> tuple[float | None, list[str]]:
    t0 = time.perf_counter()
    try:
        await start()
        while True:
            left = TIMEOUT_S - (time.perf_counter() - t0)
            await tab.wait_for_function(IDLE_JS, timeout=max(left, 0.1) * 1000, polling=POLL_MS)
            took = time.perf_counter() - t0
            await tab.wait_for_timeout(CONFIRM_MS)
            if await tab.evaluate(IDLE_JS):
                break
        shown = await tab.evaluate(ERRORS_JS)
    except Exception as e:  # noqa: BLE001 - a timeout or a crashed tab is a measured error
        kind = "timeout" if "Timeout" in type(e).__name__ else type(e).__name__
        return None, [f"{kind} after {time.perf_counter() - t0:.0f} s: {str(e).splitlines()[0][:200]}"]
    return took, [f"on page: {s[:300]}" for s in shown]


async def new_context(browser):
    return await browser.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN")


async def prime(context, base: str, number: int, pages: list[str], dims: Dimensions,
                t_start: float, loads: list[Load]) -> None:
    """A user's first-ever visit in `context` (an empty browser cache): the user's first page
    opened at its URL with the user's filters, timed and checked; the tab is closed after."""
    rng = random.Random(f"prime-{number}")
    tab = await context.new_page()
    try:
        watch = _Watch(tab, base)
        page, query = pages[number % len(pages)], draw_filters(rng, dims)
        started = time.perf_counter() - t_start
        seconds, errors = await load(tab, page_url(base, page, query))
        seen, probes = watch.take()
        loads.append(Load(number, page, query, "open", started, seconds, errors + seen, probes,
                          first_visit=True, prime=True))
    finally:
        await tab.close()


async def user(context, base: str, number: int, pages: list[str], dims: Dimensions,
               t_start: float, deadline: float, think_s: float, loads: list[Load],
               rounds: int | None = None, primed: bool = False) -> None:
    """One user in its browser context: rounds over every page (rotated per user), each round
    with new filters: the first page opened at its URL with the filters in it, the others
    reached through the sidebar; between two pages the user reads for 0.5-1.5 x think_s
    seconds. The user's first load is a first visit unless the context was primed."""
    rng = random.Random(f"user-{number}")
    tab = await context.new_page()
    try:
        watch = _Watch(tab, base)
        k = number % len(pages)
        order = pages[k:] + pages[:k]
        failed = False
        done = 0
        while time.perf_counter() < deadline and (rounds is None or done < rounds):
            done += 1
            query = draw_filters(rng, dims)
            for i, page in enumerate(order):
                if time.perf_counter() >= deadline:
                    break
                started = time.perf_counter() - t_start
                if i == 0 or failed:
                    how, (seconds, errors) = "open", await load(tab, page_url(base, page, query))
                else:
                    how, (seconds, errors) = "navigate", await navigate(tab, base, page)
                failed = seconds is None
                seen, probes = watch.take()
                loads.append(Load(number, page, query, how, started, seconds, errors + seen, probes,
                                  first_visit=not primed and not any(x.user == number for x in loads)))
                pause = rng.uniform(0.5, 1.5) * think_s
                await asyncio.sleep(max(min(pause, deadline - time.perf_counter()), 0))
    finally:
        await tab.close()


async def alone(base: str, pages: list[str], dims: Dimensions) -> list[Load]:
    """One user, one round over every page with no think time: what a page costs at this
    moment when nobody else uses the cockpit (the machine's other load still there)."""
    from playwright.async_api import async_playwright

    loads: list[Load] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            t0 = time.perf_counter()
            context = await new_context(browser)
            await user(context, base, -1, pages, dims, t0, t0 + 3600, 0.0, loads, rounds=1)
        finally:
            await browser.close()
    return loads


async def run_users(base: str, users: int, pages: list[str], dims: Dimensions, minutes: float,
                    think_s: float, first_visits: bool = False) -> tuple[list[Load], float]:
    """`users` tabs in one chromium for `minutes`. Unless `first_visits`, each user's context
    is first primed (prime(): one user after another, before the window). The users then
    arrive spread over the first think time (user i at i / users x think_s), as if each had
    been reading something: not all at the same instant. Loads' `started` counts from the
    window's start (priming loads: from the priming's start). Returns the loads (priming
    first) and the window's length in seconds."""
    from playwright.async_api import async_playwright

    loads: list[Load] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            contexts = [await new_context(browser) for _ in range(users)]
            primed: list[Load] = []
            if not first_visits:
                t_prime = time.perf_counter()
                for i, context in enumerate(contexts):
                    await prime(context, base, i, pages, dims, t_prime, primed)
            t_start = time.perf_counter()
            deadline = t_start + minutes * 60

            async def later(i: int) -> None:
                await asyncio.sleep(i / users * think_s)
                await user(contexts[i], base, i, pages, dims, t_start, deadline, think_s, loads,
                           primed=not first_visits)

            await asyncio.gather(*(later(i) for i in range(users)))
            window = time.perf_counter() - t_start
        finally:
            await browser.close()
    return primed + loads, window
