"""The real cockpit in real Chromium: filters, shareable URLs, every page, the briefing export."""
from __future__ import annotations

import subprocess
import sys
import urllib.parse
from pathlib import Path

import duckdb
import pytest

from dashboard.app import DEFAULT_PAGE, SECTIONS
from dashboard.charts.briefing import EXPECTED_CHARTS
from dashboard.queries import briefing as bq
from dashboard import briefing_export, plotlyjs
from dashboard.i18n import t
from dashboard.cockpit_server import cockpit
from dashboard.web_assets import (BASE_OF_PATH, CODE_CACHE_SWITCH, COMPILE_HINT,
                                  PAGES_WITHOUT_CHARTS, chunk)
from etl import briefing as briefing_cli
from dashboard.request_guard import RequestGuard
from tests.e2e.conftest import errors_on, wait_idle

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]

# draws two different Chinese characters and a certainly-missing one with the heading's font:
# a missing CJK font gives the same "tofu" box for all three
GLYPHS_JS = """() => {
  const font = getComputedStyle(document.querySelector('[data-testid="stMain"] h1')).fontFamily;
  const draw = (ch) => {
    const c = document.createElement('canvas'); c.width = c.height = 64;
    const x = c.getContext('2d'); x.fillStyle = '#fff'; x.fillRect(0, 0, 64, 64);
    x.fillStyle = '#000'; x.font = '48px ' + font; x.fillText(ch, 4, 52);
    const d = x.getImageData(0, 0, 64, 64).data; let ink = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i] < 128) ink++;
    return [c.toDataURL(), ink];
  };
  return {font, zh1: draw('治'), zh2: draw('街'), missing: draw('\\u{10FFFD}')};
}"""


def first_metric(page) -> tuple[str, str]:
    return page.evaluate("""() => {
      const m = document.querySelector('[data-testid="stMain"] [data-testid="stMetric"]');
      return [m.querySelector('[data-testid="stMetricLabel"]').innerText,
              m.querySelector('[data-testid="stMetricValue"]').innerText];
    }""")


def pick(page, label: str, option: str | None = None) -> str:
    """Choose an option of the sidebar selectbox `label` (the first real one if not given)."""
    box = page.locator(f'[data-testid="stSidebar"] input[aria-label="{label}"]')
    options = page.locator('[role="option"]')
    # the sidebar is taller than the window: a click while it is still scrolling the box into
    # view only focuses it, so scroll first and click again if the list did not open
    box.scroll_into_view_if_needed()
    for attempt in range(3):
        box.click()
        try:
            options.first.wait_for(timeout=5_000)
            break
        except Exception:
            if attempt == 2:
                raise
            page.keyboard.press("Escape")
    target = options.filter(has_text=option) if option else options.nth(1)
    chosen = target.first.inner_text().strip()
    target.first.click()
    return chosen


def test_overview_filter_changes_a_kpi_and_the_url_restores_it(page, cockpit_url, browser):
    page.goto(cockpit_url + "/")
    wait_idle(page)
    label, before = first_metric(page)
    community = pick(page, "社区")
    page.wait_for_function("(c) => decodeURIComponent(location.search).includes('community=' + c)",
                           arg=community)
    wait_idle(page)
    after = first_metric(page)
    assert after[0] == label and after[1] != before, f"{label} stayed {before} for {community}"
    assert errors_on(page) == []

    shared = page.url
    other = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    other.goto(shared)
    wait_idle(other)
    # a fresh session's first run can start after an idle moment: wait for its first card
    other.locator('[data-testid="stMain"] [data-testid="stMetric"]').first.wait_for()
    wait_idle(other)
    assert first_metric(other) == after
    value = other.locator('[data-testid="stSidebar"] input[aria-label="社区"]').input_value()
    assert value == community
    other.context.close()


# each drawn chart's traces as [declared type, the type plotly.js drew it as]: a trace type
# the cockpit's plotly.js (dashboard/plotlyjs) lacks is drawn as an invisible scatter
TRACE_TYPES_JS = """() => [...document.querySelectorAll('[data-testid="stPlotlyChart"] .js-plotly-plot')]
  .map(gd => (gd.data || []).map((tr, i) => [tr.type || 'scatter', ((gd._fullData || [])[i] || {}).type]))"""


