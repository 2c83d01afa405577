"""Browser timing for bench_pages: the real cockpit (dashboard.cockpit_server.cockpit) in
Debian's chromium, from the navigation to fully rendered, in the four ways a user meets a page.

"Fully rendered" is the e2e harness's test (tests/e2e/conftest.py IDLE_JS: connected, the
script finished, nothing stale, every plotly chart drawn, no element still a loading
placeholder). Streamlit loads each element kind's code (plotly.js, 1.4 MB as the cockpit sends
it, the data grid 1.2 MB) on first use and shows a `stSkeleton` until it has; IDLE_JS alone passes in that
moment, before a chart exists, so a page whose charts had not loaded yet counted as rendered.
As in its wait_idle, the state must still hold 300 ms later (a rerun can start right after the
first idle moment); the time recorded is the moment of the check that held, not including
the 300 ms confirmation.

Columns (COLUMNS), each over `rounds` freshly started servers, the page order rotated per round:
- first: the page's first load on that server (its query caches cold), in a new browser
  context (an empty browser cache): the figure bench_pages has always shown;
- again: right after, once more in a new context: a first visit to the cockpit (nothing
  cached in the browser) with the server's caches warm;
- returning: a browser profile on disk that opened the cockpit before (a previous day's
  visit: the start page with its charts and the SQL console), chromium started again on it
  and the page opened in its tab: Streamlit's content-hashed files come from the browser's
  HTTP cache (they are sent `immutable, max-age=1 year`) and V8's code cache; the server warm;
- sidebar: within one session, the page reached by its sidebar link from the page before it
  (the common path: a user opens the cockpit once and moves between pages), the server warm.
"""
from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from pathlib import Path

from tests.e2e.conftest import ERRORS_JS, IDLE_JS

# the e2e harness's test already waits for loading placeholders (stSkeleton, stAppSkeleton)
RENDERED_JS = IDLE_JS
assert "stSkeleton" in RENDERED_JS and "stAppSkeleton" in RENDERED_JS, \
    "tests/e2e/conftest.py IDLE_JS no longer waits for loading placeholders"
CONFIRM_MS = 300
TIMEOUT_S = 120
VIEW = {"viewport": {"width": 1400, "height": 1000}, "locale": "zh-CN"}
# key -> column header in docs/BENCHMARKS.md
COLUMNS = {
    "first": "browser, first load (s)",
    "again": "first visit, server warm (s)",
    "returning": "returning visit (s)",
    "sidebar": "from the sidebar (s)",
}
WHY = {
    "first": "the page's first load on a freshly started server, empty browser cache (as before)",
    "again": "a first visit: empty browser cache (new context), server caches warm",
    "returning": "the same browser profile as a previous day's visit, chromium started again, "
                 "page opened in its tab: Streamlit's static files from the browser's cache",
    "sidebar": "moving to the page by its sidebar link within a session (the common path)",
}


def _rendered(page, t0: float, url: str) -> float:
    while True:
        page.wait_for_function(RENDERED_JS, timeout=TIMEOUT_S * 1000, polling=50)
        took = time.perf_counter() - t0
        page.wait_for_timeout(CONFIRM_MS)
        if page.evaluate(RENDERED_JS):
            break
    errors = page.evaluate(ERRORS_JS)
    if errors:
        raise RuntimeError(f"{url}: {errors[0][:300]}")
    return took


def goto(page, url: str) -> float:
    """Seconds from goto to the rendered page; raises on a page error."""
    t0 = time.perf_counter()
    page.goto(url, wait_until="commit")
    return _rendered(page, t0, url)


def load_once(browser, url: str) -> float:
    """Seconds from goto to the rendered page, in a new context (nothing cached)."""
    context = browser.new_context(**VIEW)
    try:
        return goto(context.new_page(), url)
    finally:
        context.close()


def sidebar(page, base: str, name: str) -> float:
    """Seconds from the click on the page's sidebar link to rendered. Streamlit changes the path
    when the new page's run starts, so waiting for it keeps the old page's idle state out."""
    path = "/" + ("" if name == "overview" else name)
    t0 = time.perf_counter()
    page.click(f'[data-testid="stSidebarNavLink"][href="{base}{path}"]', timeout=TIMEOUT_S * 1000)
    page.wait_for_function("p => location.pathname === p", arg=path, timeout=TIMEOUT_S * 1000,
                           polling=50)
    return _rendered(page, t0, base + path)


