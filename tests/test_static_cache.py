"""The cockpit's web server (dashboard/web.py) as a browser meets it: a real server on the
hand-built page database, asked over HTTP for its page HTML and Streamlit's static files.

Caching: hashed static files may be kept a year (immutable), the page HTML must be revalidated
(no-cache + ETag). Speed: chart pages start plotly.js early (dashboard/web_assets.py), pages
without charts do not, static JS/CSS travel gzipped, byte for byte the file when unpacked, and
plotly.js is the file with V8's compile hint as its first line (gzipped or not); every page's
HTML but the start page's tells Streamlit's frontend the app's base (no 404 probe of
/<page>/_stcore/..., tests/e2e/test_browser.py checks it in the browser); every page's HTML
stops the loading placeholders' pulse (tests/e2e/test_browser.py checks that in the browser too).
The PlotlyChart chunk is sent with the cockpit's own plotly.js (dashboard/plotlyjs): revalidated
(no-cache + ETag, 304 when unchanged) instead of immutable, since its bytes are not only Streamlit's.
"""
from __future__ import annotations

import gzip
import os
import re
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from dashboard import cockpit_server, plotlyjs, warmup
from dashboard.web_assets import (BASE_SCRIPT, CHARTS_ON_REQUEST, CODE_CACHE_SWITCH, CODE_CACHED,
                                  COMPILE_HINT, NOT_STREAMED_CHARSET, PAGES_WITHOUT_CHARTS, STATIC,
                                  STILL_STYLE, STILL_TESTIDS, FastAssets, chunk)

REPO = Path(__file__).resolve().parents[1]
PLOTLY = chunk("PlotlyChart")
# the bytes the cockpit sends for it: Streamlit's chunk with the cockpit's plotly.js
SWAPPED = plotlyjs.chunk_bytes(PLOTLY.read_bytes())


@pytest.fixture(scope="module")
def server(cockpit_db, tmp_path_factory) -> cockpit_server.Server:
    env = {"COCKPIT_ACCESS_DIR": str(tmp_path_factory.mktemp("access"))}
    with cockpit_server.cockpit(cockpit_db, env=env) as running:
        yield running


@pytest.fixture(scope="module")
def base(server) -> str:
    return server.url


