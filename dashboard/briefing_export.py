"""PNG + one-page PDF of the weekly briefing, per scope, from the real page in real Chromium.

Shared by the CLI (etl/briefing.py) and the browser tests (tests/e2e):

    python -m etl briefing --week 2026-W47 [--community NAME | --all-communities] --out DIR [--db PATH]
                           [--format desktop|phone]

Steps: (1) check the week and scopes against the database; (2) start the real cockpit on a
free localhost port; (3) launch Debian's chromium once via Playwright; (4) per scope open
/briefing?embed=true&week=..&community=.., wait until Streamlit has finished rendering,
grow the viewport to the main container's scrollHeight, save the PNG and a PDF sized to
the content; (5) verify: no exception or error box, the expected charts, a PNG that is not
blank, a PDF of exactly one page, and no request to anything but the cockpit it started.
Any failure exits non-zero naming the scope, and that scope's files are deleted - a
scheduled job never mails a blank or broken briefing.

The browser may talk only to that cockpit (RequestGuard): every other request - an image
or link someone slipped into the data as markup, a font, a tracker - is aborted before it
leaves the machine, and the export fails naming the scope and the URL. The scheduled job
runs inside the office network, so a fetch from it would be a blind request forgery.

`--format phone` captures the same page for forwarding in a WeChat group: a portrait long PNG
1080 px wide (a 540 CSS px viewport at device scale 2, where Streamlit stacks its columns into
one, so text and cards are phone-sized and readable without zooming), no PDF.
"""
from __future__ import annotations

import contextlib
import os
import re
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from dashboard.access import audit
from dashboard.access.identity import Identity
from dashboard.cockpit_server import CockpitError, cockpit
from dashboard.queries.base import FULL_SCOPE, Scope
from dashboard.request_guard import RequestGuard
from etl import codes
from etl.dbfile import REPO_ROOT

