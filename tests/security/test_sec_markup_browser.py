"""Data is never markup, in real Chromium: every page and the real briefing export over a
database whose every text field carries a payload pointing at a local recording server.

(a) the pages, in a browser that is *not* guarded: the recorder gets no request, the DOM has
    no link, image or formula made from data, and the payload shows literally;
(b) `python -m etl briefing` (its own cockpit and guarded browser): exit 0, the recorder gets
    nothing, the PNG and PDF are written and the PDF's text holds the payload literally;
(c) a briefing page that does try an outside fetch - injected into the tab, or data shown
    unescaped because `md()` was switched off - fails loudly naming the scope and the URL,
    leaves no files, and the request never leaves the browser.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest

from dashboard.app import DEFAULT_PAGE, SECTIONS
from dashboard.charts.briefing import EXPECTED_CHARTS
from dashboard.i18n import t
from dashboard import briefing_export
from dashboard.cockpit_server import cockpit
from dashboard.request_guard import RequestGuard
from tests.e2e.conftest import errors_on, wait_idle
from tests.security import markup_fixture as hostile

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]
WEEK = "2026-W25"         # the fixture's week with due projects, warnings and money
JOINER = "\u2060"

# markup made from data would show up as one of these inside the page
MARKUP_JS = """(port) => {
  const main = document.querySelector('[data-testid="stMain"]') || document.body;
  const sel = `a[href*=":${port}"], img[src*=":${port}"], [src*=":${port}"], .katex,
               [data-testid="stMarkdownContainer"] span[style*="color"],
               [data-testid="stMarkdownContainer"] a[href^="mailto:"]`;
  return [...document.querySelectorAll(sel)].map(e => e.outerHTML.slice(0, 200));
}"""
TEXT_JS = """() => {
  const main = document.querySelector('[data-testid="stMain"]') || document.body;
  const svg = [...document.querySelectorAll('.main-svg')].map(s => s.textContent).join(' ');
  return {text: main.innerText, svg};
}"""


def literal(tag: str, port: int) -> str:
    """The start of a payload as a reader sees it (quotes are cut after ~70 characters)."""
    return f"![x](http://127.0.0.1:{port}/{tag}.png)[link](http://127.0.0.1:{port}/{tag}/l)"


@pytest.fixture(scope="module")
def recorder():
    with hostile.recorder() as server:
        yield server


@pytest.fixture(scope="module")
def port(recorder) -> int:
    return recorder.server_address[1]


@pytest.fixture(scope="module")
def hostile_db(tmp_path_factory, port):
    return hostile.build(tmp_path_factory.mktemp("hostile-browser"), port)


@pytest.fixture(scope="module")
def server(hostile_db):
    with cockpit(hostile_db.path) as s:
        yield s


@pytest.fixture(scope="module")
def chromium(browser):
    """The session's one browser (tests/conftest.py): Playwright's sync API cannot nest."""
    return browser


def run_briefing(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """The real command line, as cron runs it (its own cockpit and browser)."""
    return subprocess.run([sys.executable, "-m", "etl", "briefing", *args], cwd=REPO,
                          env={**os.environ, **(env or {})}, capture_output=True, text=True,
                          timeout=300)


def _pages(community: str) -> list[tuple[str, str]]:
    """(what, path) of every page, plus the community-scoped views that show its name."""
    out = [(name, "/" if name == DEFAULT_PAGE else f"/{name}")
           for names in SECTIONS.values() for name in names]
    q = urllib.parse.urlencode({"community": community})
    out += [("overview+community", f"/?{q}"), ("painpoints+community", f"/painpoints?{q}"),
            ("briefing@week", f"/briefing?{urllib.parse.urlencode({'week': WEEK})}"),
            ("briefing@week+community", f"/briefing?{urllib.parse.urlencode({'week': WEEK, 'community': community})}")]
    return out


# (page, tag) pairs whose payload must show literally: in the text, or in a chart's SVG
EXPECT_TEXT = {"overview": ("painpoint.label", "projects.name", "project_id"),
               "painpoints+community": ("community", "painpoint.label", "painpoint.keyword"),
               "briefing@week": ("painpoint.label", "projects.name", "community"),
               "briefing@week+community": ("community",)}
EXPECT_SVG = {"overview": ("painpoint.label",), "grid": ("grid_reports.category",),
              "funds": ("community",), "projects": ("projects.name",)}
# views drawn only when chosen: (page, the option's label) clicked before the SVG check
CHOOSE = {"funds": t("funds.government", "zh"), "projects": t("projects.gantt", "zh")}


def test_every_page_fetches_nothing_and_shows_the_payload_as_text(chromium, server, recorder,
                                                                    port, hostile_db):
    community = hostile.communities(hostile_db.path)[0]
    context = chromium.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
    requests: list[str] = []
    context.on("request", lambda r: requests.append(r.url))    # not blocked: would really go
    try:
        page = context.new_page()
        for what, path in _pages(community):
            page.goto(server.url + path)
            wait_idle(page, timeout_s=60)
            page.wait_for_timeout(500)            # give a slipped-in image time to load
            assert errors_on(page) == [], what
            assert page.evaluate(MARKUP_JS, port) == [], what
            seen = page.evaluate(TEXT_JS)
            text, svg = seen["text"].replace(JOINER, ""), seen["svg"]
            for tag in EXPECT_TEXT.get(what, ()):
                assert literal(tag, port) in text, f"{what}: {tag}'s payload not shown as text"
            if what in CHOOSE:
                page.locator('[data-testid="stButtonGroup"] button', has_text=CHOOSE[what]).click()
                wait_idle(page, timeout_s=60)
                assert errors_on(page) == [], what
                assert page.evaluate(MARKUP_JS, port) == [], what
                svg = page.evaluate(TEXT_JS)["svg"]
            for tag in EXPECT_SVG.get(what, ()):
                assert f"<img src=http://127.0.0.1:{port}/{tag}/i.png>" in svg, \
                    f"{what}: {tag}'s payload not drawn as text in a chart"
        page.close()
    finally:
        context.close()
    outside = [u for u in requests if not u.startswith(server.url) and not u.startswith("data:")]
    assert outside == []
    assert recorder.hits == []


def test_briefing_export_fetches_nothing_and_prints_the_payload(hostile_db, recorder, port,
                                                               tmp_path, browser):
    communities = hostile.communities(hostile_db.path)
    run = run_briefing("--week", WEEK, "--all-communities", "--out", str(tmp_path),
                       "--db", str(hostile_db.path))
    assert run.returncode == 0, run.stderr
    assert recorder.hits == []
    from pypdf import PdfReader

    for scope in [None, *communities]:
        stem = tmp_path / briefing_export.file_stem(WEEK, scope)
        assert briefing_export.check_png(stem.with_suffix(".png")) > briefing_export.MIN_PIXEL_STDDEV
        text = "".join(p.extract_text() for p in PdfReader(str(stem.with_suffix(".pdf"))).pages)
        flat = re.sub(r"\s+", "", text.replace(JOINER, ""))
        assert re.sub(r"\s+", "", literal("painpoint.label", port)) in flat, scope
        if scope:
            assert re.sub(r"\s+", "", literal("community", port)) in flat, scope


def test_a_briefing_tab_that_fetches_outside_fails_naming_scope_and_url(chromium, server,
                                                                       recorder, port, tmp_path):
    context = chromium.new_context(viewport={"width": briefing_export.WIDTH, "height": 1000})
    guard = RequestGuard(server.url).install(context)
    try:
        # what an image slipped into the page would do, plus a websocket elsewhere
        context.add_init_script(
            f"window.addEventListener('DOMContentLoaded', () => {{"
            f" const i = new Image(); i.src = 'http://127.0.0.1:{port}/injected.png';"
            f" document.body.appendChild(i);"
            f" try {{ new WebSocket('ws://127.0.0.1:{port}/socket'); }} catch (e) {{}} }});")
        tab = briefing_export.open_briefing(context, server.url, WEEK, None)
        with pytest.raises(briefing_export.BriefingError,
                           match=rf"\[whole street.*http://127\.0\.0\.1:{port}/injected\.png"):
            briefing_export.capture(tab, WEEK, None, tmp_path, EXPECTED_CHARTS, guard)
    finally:
        context.close()
    assert list(tmp_path.iterdir()) == []                  # nothing half-made is left
    assert f"ws://127.0.0.1:{port}/socket" in guard.urls()
    assert recorder.hits == []                             # blocked before it left the browser


def test_briefing_export_fails_loudly_when_data_is_shown_unescaped(hostile_db, recorder, port,
                                                                  tmp_path, browser):
    """A regression simulated for real: the cockpit the export starts runs with `md()`
    switched off (a sitecustomize on its PYTHONPATH), so resident text becomes markup."""
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(
        f"import sys\nsys.path.insert(0, {str(REPO)!r})\n"
        "import dashboard.safe\n"
        "dashboard.safe.md = lambda v: '' if v is None else str(v)\n")
    out = tmp_path / "out"
    run = run_briefing("--week", WEEK, "--out", str(out), "--db", str(hostile_db.path),
                       env={"PYTHONPATH": str(hook)})
    err = run.stderr
    assert run.returncode != 0, err
    assert re.search(rf"FAILED: \[whole street.*tried to fetch http://127\.0\.0\.1:{port}/", err), err
    assert list(out.glob("*.p*")) == []
    assert recorder.hits == []
