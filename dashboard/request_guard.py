"""The briefing's browser may reach the cockpit it started and nothing else.

Streamlit pages are drawn in the browser, so anything that slips into a page as markup (an
image or a link in a resident's message, a project name) would make the browser fetch it -
from the server that runs the scheduled export, inside the office network. RequestGuard
aborts every request that is not to the cockpit's origin (http and websocket) before it
leaves the machine and records it per tab, so the export (dashboard.briefing_export) and the browser
tests (tests/e2e) fail naming the URL instead of silently fetching.
"""
from __future__ import annotations

import contextlib
import urllib.parse

LOCAL_SCHEMES = ("data", "blob", "about")   # never leave the browser


class RequestGuard:
    """Lets a browser context reach one origin only (http and websocket); aborts and
    records every other request, per tab, so the capture of that tab can fail naming it.

    Install before the first page opens: `guard = RequestGuard(server.url); guard.install(ctx)`.
    """

    def __init__(self, base_url: str):
        parts = urllib.parse.urlsplit(base_url)
        self.netloc = parts.netloc
        self.blocked: list[tuple[object, str]] = []     # (page or None, url)

    def allowed(self, url: str) -> bool:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme in LOCAL_SCHEMES:
            return True
        return parts.scheme in ("http", "ws") and parts.netloc == self.netloc

    def install(self, context) -> "RequestGuard":
        context.route(lambda url: not self.allowed(url), self._abort)
        context.route_web_socket(lambda url: not self.allowed(url), self._close)
        return self

    def _abort(self, route) -> None:
        page = None
        with contextlib.suppress(Exception):     # a service worker's request has no frame
            page = route.request.frame.page
        self.blocked.append((page, route.request.url))
        route.abort("blockedbyclient")

    def _close(self, ws) -> None:
        self.blocked.append((None, ws.url))
        ws.close()

    def urls(self, page=None) -> list[str]:
        """Blocked URLs of one tab (page), or of all tabs and none (page=None)."""
        return [url for p, url in self.blocked if page is None or p is page]

    def problem(self, page) -> str | None:
        """What is wrong if `page` (or a request of no tab) tried to go elsewhere, naming the URL."""
        urls = self.urls(page) + [url for p, url in self.blocked if p is None]
        if not urls:
            return None
        return (f"the page tried to fetch {urls[0]} ({len(urls)} outside request(s) blocked; "
                f"only the cockpit at {self.netloc} may be reached) - is data shown as markup?")