CHROMIUM = os.environ.get("COCKPIT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
WIDTH = 1400
# format -> (viewport width in CSS px, device scale factor, also a PDF)
FORMATS = {"desktop": (WIDTH, 1, True), "phone": (540, 2, False)}
PHONE_PX = FORMATS["phone"][0] * FORMATS["phone"][1]    # 1080 px wide image
MAX_PHONE_PX = 16000        # tallest image chromium captures in one piece
RENDER_TIMEOUT_S = 60
MIN_PIXEL_STDDEV = 12.0          # a blank or near-blank capture has almost no variance
WHOLE_STREET = None

# Streamlit is done: connected, script not running, no stale elements or status widget, and
# either an error is on screen or the title and every chart's SVG are there.
_RENDERED_JS = """(expected) => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.getAttribute('data-test-connection-state') !== 'CONNECTED') return false;
  if (app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  if (document.querySelector('[data-testid="stStatusWidget"], [data-stale="true"]')) return false;
  if (document.querySelector('[data-testid="stException"], [data-testid="stAlertContentError"]'))
    return true;
  const charts = [...document.querySelectorAll('[data-testid="stPlotlyChart"]')]
    .filter(c => c.querySelector('.main-svg')).length;
  return !!document.querySelector('h1') && charts >= expected;
}"""
_STATE_JS = """() => ({
  exceptions: [...document.querySelectorAll('[data-testid="stException"]')].map(e => e.innerText),
  errors: [...document.querySelectorAll('[data-testid="stAlertContentError"]')].map(e => e.innerText),
  charts: [...document.querySelectorAll('[data-testid="stPlotlyChart"]')]
            .filter(c => c.querySelector('.main-svg')).length,
  text: (document.querySelector('[data-testid="stMain"]') || document.body).innerText.length,
  height: Math.ceil(Math.max(
      (document.querySelector('[data-testid="stMain"]') || document.body).scrollHeight,
      (document.querySelector('[data-testid="stMainBlockContainer"]') || document.body).scrollHeight)),
})"""


class BriefingError(RuntimeError):
    """A scope's capture failed; the message names the scope and why."""


@dataclass
class Capture:
    scope: str
    png: Path
    pdf: Path | None
    height: int
    seconds: float



@contextlib.contextmanager
def chromium() -> Iterator[object]:
    """Debian's chromium driven by Playwright (playwright's own browsers are not installed here)."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        raise BriefingError(f"{CHROMIUM} not found: apt-get install -y chromium fonts-wqy-microhei")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def wait_rendered(page, expected_charts: int, timeout_s: float = RENDER_TIMEOUT_S) -> None:
    """Block until Streamlit has finished this run (see _RENDERED_JS)."""
    page.wait_for_function(_RENDERED_JS, arg=expected_charts, timeout=timeout_s * 1000,
                           polling=100)


# --- signing the job in ---------------------------------------------------------------------
JOB = Identity(name="briefing job (python -m etl briefing)", scope=FULL_SCOPE, via="service")
JOB_MINUTES = 30


def job_scope(community: str | None) -> Scope:
    """The scope one briefing is rendered under: the whole street as the leader would see it, a
    community exactly as that community's own key would (row-level scope, its quotes only)."""
    if community is None:
        return FULL_SCOPE
    return Scope(communities=(community,), role="community")


@contextlib.contextmanager
def service_sessions() -> Iterator[Callable[[str | None], dict | None]]:
    """With sign-in switched on, `cookie_for(community)` gives a short server-side session for
    that scope (one per scope, all ended afterwards); in open mode it gives None.

    The browser gets its token as the cockpit's session cookie, exactly as a signed-in
    person would; no access key is needed or stored.
    """
    from datetime import timedelta

    from dashboard.access import keys, sessions
    secrets_toml = REPO_ROOT / ".streamlit" / "secrets.toml"
    sso = secrets_toml.exists() and "[auth" in secrets_toml.read_text("utf-8", errors="replace")
    tokens: list[str] = []

    def cookie_for(community: str | None) -> dict | None:
        if not keys.configured() and not sso:
            return None
        token = sessions.start_service(JOB.name, job_scope(community), timedelta(minutes=JOB_MINUTES))
        tokens.append(token)
        return {"name": sessions.COOKIE, "value": token, "sameSite": "Strict"}

    try:
        yield cookie_for
    finally:
        for token in tokens:
            sessions.end(token)


# --- one scope ---------------------------------------------------------------------------
def briefing_url(base: str, week: str, community: str | None) -> str:
    query = {"embed": "true", "week": week}
    if community:
        query["community"] = community
    return f"{base}/briefing?{urllib.parse.urlencode(query)}"


def file_stem(week: str, community: str | None, fmt: str = "desktop") -> str:
    name = community or codes.WHOLE_STREET
    suffix = "" if fmt == "desktop" else f"-{fmt}"
    return f"briefing-{week}-" + re.sub(r'[\\/:*?"<>|\s]+', "_", name) + suffix


def open_briefing(context, base: str, week: str, community: str | None):
    """Start loading one scope's briefing in a new tab; returns at once (the page renders on)."""
    page = context.new_page()
    page.goto(briefing_url(base, week, community), wait_until="commit")
    return page


def capture(page, week: str, community: str | None, out: Path, expected_charts: int,
            guard: RequestGuard | None = None, fmt: str = "desktop") -> Capture:
    """PNG (+ PDF for desktop) of one opened briefing tab; raises BriefingError naming the
    scope on any defect, including a request `guard` blocked for this tab."""
    scope = community or f"whole street ({codes.WHOLE_STREET})"
    width, scale, with_pdf = FORMATS[fmt]
    stem = out / file_stem(week, community, fmt)
    png, pdf = stem.with_suffix(".png"), stem.with_suffix(".pdf")
    started = time.perf_counter()
    try:
        try:
            wait_rendered(page, expected_charts)
        except Exception as exc:  # playwright's TimeoutError: report what *is* on screen
            raise BriefingError(f"[{scope}] did not finish rendering: {page.evaluate(_STATE_JS)}"
                                ) from exc
        height = _check_page(page, scope, expected_charts)
        page.set_viewport_size({"width": width, "height": height})
        wait_rendered(page, expected_charts)
        height = max(height, _check_page(page, scope, expected_charts))
        if height * scale > MAX_PHONE_PX:
            raise BriefingError(f"[{scope}] the page is {height * scale} px tall, more than one image can hold")
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=str(png))
        check_png(png, scope)
        if with_pdf:
            page.emulate_media(media="screen")
            page.pdf(path=str(pdf), width=f"{width}px", height=f"{height + 2}px",
                     print_background=True, margin={"top": "0", "bottom": "0", "left": "0", "right": "0"})
            check_pdf(pdf, scope)
        problem = guard.problem(page) if guard is not None else None
        if problem:
            raise BriefingError(f"[{scope}] {problem}")
    except BaseException as exc:
        for f in (png, pdf):
            f.unlink(missing_ok=True)
        if isinstance(exc, Exception) and not isinstance(exc, BriefingError):
            raise BriefingError(f"[{scope}] {type(exc).__name__}: {str(exc)[:500]}") from exc
        raise
    finally:
        with contextlib.suppress(Exception):
            page.close()
    return Capture(scope, png, pdf if with_pdf else None, height * scale, time.perf_counter() - started)