def returning(pw, profile: Path, url: str) -> float:
    """chromium started on a profile that visited the cockpit before; the page in its tab."""
    from dashboard.briefing_export import CHROMIUM, CHROMIUM_ARGS

    context = pw.chromium.launch_persistent_context(str(profile), executable_path=CHROMIUM,
                                                    args=CHROMIUM_ARGS, **VIEW)
    try:
        page = context.pages[0] if context.pages else context.new_page()
        return goto(page, url)
    finally:
        context.close()


def measure(db: Path, pages: list[str], rounds: int, date_from: str | None,
            env: dict[str, str] | None = None) -> dict[str, dict]:
    """Per page and column (COLUMNS), one sample per freshly started cockpit server. Each server
    is warmed with one load of the data page, so the server's own start-up and imports are not
    counted; the page order rotates per round."""
    from playwright.sync_api import sync_playwright

    from dashboard.briefing_export import CHROMIUM, CHROMIUM_ARGS
    from dashboard.cockpit_server import cockpit

    query = f"?from={date_from}" if date_from else ""
    out: dict[str, dict] = {p: {k: [] for k in COLUMNS} for p in pages}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for i in range(rounds):
                with cockpit(db, env=env) as server:
                    _round(pw, browser, server.url, pages, i, query, out)
        finally:
            browser.close()
    return out


def _round(pw, browser, base: str, pages: list[str], i: int, query: str, out: dict) -> None:
    def url(page: str) -> str:
        return f"{base}/{'' if page == 'overview' else page}{query}"

    load_once(browser, f"{base}/data")
    k = i % len(pages)
    order = pages[k:] + pages[:k]
    for page in order:
        first, again = load_once(browser, url(page)), load_once(browser, url(page))
        out[page]["first"].append(first)
        out[page]["again"].append(again)
        print(f"  browser round {i + 1} {page}: first {first:.2f} s, again {again:.2f} s", flush=True)
    profile = Path(tempfile.mkdtemp(prefix="cockpit-profile-"))
    try:
        for before in ("overview", "sql_console"):       # the previous day's visit
            returning(pw, profile, url(before))
        for page in order:
            out[page]["returning"].append(returning(pw, profile, url(page)))
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    context = browser.new_context(**VIEW)
    try:
        tab = context.new_page()
        start = order[-1] if len(order) > 1 else ("overview" if order[0] != "overview" else "sql_console")
        goto(tab, url(start))
        for page in order:
            out[page]["sidebar"].append(sidebar(tab, base, page))
    finally:
        context.close()
    print(f"  browser round {i + 1}: returning " + ", ".join(
        f"{p} {out[p]['returning'][-1]:.2f}" for p in order) + "; sidebar " + ", ".join(
        f"{p} {out[p]['sidebar'][-1]:.2f}" for p in order), flush=True)


def describe(rounds: int) -> str:
    """The doc text that says what the browser columns are (for bench_pages' section)."""
    cols = "; ".join(f"*{COLUMNS[k]}* = {WHY[k]}" for k in COLUMNS)
    return (f"Browser = the real cockpit (`dashboard/web.py`) in Debian chromium, from the navigation "
            f"(`page.goto` or the sidebar click) to fully rendered (the e2e harness's idle test, made "
            f"strict: no element still waiting for its code, so every chart and table is drawn), over "
            f"{rounds} freshly started servers, each timed once its health check answers: after its "
            f"start-up's keep-warm pass (dashboard/keepwarm.py), which holds every page's street-wide "
            f"opening view (the app's default: no filter in the URL) in the result cache; a view with "
            f"URL filters, such as the two-year view, runs its queries when first opened (read ahead "
            f"from the HTML request, dashboard/prefetch.py); median and spread. "
            f"Columns: {cols}. The ≤ 2.5 s "
            f"budget is checked in every column; a street-office user opens the cockpit once a day "
            f"(a returning visit, a first visit only on a new computer or after clearing the browser) "
            f"and then moves between pages from the sidebar, which is where most page views are. "
            f"Opening a page costs most because each new document runs Streamlit's app code and "
            f"plotly.js (the cockpit's 1.4 MB bundle) again, cached or not (see \"Where a page's browser time goes\").")


def verdict(browser: dict[str, dict], budget: float) -> str:
    """One line per data size: per browser column, how many pages are over the budget."""
    parts = []
    for key, head in COLUMNS.items():
        over = [p for p, cols in browser.items() if cols[key] and statistics.median(cols[key]) > budget]
        parts.append(f"{head.removesuffix(' (s)')}: " + (f"{len(over)} of {len(browser)} pages over "
                     f"({', '.join(over)})" if over else f"all {len(browser)} pages within"))
    return f"Browser ≤ {budget} s per column — " + "; ".join(parts) + "."