def assert_traces_drawn_as_declared(page, where) -> list:
    """Every trace of every chart on the page is drawn as the type it declares, one the
    cockpit's plotly.js registers; returns the charts' [declared, drawn] lists."""
    charts = page.evaluate(TRACE_TYPES_JS)
    for traces in charts:
        for declared, drawn in traces:
            assert declared == drawn and declared in ("scatter", *plotlyjs.TRACES), (where, traces)
    return charts


@pytest.mark.parametrize("name", [n for names in SECTIONS.values() for n in names])
def test_every_page_renders_without_an_error_element(page, cockpit_url, name):
    """Opened at its own URL, each page renders, with no failed request on the way: the page's
    HTML names the app's base (dashboard/web_assets.py), so Streamlit's frontend does not first
    probe /<page>/_stcore/health and wait 100 ms after its 404 before the websocket opens.
    Its charts are drawn with the cockpit's plotly.js, which registers only the trace types the
    charts use: every trace is drawn as the type it declares, none dropped. The pages web_assets
    gives no early plotly.js (PAGES_WITHOUT_CHARTS) open without a chart, every other page with one."""
    failed, stcore, sockets = [], [], []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.on("request", lambda r: stcore.append(r.url[len(cockpit_url):]) if "/_stcore/" in r.url else None)
    page.on("websocket", lambda ws: sockets.append(ws.url))
    # Streamlit serves the default page at "/" only (its url_path gives "page not found")
    page.goto(f"{cockpit_url}/{'' if name == DEFAULT_PAGE else name}")
    wait_idle(page)
    assert errors_on(page) == []
    assert page.locator('[data-testid="stDialog"]').count() == 0, "page not found dialog"
    assert failed == []
    assert all(path.startswith("/_stcore/") for path in stcore), stcore
    assert sockets and all(url.endswith(":" + cockpit_url.rsplit(":", 1)[1] + "/_stcore/stream")
                           for url in sockets), sockets
    charts = assert_traces_drawn_as_declared(page, name)
    if name in PAGES_WITHOUT_CHARTS:
        assert charts == [], (name, charts)
    else:
        assert charts and all(charts), (name, charts)


@pytest.mark.parametrize("name, view", [("grid", "grid.backlog"), ("grid", "grid.heatmap"),
                                        ("linkage", "linkage.radar")])
def test_each_views_chart_is_drawn_with_its_traces_own_types(page, cockpit_url, name, view):
    """The views a page draws when chosen (pages/grid.py, pages/linkage.py): their charts too
    are drawn with every trace as its own type."""
    page.goto(f"{cockpit_url}/{name}")
    wait_idle(page)
    page.locator('[data-testid="stMain"] button', has_text=t(view, "zh")).first.click()
    page.wait_for_timeout(200)
    wait_idle(page)
    assert errors_on(page) == []
    charts = assert_traces_drawn_as_declared(page, view)
    assert any(declared in ("bar", "heatmap", "scatterpolar") for traces in charts
               for declared, _ in traces), (view, charts)


def test_the_app_base_is_the_page_address_without_its_page(page, cockpit_url):
    """The base script's rule (web_assets.BASE_OF_PATH) in the browser's own JavaScript: a
    prefix a reverse proxy adds stays part of the base."""
    page.goto(cockpit_url + "/sql_console")
    wait_idle(page)
    paths = {"/grid": "/", "/grid/": "/", "/cockpit/grid": "/cockpit/", "/a/b/grid/": "/a/b/"}
    got = page.evaluate(f"ps => ps.map(p => p.replace({BASE_OF_PATH}, ''))", list(paths))
    assert got == list(paths.values())
    assert page.evaluate("() => window.__streamlit.BACKEND_BASE_URL") == cockpit_url + "/"


SKELETON_JS = """() => [...document.querySelectorAll('[data-testid="stSkeleton"]')].map(e => [
  getComputedStyle(e).animationName,
  document.getAnimations().filter(a => a.effect && e.contains(a.effect.target)).length])"""