def _check_page(page, scope: str, expected_charts: int) -> int:
    state = page.evaluate(_STATE_JS)
    if state["exceptions"]:
        raise BriefingError(f"[{scope}] the page raised: {state['exceptions'][0][:500]}")
    if state["errors"]:
        raise BriefingError(f"[{scope}] the page shows an error: {state['errors'][0][:500]}")
    if state["charts"] < expected_charts:
        raise BriefingError(f"[{scope}] {state['charts']} charts rendered, expected {expected_charts}")
    if state["text"] < 50:
        raise BriefingError(f"[{scope}] the page rendered blank")
    return int(state["height"])


def check_png(path: Path, scope: str = "") -> float:
    """The grey-level standard deviation; raises when the image is blank (one colour)."""
    from PIL import Image, ImageStat

    with Image.open(path) as img:
        stddev = ImageStat.Stat(img.convert("L")).stddev[0]
    if stddev < MIN_PIXEL_STDDEV:
        raise BriefingError(f"[{scope}] the PNG is blank (pixel stddev {stddev:.1f})")
    return stddev


def check_pdf(path: Path, scope: str = "") -> int:
    from pypdf import PdfReader

    pages = len(PdfReader(str(path)).pages)
    if pages != 1:
        raise BriefingError(f"[{scope}] the PDF has {pages} pages, expected exactly 1")
    return pages


# --- every scope -------------------------------------------------------------------------
def scopes_for(db: Path, community: str | None, all_communities: bool) -> list[str | None]:
    """The scopes to capture (None = whole street); an unknown community is refused here."""
    from dashboard.queries.briefing import communities

    import duckdb
    con = duckdb.connect(str(db), read_only=True)
    try:
        known = communities(con)
    finally:
        con.close()
    if all_communities:
        return [WHOLE_STREET, *known]
    if community and community not in known:
        raise BriefingError(f"[{community}] no such community in {db}; known: {', '.join(known)}")
    return [community or WHOLE_STREET]


def export(db: Path, week: str, scopes: list[str | None], out: Path,
           fmt: str = "desktop") -> tuple[list[Capture], list[str]]:
    """Capture every scope with one server and one browser; (captures, failure messages)."""
    from dashboard.charts.briefing import EXPECTED_CHARTS

    out.mkdir(parents=True, exist_ok=True)
    done, failed = [], []
    with service_sessions() as cookie_for, cockpit(db, wait=False) as server, \
            chromium() as browser:
        try:
            server.wait()               # the browser launched while the cockpit booted
        except CockpitError as exc:
            raise BriefingError(str(exc)) from exc
        base = server.url
        width, scale, _ = FORMATS[fmt]
        guard = RequestGuard(base)
        contexts = []

        def tab(community: str | None):
            """A tab in a browser context of its own, signed in with that scope's session."""
            context = browser.new_context(viewport={"width": width, "height": 1000},
                                          device_scale_factor=scale, is_mobile=fmt == "phone")
            guard.install(context)
            cookie = cookie_for(community)
            if cookie:
                context.add_cookies([{**cookie, "url": base}])
            contexts.append(context)
            return open_briefing(context, base, week, community)

        # one tab ahead: the next scope loads and renders while this one is captured
        tabs = [tab(scopes[0])]
        for i, community in enumerate(scopes):
            if i + 1 < len(scopes):
                tabs.append(tab(scopes[i + 1]))
            try:
                done.append(capture(tabs[i], week, community, out, EXPECTED_CHARTS, guard, fmt))
                audit.record("briefing_export", actor=JOB, page="briefing", week=week,
                             community=community, format=fmt, scope=job_scope(community).role,
                             files=[p.name for p in (done[-1].png, done[-1].pdf) if p is not None])
            except BriefingError as exc:
                failed.append(str(exc))
        for context in contexts:
            context.close()
    stray = [url for page, url in guard.blocked if page is None]    # e.g. a websocket
    if stray:       # belongs to no tab: no capture of this run can be trusted
        for c in done:
            for f in (c.png, c.pdf):
                if f is not None:
                    f.unlink(missing_ok=True)
        failed += [f"[{c.scope}] discarded: the browser tried to fetch {stray[0]} (blocked)"
                   for c in done]
        done = []
    return done, failed

