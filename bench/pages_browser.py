"""Browser timing for bench_pages: the real cockpit (dashboard.cockpit_server.cockpit) in
Debian's chromium (dashboard.briefing_export.chromium), from page.goto to fully rendered.

"Fully rendered" is the e2e harness's test (tests/e2e/conftest.py IDLE_JS): connected, the
script finished, nothing stale, every plotly chart drawn. As in its wait_idle, the idle state
must still hold 300 ms later (a rerun can start right after the first idle moment); the time
recorded is the moment of the idle check that held, not including the 300 ms confirmation.
Every load is a new browser context (no cookies, no cached assets): a user opening the page.
"""
from __future__ import annotations

import time
from pathlib import Path

from tests.e2e.conftest import ERRORS_JS, IDLE_JS

CONFIRM_MS = 300
TIMEOUT_S = 120


def load_once(browser, url: str) -> float:
    """Seconds from goto to the rendered page, in a new context; raises on a page error."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
    try:
        page = context.new_page()
        t0 = time.perf_counter()
        page.goto(url, wait_until="commit")
        while True:
            page.wait_for_function(IDLE_JS, timeout=TIMEOUT_S * 1000, polling=50)
            took = time.perf_counter() - t0
            page.wait_for_timeout(CONFIRM_MS)
            if page.evaluate(IDLE_JS):
                break
        errors = page.evaluate(ERRORS_JS)
        if errors:
            raise RuntimeError(f"{url}: {errors[0][:300]}")
        return took
    finally:
        context.close()


def measure(db: Path, pages: list[str], reps: int, date_from: str | None) -> dict[str, dict]:
    """Per page: the first load after the server started (its caches cold) and `reps` later loads
    (new browser contexts; the server's caches warm). The server is started once and warmed
    with one load of the default page, so its own start-up is not counted."""
    from dashboard.briefing_export import chromium
    from dashboard.cockpit_server import cockpit

    query = f"?from={date_from}" if date_from else ""
    out: dict[str, dict] = {}
    with cockpit(db, wait=False) as server, chromium() as browser:
        server.wait()
        load_once(browser, f"{server.url}/sql_console")       # the server's imports, the fonts
        for page in pages:
            url = f"{server.url}/{'' if page == 'overview' else page}{query}"
            out[page] = {"first": load_once(browser, url),
                         "loads": [load_once(browser, url) for _ in range(reps)]}
            print(f"  browser {page}: first {out[page]['first']:.2f} s, then "
                  + ", ".join(f"{x:.2f}" for x in out[page]["loads"]), flush=True)
    return out
