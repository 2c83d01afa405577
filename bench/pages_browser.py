"""Browser timing for bench_pages: the real cockpit (dashboard.cockpit_server.cockpit) in
Debian's chromium (dashboard.briefing_export.chromium), from page.goto to fully rendered.

"Fully rendered" is the e2e harness's test (tests/e2e/conftest.py IDLE_JS: connected, the
script finished, nothing stale, every plotly chart drawn, no element still a loading
placeholder). Streamlit loads each element kind's code (plotly.js is 4.7 MB, the data
grid 1.2 MB) on first use and shows a `stSkeleton` until it has; IDLE_JS alone passes in that
moment, before a chart exists, so a page whose charts had not loaded yet counted as rendered.
As in its wait_idle, the state must still hold 300 ms later (a rerun can start right after the
first idle moment); the time recorded is the moment of the check that held, not including
the 300 ms confirmation.
Every load is a new browser context (no cookies, no cached assets): a user opening the page.
"""
from __future__ import annotations

import time
from pathlib import Path

from tests.e2e.conftest import ERRORS_JS, IDLE_JS

# the e2e harness's test already waits for loading placeholders (stSkeleton, stAppSkeleton)
RENDERED_JS = IDLE_JS
assert "stSkeleton" in RENDERED_JS and "stAppSkeleton" in RENDERED_JS, \
    "tests/e2e/conftest.py IDLE_JS no longer waits for loading placeholders"
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
            page.wait_for_function(RENDERED_JS, timeout=TIMEOUT_S * 1000, polling=50)
            took = time.perf_counter() - t0
            page.wait_for_timeout(CONFIRM_MS)
            if page.evaluate(RENDERED_JS):
                break
        errors = page.evaluate(ERRORS_JS)
        if errors:
            raise RuntimeError(f"{url}: {errors[0][:300]}")
        return took
    finally:
        context.close()


def measure(db: Path, pages: list[str], rounds: int, date_from: str | None,
            env: dict[str, str] | None = None) -> dict[str, dict]:
    """Per page, over `rounds` freshly started cockpit servers: "first" = the page's first load on
    that server (its st.cache_data entries cold), "again" = a second load right after (a new user,
    the server's caches warm). Each server is warmed with one load of the data page, so the
    server's own start-up and imports are not counted; the page order rotates per round."""
    from dashboard.briefing_export import chromium
    from dashboard.cockpit_server import cockpit

    query = f"?from={date_from}" if date_from else ""
    out: dict[str, dict] = {p: {"first": [], "again": []} for p in pages}
    with chromium() as browser:
        for i in range(rounds):
            with cockpit(db, env=env) as server:
                load_once(browser, f"{server.url}/data")
                k = i % len(pages)
                for page in pages[k:] + pages[:k]:
                    url = f"{server.url}/{'' if page == 'overview' else page}{query}"
                    first, again = load_once(browser, url), load_once(browser, url)
                    out[page]["first"].append(first)
                    out[page]["again"].append(again)
                    print(f"  browser round {i + 1} {page}: first {first:.2f} s, again {again:.2f} s",
                          flush=True)
    return out