def test_loading_placeholders_do_not_pulse(page, cockpit_url):
    """While a chart's code is on its way, Streamlit shows a grey placeholder (stSkeleton) whose
    opacity would pulse until the code is there; every page's style stops it (web_assets 6.), so
    a tab that waits draws no frames for it. plotly.js is held back here until the check."""
    held = []
    page.route(f"**/static/js/{chunk('PlotlyChart').name}", lambda route: held.append(route))
    page.goto(cockpit_url + "/grid", wait_until="commit")
    page.wait_for_selector('[data-testid="stSkeleton"]', timeout=60_000)
    placeholders = page.evaluate(SKELETON_JS)
    assert placeholders and all(p == ["none", 0] for p in placeholders), placeholders
    # the rule is that narrow: the same CSS animation runs on another element, not on a placeholder
    kept = page.evaluate("""() => ['stSkeletonElement', 'stMarkdown'].map(id => {
      const d = document.createElement('div'); d.dataset.testid = id;
      d.style.animation = 'pulse-check 750ms infinite'; document.body.appendChild(d);
      return getComputedStyle(d).animationName; })""")
    assert kept == ["none", "pulse-check"]
    for route in held:
        route.continue_()
    page.unroute(f"**/static/js/{chunk('PlotlyChart').name}")
    wait_idle(page)
    assert errors_on(page) == []


PLOTLY = chunk("PlotlyChart")
TRACE = {"categories": "v8,disabled-by-default-v8.compile", "transferMode": "ReportEvents"}


def _plotly_compile(context, url: str) -> dict:
    """Open `url` in a new tab of `context`, wait until it is rendered with no error, and return
    the args V8 traced when it compiled the PlotlyChart module (v8.compileModule)."""
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    events, done = [], []
    cdp.on("Tracing.dataCollected", lambda p: events.extend(p["value"]))
    cdp.on("Tracing.tracingComplete", lambda p: done.append(True))
    cdp.send("Tracing.start", TRACE)
    page.goto(url)
    wait_idle(page)
    assert errors_on(page) == []
    cdp.send("Tracing.end")
    while not done:
        page.wait_for_timeout(50)
    page.close()
    compiled = [e["args"]["data"] for e in events if e.get("name") == "v8.compileModule"
                and e.get("args", {}).get("data", {}).get("url", "").endswith("/" + PLOTLY.name)]
    assert len(compiled) == 1, compiled
    return compiled[0]


@pytest.fixture(scope="module")
def code_cache_url(e2e_db) -> str:
    """A cockpit with web_assets 5. switched on (COCKPIT_V8_CODE_CACHE=1; off by default)."""
    with cockpit(e2e_db, env={CODE_CACHE_SWITCH: "1"}) as server:
        yield server.url


def test_plotly_js_comes_from_v8s_code_cache_on_later_documents(browser, code_cache_url, tmp_path):
    """A browser profile on disk (a user's everyday Chrome): the first documents compile
    plotly.js, then V8 reads it from its code cache instead (web_assets 5.: plotly.js is sent
    with a charset Chromium does not stream, the streaming compile never reads the cache)."""
    context = browser.browser_type.launch_persistent_context(
        str(tmp_path / "profile"), executable_path=briefing_export.CHROMIUM,
        args=briefing_export.CHROMIUM_ARGS, viewport={"width": 1400, "height": 1000}, locale="zh-CN")
    try:     # no RequestGuard here: a routed (intercepted) response gets no code cache
        first = _plotly_compile(context, code_cache_url + "/grid")
        assert first["streamed"] is False and "encoding" in first["notStreamedReason"]
        assert not first.get("consumedCacheSize")           # nothing cached yet
        # Chromium writes the cache after the second run, in the background: a few more documents
        later = [_plotly_compile(context, code_cache_url + "/painpoints") for _ in range(4)]
        consumed = [c.get("consumedCacheSize", 0) for c in later]
        assert consumed[-1] > 1_000_000, consumed            # plotly.js compiled is MBs
        assert not any(c.get("cacheRejected") for c in later)
    finally:
        context.close()


