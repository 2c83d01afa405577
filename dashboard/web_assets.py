"""Faster page loads in the browser: ASGI middleware in front of Streamlit's own server.

dashboard/web.py runs the cockpit as `st.App("app.py", middleware=[Middleware(FastAssets)])`;
everything else (pages, websocket, uploads, caching headers) stays Streamlit's.

Streamlit 1.67 already sends the right caching headers: its content-hashed files under
/static/ are `public, immutable, max-age=31536000` and index.html is `no-cache` with an ETag
(tests/test_static_cache.py checks both). What a chart page's first load costs is plotly.js
(Streamlit's PlotlyChart chunk, 4.7 MB): the browser asks for it only when the first chart
element arrives over the websocket, then parses and runs it on the main thread before
drawing anything (docs/BENCHMARKS.md, "Where a page's browser time goes"). Seven changes:

1. Start plotly.js early on chart pages. A page's HTML (index.html, served for "/" and for
   every page path such as /grid) gets `<script type="module">import("./static/js/
   PlotlyChart.<hash>.js")</script>`, so the browser fetches, compiles and runs the chunk
   while it connects the websocket and the server runs the page's script, instead of after.
   Pages that open without a chart (PAGES_WITHOUT_CHARTS) do not get it: there it would only
   cost (the explorer draws its chart once an analyst groups a result; the chunk then comes
   as Streamlit fetches it, ~0.15 s less on opening the explorer, docs/BENCHMARKS.md).
2. gzip for Streamlit's static JavaScript and CSS, compressed once per file and kept in
   memory (the chart chunk's 1.4 MB, 7. below, travel as 0.48 MB; all of plotly.js's 4.7 MB
   as 1.4 MB). Streamlit leaves /static/ uncompressed
   because its middleware would compress on every request; here each file is compressed once,
   and the content-hashed names mean the bytes never change while the process runs.
3. V8's explicit compile hint for plotly.js: the PlotlyChart chunk is sent with the comment
   `//# allFunctionsCalledOnLoad` as its first line (the file is otherwise unchanged). V8 then
   compiles the whole chunk eagerly on its background streaming thread while the file arrives,
   instead of function by function on the main thread while plotly.js initialises and draws
   its first chart: ~0.3 s less main-thread time on every new document with a chart, the
   process's total CPU about the same (docs/BENCHMARKS.md, "Where a page's browser time
   goes"). Browsers that do not know the hint read a comment.
4. No probe of a wrong base URL. Opened at a page's own URL (/grid), Streamlit's frontend
   takes the path as a possible base of the app: it asks /grid/_stcore/health and
   /grid/_stcore/host-config first, gets 404, waits 100 ms and asks /_stcore/... (streamlit
   issue 7074), about 0.15 s before the websocket can open on every page opened by its URL
   but the start page. Every page's HTML therefore starts with a script that tells the
   frontend its base (`window.__streamlit.BACKEND_BASE_URL`, Streamlit's own setting for a
   frontend served apart from its server): the page's address without its last segment, so
   a prefix added by a reverse proxy stays part of it (the start page gets no script: its
   address is the base). The frontend then asks only the base it would have fallen back to,
   and the pages resolve as before.
5. V8's code cache for plotly.js. Chromium keeps a compiled copy of a script that a browser
   profile has run in two documents and uses it from the third on instead of compiling again.
   For module scripts (all of Streamlit's chunks) it writes that copy but does not read it
   when it compiles the script while streaming it in off the main thread, which it does for
   every UTF-8 or Latin-1 script (Chromium 156). The PlotlyChart chunk is therefore sent with
   a charset Chromium does not stream (NOT_STREAMED_CHARSET): a module script is decoded as
   UTF-8 whatever its charset says (HTML standard, "fetch a single module script"; the bytes
   stay the file's), so only the streaming stops and the cache is read: from a profile's
   third document with a chart on, ~0.4 s less main-thread time and ~0.9 s less browser CPU
   per page opened. The price: the first two documents compile plotly.js on the main thread
   (~0.4 s more than streamed with the hint of 3.; without streaming the hint changes
   nothing measurable in Chromium, it stays for browsers that stream this chunk), and
   so does every document of a browser without a code cache (a private window, a Playwright
   `new_context()`). docs/BENCHMARKS.md, "V8's code cache for plotly.js", has the figures.
   The content-hashed name makes a new Streamlit build a new script with its own cache entry;
   the page HTML and the websocket are untouched.
   **Off unless `COCKPIT_V8_CODE_CACHE=1`** is set for the server: a first visit (a new
   computer, a private window, the briefing export's browser) would pay ~0.4 s more on every
   chart page, and the ~0.4 s it saves comes only from a profile's third document on; an office
   whose staff open the cockpit daily in their own browser profile gains (docs/OPERATIONS.md).
6. Still loading placeholders. While a page waits for its first messages or for an element's
   code (plotly.js, the data grid), Streamlit shows grey placeholders (stAppSkeleton,
   stSkeleton, stSkeletonElement) whose opacity pulses for as long as they are there. Each
   pulse is a new frame at the display's rate, drawn in software where there is no GPU: with
   many users' tabs loading at once on one machine (bench_users: ten tabs in one Chromium on
   two cores) the pulsing took a fifth to a third of the browser's CPU in the users' arrival,
   and the slower the loads, the longer it pulses. Every page's HTML therefore carries a style that
   stops it (STILL_STYLE): the placeholders stay, without the pulse, as Streamlit itself shows
   them to users who ask their system for reduced motion. docs/BENCHMARKS.md, "Ten users
   arriving at once", has the figures.
7. Only the plotly.js the cockpit draws with. The PlotlyChart chunk is sent with its plotly.js
   module (all of plotly.js: maps, 3D, WebGL, …) swapped for dashboard/plotlyjs's bundle of the
   trace types the cockpit's charts use (1.4 MB instead of 4.7 MB; dashboard/plotlyjs/__init__.py
   says how): every new document with a chart parses and runs a third of the code before its
   first chart. Streamlit's chart element around it is unchanged. The bytes under the chunk's
   content-hashed name are then the cockpit's, not only Streamlit's, so the chunk is sent
   `no-cache` with an ETag instead of `immutable`: a browser that kept the chunk of an older
   bundle (before a trace type was added) revalidates it on each page load and gets the new one;
   an unchanged chunk costs one 304. `COCKPIT_FULL_PLOTLY=1` sends Streamlit's chunk unchanged.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import threading
from pathlib import Path

from streamlit import file_util

from dashboard import plotlyjs

STATIC = Path(file_util.get_static_dir())          # Streamlit's built frontend (index.html)
JS = STATIC / "static" / "js"
# pages (url paths) that open without a plotly chart: no early plotly.js there
# (tests/test_static_cache.py checks this against pages/*.py, tests/e2e/test_browser.py in the browser)
PAGES_WITHOUT_CHARTS = frozenset({"sql_console", "data", "audit", "explore"})
# of those, the pages that draw a chart only when asked (the explorer, for a grouped result)
CHARTS_ON_REQUEST = frozenset({"explore"})
# server paths that are not a page's HTML
NOT_PAGES = ("/_stcore", "/static", "/media", "/component", "/app", "/favicon")
IMMUTABLE = b"public, immutable, max-age=31536000"      # as Streamlit sends for /static/
REVALIDATE = b"no-cache"            # 7. in the docstring: the chunk whose plotly.js is swapped
GZIP_LEVEL = 6
# chunks sent with V8's compile hint (3. in the docstring): plotly.js, compiled eagerly off the main thread
HINTED = ("PlotlyChart",)
COMPILE_HINT = b"//# allFunctionsCalledOnLoad\n"
# 5. in the docstring: chunks sent with a charset Chromium does not stream, so V8's code cache
# serves them from a profile's third document on; any valid charset but UTF-8 and Latin-1 would do
CODE_CACHED = ("PlotlyChart",)
CODE_CACHE_SWITCH = "COCKPIT_V8_CODE_CACHE"     # "1" turns 5. on (off by default)
NOT_STREAMED_CHARSET = b"iso-8859-2"
# 4. in the docstring: the app's base = the page's address without its page segment ("/grid" ->
# "/", "/cockpit/grid" -> "/cockpit/"); runs before Streamlit's module scripts, which read it once
BASE_OF_PATH = r'/[^/]*\/?$/'          # a JavaScript regex: the last segment, with a trailing slash
BASE_SCRIPT = ('<script>window.__streamlit=Object.assign({},window.__streamlit,{BACKEND_BASE_URL:'
               f'location.origin+location.pathname.replace({BASE_OF_PATH},"")}})</script>').encode()
# 6. in the docstring: Streamlit's loading placeholders without their endless opacity pulse
# (Streamlit's own look under prefers-reduced-motion); the placeholders and their children
STILL_TESTIDS = ("stAppSkeleton", "stSkeleton", "stSkeletonElement")
STILL_STYLE = ("<style>" + ",".join(f'[data-testid="{t}"],[data-testid="{t}"] *' for t in STILL_TESTIDS)
               + "{animation:none!important}</style>").encode()
# chunks compressed at start-up (in a thread) so the first visitor does not wait for them
WARM = ("index", "protobuf", "react-dom", "PlotlyChart", "DataFrame", "arrowFormatUtils",
        "StreamlitMarkdown")


def chunk(prefix: str) -> Path | None:
    """Streamlit's built JS chunk named `<prefix>.<hash>.js`, or None if this version has none."""
    found = sorted(JS.glob(f"{prefix}.*.js"))
    return found[0] if len(found) == 1 else None