def get(url: str, gzip_ok: bool = False, headers: dict[str, str] | None = None
        ) -> tuple[int, dict[str, str], bytes]:
    sent = {"Accept-Encoding": "gzip, deflate, br"} if gzip_ok else {}
    req = urllib.request.Request(url, headers={**sent, **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as e:     # urllib raises for a 304
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def entry_chunk() -> str:
    """The file name of Streamlit's entry chunk, which index.html loads as a module script."""
    html = (STATIC / "index.html").read_text("utf-8")
    found = re.findall(r'<script type="module" crossorigin src="\./static/js/([^"]+\.js)">', html)
    assert len(found) == 1, "index.html no longer loads one module script"
    return found[0]


def test_the_cockpit_runs_through_the_web_entry():
    assert cockpit_server.ENTRY == "dashboard/web.py"
    assert PLOTLY is not None, "Streamlit no longer has one PlotlyChart.<hash>.js chunk"


def test_the_server_has_imported_what_pages_need_before_it_answers(server):
    """dashboard/warmup.py runs in the server's start-up: once /_stcore/health answers and before
    any page has run, the server process holds pandas', DuckDB's and pyarrow's native libraries
    (Streamlit's server alone loads none of them) and the page modules."""
    maps = Path(f"/proc/{server.proc.pid}/maps").read_text()
    for library in ("pandas/_libs", "_duckdb", "pyarrow"):
        assert library in maps, f"{library} not loaded by the server's start-up"


def test_the_server_has_opened_the_database_before_it_answers(server, cockpit_db):
    """warmup.warm_database runs in the start-up too: before any page has run, the server
    process holds the database file open (the pages' shared connection), which no import and
    no page HTML request would do."""
    fds = Path(f"/proc/{server.proc.pid}/fd")
    opened = {str(Path(os.readlink(fd)).resolve()) for fd in fds.iterdir() if fd.exists()}
    assert str(cockpit_db.resolve()) in opened, "the database is not opened by the server's start-up"


def test_the_preload_list_follows_the_scripts_imports():
    names = warmup.script_imports()
    for page in sorted((REPO / "pages").glob("*.py")):
        for module in re.findall(r"^from (dashboard\.queries) import (\w+)", page.read_text(), re.M):
            assert ".".join(module) in names, (page.name, module)
    assert "dashboard.queries.projects" in names and "pandas" in names
    assert not any(n.startswith("__future__") for n in names)


def test_page_html_is_revalidated_and_chart_pages_start_plotly_early(base):
    tag = f'import("./static/js/{PLOTLY.name}")'.encode()
    for path in ("/", "/grid", "/painpoints"):
        status, headers, body = get(base + path, gzip_ok=True)
        assert status == 200 and headers["cache-control"] == "no-cache" and headers.get("etag")
        assert "content-encoding" not in headers
        assert body.count(tag) == 1 and body.index(tag) < body.index(b"</head>")
        assert int(headers["content-length"]) == len(body)
    for path in ("/sql_console", "/data"):
        status, headers, body = get(base + path, gzip_ok=True)
        if headers.get("content-encoding") == "gzip":          # Streamlit's own, left as it is
            body = gzip.decompress(body)
        assert status == 200 and b"PlotlyChart" not in body and b'id="root"' in body


def test_page_html_names_the_app_base_before_streamlits_scripts(base):
    for path in ("/grid", "/painpoints", "/sql_console", "/data", "/grid/"):
        status, headers, body = get(base + path, gzip_ok=True)
        assert status == 200 and "content-encoding" not in headers, path
        assert body.count(BASE_SCRIPT) == 1, path
        # a classic script right after <head>: it runs before Streamlit's module scripts read it
        assert body.index(BASE_SCRIPT) == body.index(b"<head>") + len(b"<head>"), path
        assert body.index(BASE_SCRIPT) < body.index(b'<script type="module"'), path
        assert int(headers["content-length"]) == len(body)
    _, headers, body = get(base + "/", gzip_ok=True)
    assert b"BACKEND_BASE_URL" not in body      # the start page's address is the base
    assert int(headers["content-length"]) == len(body)
    _, headers, body = get(base + "/static/js/" + chunk("react-dom").name, gzip_ok=True)
    assert b"BACKEND_BASE_URL" not in gzip.decompress(body)     # assets are not pages


def test_every_page_html_stops_the_loading_placeholders_pulse(base):
    """The style is in <head>, before Streamlit's scripts and after the base script, once, on
    every page (the start page, chart pages, pages without charts), and names each placeholder."""
    assert STILL_TESTIDS == ("stAppSkeleton", "stSkeleton", "stSkeletonElement")
    for testid in STILL_TESTIDS:
        assert f'[data-testid="{testid}"],[data-testid="{testid}"] *'.encode() in STILL_STYLE
    assert STILL_STYLE.endswith(b"{animation:none!important}</style>")
    for path in ("/", "/grid", "/painpoints", "/sql_console", "/data"):
        status, headers, body = get(base + path, gzip_ok=True)
        assert status == 200 and "content-encoding" not in headers, path
        assert body.count(STILL_STYLE) == 1, path
        assert body.index(b"<head>") < body.index(STILL_STYLE) < body.index(b'<script type="module"'), path
        if path != "/":
            assert body.index(BASE_SCRIPT) < body.index(STILL_STYLE), path
        assert int(headers["content-length"]) == len(body), path
    _, _, body = get(base + "/static/js/" + chunk("react-dom").name, gzip_ok=True)
    assert STILL_STYLE not in gzip.decompress(body)         # assets are not pages


def test_hashed_static_files_are_immutable_and_gzipped(base):
    css, react = next((STATIC / "static" / "css").glob("index.*.css")), chunk("react-dom")
    for file in (css, react):
        url, sent = f"{base}/static/{file.parent.name}/{file.name}", file.read_bytes()
        status, headers, body = get(url, gzip_ok=True)
        assert status == 200 and headers["content-encoding"] == "gzip"
        assert headers["cache-control"] == "public, immutable, max-age=31536000"
        assert gzip.decompress(body) == sent and len(body) < file.stat().st_size / 2
        status, headers, body = get(url)               # a client without gzip
        assert status == 200 and "content-encoding" not in headers and body == sent
        assert headers["cache-control"] == "public, immutable, max-age=31536000"
        assert int(headers["content-length"]) == len(sent)


def test_the_plotly_chunk_is_the_cockpits_revalidated_and_gzipped(base):
    """Streamlit's chunk with the cockpit's plotly.js (a third of its size), the compile hint
    first; no-cache with an ETag, and a 304 without a body when the browser's copy is current."""
    assert SWAPPED != PLOTLY.read_bytes() and len(SWAPPED) < PLOTLY.stat().st_size / 3
    sent, url = COMPILE_HINT + SWAPPED, f"{base}/static/js/{PLOTLY.name}"
    status, headers, body = get(url, gzip_ok=True)
    assert status == 200 and headers["content-encoding"] == "gzip"
    assert headers["cache-control"] == "no-cache" and headers["etag"].startswith('W/"')
    assert gzip.decompress(body) == sent and len(body) < len(sent) / 2
    etag = headers["etag"]
    status, headers, body = get(url)                   # a client without gzip: the same bytes
    assert status == 200 and "content-encoding" not in headers and body == sent
    assert headers["cache-control"] == "no-cache" and headers["etag"] == etag
    assert int(headers["content-length"]) == len(sent)
    status, headers, body = get(url, gzip_ok=True, headers={"If-None-Match": etag})
    assert status == 304 and body == b"" and headers["etag"] == etag
    status, _, body = get(url, gzip_ok=True, headers={"If-None-Match": 'W/"0123456789abcdef"'})
    assert status == 200 and gzip.decompress(body) == sent    # an older bundle's copy: the new one


def test_only_plotly_js_carries_the_compile_hint(base):
    """The hint is V8's magic comment on the first line; other chunks are sent as they are."""
    assert COMPILE_HINT == b"//# allFunctionsCalledOnLoad\n"
    other = chunk("react-dom")
    status, _, body = get(f"{base}/static/js/{other.name}", gzip_ok=True)
    assert status == 200 and gzip.decompress(body) == other.read_bytes()
    status, _, body = get(f"{base}/static/js/{PLOTLY.name}", gzip_ok=True)
    assert gzip.decompress(body) == COMPILE_HINT + SWAPPED and SWAPPED.startswith(b"import")


def test_plotly_js_keeps_utf8_unless_the_code_cache_is_switched_on(base):
    """By default every static file is sent as UTF-8 (streamed and compiled off the main thread:
    best for a first visit); web_assets 5. is off unless COCKPIT_V8_CODE_CACHE=1."""
    for name in (PLOTLY.name, chunk("react-dom").name, entry_chunk()):
        _, headers, _ = get(f"{base}/static/js/{name}", gzip_ok=True)
        assert headers["content-type"] == "text/javascript; charset=utf-8", name


def _asgi_get(run_async, middleware, path: str, gzip_ok: bool) -> tuple[dict[bytes, bytes], bytes]:
    """One GET through the middleware alone (no server), as uvicorn would call it."""
    sent = []

    async def app(scope, receive, send):       # Streamlit behind the middleware: never reached here
        raise AssertionError(f"{path} was not answered by the middleware")

    async def send(message):
        sent.append(message)

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    headers = [(b"accept-encoding", b"gzip")] if gzip_ok else []
    scope = {"type": "http", "method": "GET", "path": path, "headers": headers, "query_string": b""}
    run_async(middleware(app)(scope, receive, send))
    return dict(sent[0]["headers"]), b"".join(m.get("body", b"") for m in sent[1:])


def test_plotly_js_is_sent_with_a_charset_chromium_does_not_stream_when_switched_on(monkeypatch,
                                                                                      run_async):
    """Switched on, its bytes stay the file's (module scripts are decoded as UTF-8 whatever the
    charset); only Chromium's off-thread streaming stops, so V8's code cache is read (web_assets
    5., tests/e2e/test_browser.py checks both in the browser). Other files keep UTF-8."""
    assert CODE_CACHED == ("PlotlyChart",)
    # any valid label but UTF-8 and Latin-1, the encodings Chromium streams
    assert NOT_STREAMED_CHARSET.decode().lower() not in ("utf-8", "utf8", "iso-8859-1", "latin1",
                                                         "windows-1252", "us-ascii")
    assert "x".encode(NOT_STREAMED_CHARSET.decode()) == b"x"      # Python knows the label
    monkeypatch.setenv(CODE_CACHE_SWITCH, "1")
    middleware = lambda app: FastAssets(app, warm=False)        # noqa: E731
    for gzip_ok in (True, False):
        headers, body = _asgi_get(run_async, middleware, f"/static/js/{PLOTLY.name}", gzip_ok)
        assert headers[b"content-type"] == b"text/javascript; charset=" + NOT_STREAMED_CHARSET
        assert (gzip.decompress(body) if gzip_ok else body) == COMPILE_HINT + SWAPPED
        assert headers[b"cache-control"] == b"no-cache"
    for other in (chunk("react-dom").name, entry_chunk()):
        headers, _ = _asgi_get(run_async, middleware, f"/static/js/{other}", True)
        assert headers[b"content-type"] == b"text/javascript; charset=utf-8", other


def test_streamlits_chunks_are_module_scripts():
    """web_assets 5. relies on the PlotlyChart chunk being an ES module (always UTF-8 decoded):
    index.html loads Streamlit's entry as a module, which imports the chunk; it has imports."""
    entry = STATIC / "static" / "js" / entry_chunk()
    assert PLOTLY.name in entry.read_text("utf-8")
    assert PLOTLY.read_bytes().startswith(b"import")


def test_the_whole_plotly_js_when_switched_on(monkeypatch, run_async):
    """COCKPIT_FULL_PLOTLY=1: Streamlit's chunk as built (immutable), for comparisons."""
    monkeypatch.setenv(plotlyjs.FULL_SWITCH, "1")
    for gzip_ok in (True, False):
        headers, body = _asgi_get(run_async, lambda app: FastAssets(app, warm=False),
                                  f"/static/js/{PLOTLY.name}", gzip_ok)
        assert (gzip.decompress(body) if gzip_ok else body) == COMPILE_HINT + PLOTLY.read_bytes()
        assert headers[b"cache-control"] == b"public, immutable, max-age=31536000"
        assert b"etag" not in headers


def test_pages_without_charts_are_the_pages_that_draw_none():
    pages = {p.stem: p.read_text("utf-8") for p in (REPO / "pages").glob("*.py")}
    assert PAGES_WITHOUT_CHARTS <= pages.keys()
    for name, src in pages.items():
        draws = bool(re.search(r"plotly_chart|\bchart\(", src))
        assert draws == (name not in PAGES_WITHOUT_CHARTS or name in CHARTS_ON_REQUEST), name
    assert CHARTS_ON_REQUEST <= PAGES_WITHOUT_CHARTS
