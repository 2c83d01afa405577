"""Keeping the street-wide opening views warm: every page's first reads, ready before anyone asks.

A leader's glance is the street-wide view each page opens with (no filter in the URL). Without
this, the first visit after a restart, after the night's load or after the result cache's TTL
lapsed (dashboard.cache, 10 minutes by default) ran the page's first queries while the leader
waited (0.4-1.1 s at 10M grid reports, on top of the browser's own ~2 s). `KeepWarm` is one
daemon thread that runs every page's read-ahead plan (dashboard/prefetch.py `read_ahead`, the
very `cache.run` calls each page makes first) as the whole street sees it, with the opening
filters:

- once when the server starts (dashboard/web.py's lifespan, before /_stcore/health answers,
  waiting at most START_WAIT_S for it);
- within POLL_S seconds of a load publishing a new file version (it polls `db.identity()`);
- and again before the pass's results expire: each pass runs inside
  `ResultCache.renewing(window)`, so a result with less than `window` seconds of life left is
  computed afresh for this thread while every visitor keeps the stored one until it is replaced.
  Results a visitor stored recently are younger than that and are left alone.

Scope: FULL_SCOPE only - open mode and the leader role (`Scope(role="leader")` is FULL_SCOPE).
Analysts, communities and partners read under their own scopes, keyed apart in the result cache,
as before; nothing here widens what anyone sees, and no other scope's results are computed.
No audit row (nobody viewed anything). Cost: one pass is the eight pages' opening queries
(2.4 s of CPU at 10M grid reports, 1.2 s at 1M) per load and every ~9 minutes; the results it
keeps count against the result cache's bounds like any other. A failing page plan is logged and
the pass goes on.
`COCKPIT_KEEP_WARM=0` turns it off (default on). docs/ARCHITECTURE.md, "Keeping the opening
views warm".
"""
from __future__ import annotations

import os
import threading
import time

from streamlit.logger import get_logger

from dashboard import cache, db, prefetch
from dashboard.access.identity import OPEN

SWITCH = "COCKPIT_KEEP_WARM"    # "0" turns it off
POLL_S = 5.0                    # how often the thread looks for a new file version
START_WAIT_S = 30.0             # how long the server's start waits for the first pass at most
RENEW_S = 120.0                 # renew results with less life left than this (at most TTL / 2)
WHOLE_STREET = OPEN             # FULL_SCOPE, role leader: may open every page with a plan
log = get_logger(__name__)


def enabled() -> bool:
    return os.environ.get(SWITCH, "1").strip() != "0"


def renew_window(ttl_s: float | None = None) -> float:
    """Seconds of life below which a pass renews a result."""
    ttl = cache.CACHE_TTL_S if ttl_s is None else ttl_s
    return min(RENEW_S, ttl / 2)


def period(ttl_s: float | None = None) -> float:
    """Seconds between scheduled passes: the previous pass's results then have less than
    half the renew window left, so the next pass renews them before they lapse."""
    ttl = cache.CACHE_TTL_S if ttl_s is None else ttl_s
    return max(POLL_S, ttl - renew_window(ttl) / 2)


def warm_pass() -> int:
    """Every page's opening reads for the whole street, renewing what is about to expire;
    returns the results computed meanwhile (by this pass, or a visitor at the same time)."""
    before = cache.RESULTS.computed
    with cache.RESULTS.renewing(renew_window()):
        for page in prefetch.PLANS:
            try:
                prefetch.read_ahead(WHOLE_STREET, page, {})
            except Exception:  # noqa: BLE001 - warming is an optimisation: the page reads anyway
                log.warning("keep-warm of page %s failed", page, exc_info=True)
    return cache.RESULTS.computed - before


class KeepWarm:
    """The thread: a pass at start, on every new file version and every `period()` seconds."""

    def __init__(self) -> None:
        self.passes = 0
        self.first_pass = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="keep-warm")

    def start(self, wait_s: float = START_WAIT_S) -> "KeepWarm":
        self._thread.start()
        self.first_pass.wait(wait_s)
        return self

    def stop(self, wait_s: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(wait_s)

    def _loop(self) -> None:
        seen: object = object()                 # no file version seen yet
        last = float("-inf")
        while not self._stop.is_set():
            try:
                ident = db.identity()
                if ident != seen or time.monotonic() - last >= period():
                    seen, last = ident, time.monotonic()    # a load during the pass: next poll
                    try:
                        computed = warm_pass()
                        (log.info if computed else log.debug)(
                            "keep-warm pass: %d results computed, %.2f s", computed,
                            time.monotonic() - last)
                    finally:
                        self.passes += 1
                        self.first_pass.set()
            except Exception:  # noqa: BLE001 - never let the thread die (tried again next poll)
                log.warning("keep-warm pass failed", exc_info=True)
            self._stop.wait(POLL_S)


def start(wait_s: float = START_WAIT_S) -> KeepWarm | None:
    """Start keeping warm (dashboard/web.py's lifespan), waiting at most `wait_s` for the first
    pass; None when switched off."""
    if not enabled():
        return None
    return KeepWarm().start(wait_s)