def chunk_paths(prefixes: tuple[str, ...]) -> frozenset[str]:
    """The /static/ paths of the chunks named by `prefixes` (those this Streamlit has)."""
    return frozenset("/static/js/" + found.name for found in map(chunk, prefixes) if found is not None)


def hinted_paths() -> frozenset[str]:
    """The /static/ paths of the chunks sent with the compile hint."""
    return chunk_paths(HINTED)


def early_plotly_tag() -> bytes:
    """The script that imports the PlotlyChart chunk; empty if Streamlit has no such chunk."""
    found = chunk("PlotlyChart")
    if found is None:
        return b""
    return f'<script type="module">import("./static/js/{found.name}")</script>'.encode()


def page_name(path: str) -> str | None:
    """The page a request path is the HTML of ('' for the start page), or None (an asset, API)."""
    if path.startswith(NOT_PAGES):
        return None
    name = path.strip("/")
    return None if "/" in name or "." in name else name


class FastAssets:
    """ASGI middleware: the app's base URL and still loading placeholders in every page's HTML,
    early plotly.js on chart pages, gzip (cached) for /static/*.js|css, plotly.js with V8's
    compile hint and a charset that lets V8's code cache serve it, and only the trace types
    the cockpit draws."""

    def __init__(self, app, warm: bool = True):
        self.app = app
        self.tag = early_plotly_tag()
        self.files = {"/static/" + p.relative_to(STATIC / "static").as_posix(): p
                      for p in (STATIC / "static").rglob("*")
                      if p.suffix in (".js", ".css") and p.is_file()}
        self.gz: dict[str, bytes] = {}
        self.hinted = hinted_paths()
        # 7. in the docstring: {path: (bytes sent, their ETag)} of the chunk with the cockpit's plotly.js
        self.swapped = self._swap_plotly()
        self.code_cached = (chunk_paths(CODE_CACHED) if os.environ.get(CODE_CACHE_SWITCH) == "1"
                            else frozenset())
        if warm:
            threading.Thread(target=self._warm, daemon=True, name="gzip-warm").start()

    def _swap_plotly(self) -> dict[str, tuple[bytes, bytes]]:
        found = chunk("PlotlyChart")
        if found is None or os.environ.get(plotlyjs.FULL_SWITCH) == "1":
            return {}
        raw = found.read_bytes()
        body = plotlyjs.chunk_bytes(raw)
        if body == raw:         # a chunk of another shape: sent as Streamlit built it
            return {}
        etag = b'W/"' + hashlib.sha256(body).hexdigest()[:32].encode() + b'"'
        return {"/static/js/" + found.name: (body, etag)}

    def _warm(self) -> None:
        for prefix in WARM:
            found = chunk(prefix)
            if found is not None:
                self.compressed("/static/js/" + found.name)

    def body(self, path: str) -> bytes:
        """The bytes sent for a static file: the file, with the compile hint for HINTED chunks."""
        swapped = self.swapped.get(path)
        raw = swapped[0] if swapped else self.files[path].read_bytes()
        return COMPILE_HINT + raw if path in self.hinted else raw

    def compressed(self, path: str) -> bytes:
        body = self.gz.get(path)
        if body is None:            # two first requests may both compress: same bytes, harmless
            body = self.gz[path] = gzip.compress(self.body(path), GZIP_LEVEL, mtime=0)
        return body

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        path, headers = scope["path"], dict(scope["headers"])
        if path in self.files and b"range" not in headers:
            swapped = self.swapped.get(path)
            if swapped and swapped[1] in headers.get(b"if-none-match", b""):
                await self._not_modified(send, swapped[1])
                return
            if b"gzip" in headers.get(b"accept-encoding", b""):
                await self._send(scope, path, send, self.compressed(path), gzipped=True)
                return
            if path in self.hinted or path in self.code_cached or swapped:   # the same without gzip
                await self._send(scope, path, send, self.body(path), gzipped=False)
                return
        page = page_name(path)
        if page is None or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        # the start page ("", maybe under a proxy's prefix: /cockpit) needs no base: its own
        # address is the first base the frontend asks, and the right one
        head = (BASE_SCRIPT if page else b"") + STILL_STYLE
        tail = b"" if page in PAGES_WITHOUT_CHARTS else self.tag
        # index.html (7.9 kB) uncompressed, so the tags can go in: Streamlit gzips /grid but not /
        scope = {**scope, "headers": [(k, v) for k, v in scope["headers"] if k != b"accept-encoding"]}
        await self.app(scope, receive, _Inject(send, head, tail))

    async def _send(self, scope, path: str, send, body: bytes, *, gzipped: bool) -> None:
        kind = b"text/javascript" if path.endswith(".js") else b"text/css"
        charset = NOT_STREAMED_CHARSET if path in self.code_cached else b"utf-8"
        encoding = [(b"content-encoding", b"gzip")] if gzipped else []
        swapped = self.swapped.get(path)
        caching = ([(b"cache-control", REVALIDATE), (b"etag", swapped[1])] if swapped
                   else [(b"cache-control", IMMUTABLE)])
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-type", kind + b"; charset=" + charset), *encoding,
            (b"vary", b"Accept-Encoding"), *caching,
            (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})

    @staticmethod
    async def _not_modified(send, etag: bytes) -> None:
        await send({"type": "http.response.start", "status": 304, "headers": [
            (b"etag", etag), (b"cache-control", REVALIDATE), (b"vary", b"Accept-Encoding")]})
        await send({"type": "http.response.body", "body": b""})


class _Inject:
    """An ASGI `send` that puts `head` right after <head> and `tail` before </head> of a 200
    text/html response."""

    def __init__(self, send, head: bytes, tail: bytes):
        self.send, self.head, self.tail = send, head, tail
        self.start: dict | None = None
        self.body = b""

    async def __call__(self, message) -> None:
        if message["type"] == "http.response.start":
            ctype = dict(message.get("headers", [])).get(b"content-type", b"")
            if message["status"] == 200 and ctype.startswith(b"text/html"):
                self.start = message            # held until the whole body is here
                return
        elif message["type"] == "http.response.body" and self.start is not None:
            self.body += message.get("body", b"")
            if message.get("more_body"):
                return
            body = self.body.replace(b"<head>", b"<head>" + self.head, 1)
            body = body.replace(b"</head>", self.tail + b"</head>", 1)
            headers = [(k, v) for k, v in self.start.get("headers", []) if k != b"content-length"]
            headers.append((b"content-length", str(len(body)).encode()))
            await self.send({**self.start, "headers": headers})
            await self.send({"type": "http.response.body", "body": body})
            return
        await self.send(message)