def test_plotly_js_reaches_v8_as_its_own_characters(browser, code_cache_url):
    """Sent with another charset, the module is still decoded as UTF-8 (HTML standard): V8's
    source of the PlotlyChart chunk is the file's text, every non-ASCII character intact."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
    guard = RequestGuard(code_cache_url).install(context)
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    scripts = {}
    cdp.on("Debugger.scriptParsed", lambda p: scripts.setdefault(p["url"], p["scriptId"]))
    cdp.send("Debugger.enable")
    page.goto(code_cache_url + "/grid")
    wait_idle(page)
    assert errors_on(page) == [] and not guard.blocked
    script = next(sid for url, sid in scripts.items() if url.endswith("/" + PLOTLY.name))
    source = cdp.send("Debugger.getScriptSource", {"scriptId": script})["scriptSource"]
    expected = (COMPILE_HINT + plotlyjs.chunk_bytes(PLOTLY.read_bytes())).decode("utf-8")
    assert any(ord(ch) > 127 for ch in expected)
    assert source == expected
    context.close()


def _week(db) -> str:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return bq.default_week(con)
    finally:
        con.close()


def test_briefing_export_png_pdf_and_chinese_glyphs(e2e_db, tmp_path, page, cockpit_url):
    week = _week(e2e_db)
    # the real command line, as cron runs it (its own cockpit and browser)
    run = subprocess.run([sys.executable, "-m", "etl", "briefing", "--week", week,
                          "--out", str(tmp_path), "--db", str(e2e_db)],
                         cwd=REPO, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    png = tmp_path / f"{briefing_export.file_stem(week, None)}.png"
    pdf = tmp_path / f"{briefing_export.file_stem(week, None)}.pdf"
    assert briefing_export.check_png(png) > briefing_export.MIN_PIXEL_STDDEV
    assert briefing_export.check_pdf(pdf) == 1

    page.goto(briefing_export.briefing_url(cockpit_url, week, None))
    briefing_export.wait_rendered(page, EXPECTED_CHARTS)
    glyphs = page.evaluate(GLYPHS_JS)
    assert glyphs["zh1"][1] > 50 and glyphs["zh2"][1] > 50, "Chinese glyphs drew no ink"
    assert glyphs["zh1"][0] != glyphs["zh2"][0], f"tofu: 治 and 街 look the same in {glyphs['font']}"
    assert glyphs["zh1"][0] != glyphs["missing"][0], "治 is drawn as the missing-glyph box"
    fonts = page.evaluate("document.fonts.check('16px \"WenQuanYi Micro Hei\"')")
    assert fonts


def test_briefing_export_fails_loudly_naming_the_scope(browser, cockpit_url, tmp_path):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    tab = briefing_export.open_briefing(context, cockpit_url, "2026-W99", None)   # the page shows an error
    with pytest.raises(briefing_export.BriefingError, match=r"\[whole street.*error"):
        briefing_export.capture(tab, "2026-W99", None, tmp_path, EXPECTED_CHARTS)
    assert list(tmp_path.iterdir()) == []                  # no half-made files left behind
    context.close()


def test_briefing_cli_refuses_an_unknown_community(e2e_db, tmp_path, capsys):
    rc = briefing_cli.main(["--week", "2026-W01", "--community", "不存在社区", "--out", str(tmp_path),
                        "--db", str(e2e_db)])      # refused before any browser starts
    assert rc != 0 and "不存在社区" in capsys.readouterr().err


def test_briefing_url_round_trip():
    url = briefing_export.briefing_url("http://h:1", "2026-W47", "东湖 社区")
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    assert query == {"embed": ["true"], "week": ["2026-W47"], "community": ["东湖 社区"]}


def test_sql_console_runs_a_query_next_to_the_dashboards_connection(page, cockpit_url):
    page.goto(f"{cockpit_url}/")            # the dashboard opens its own connection first
    wait_idle(page)
    page.goto(f"{cockpit_url}/sql_console")
    wait_idle(page)
    page.get_by_role("button", name="运行").click()
    page.locator('[data-testid="stDataFrame"]').wait_for(timeout=30_000)
    wait_idle(page)
    assert errors_on(page) == []


def test_sql_console_csv_download_is_built_on_click_with_bom_and_escaped_formulas(page, cockpit_url,
                                                                               tmp_path):
    """The export bytes are made only when the button is clicked (a callable), and what
    reaches the user's disk is UTF-8 with BOM with formulas made inert."""
    page.goto(f"{cockpit_url}/sql_console")
    wait_idle(page)
    editor = page.locator('[data-testid="stTextArea"] textarea')
    editor.fill("SELECT '=HYPERLINK(\"http://x\")' AS 公式, '清河街道' AS 街道, 42 AS n")
    editor.press("Control+Enter")            # commit the text area before the click
    wait_idle(page)
    page.get_by_role("button", name="运行").click()
    page.locator('[data-testid="stDataFrame"]').wait_for(timeout=30_000)
    wait_idle(page)
    with page.expect_download(timeout=30_000) as info:
        page.locator('[data-testid="stDownloadButton"] button').first.click()
    saved = tmp_path / "query.csv"
    info.value.save_as(saved)
    data = saved.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    assert text.splitlines()[0] == "公式,街道,n"
    assert text.splitlines()[1].startswith("\"'=HYPERLINK(") and text.splitlines()[1].endswith(",清河街道,42")
    assert errors_on(page) == []
