"""dashboard/prefetch.py: a page's first queries read ahead when its HTML is asked for.

Fast: which request paths are pages, the bounded queue, the switch, the opening filters equal to
the sidebar's, each page's plan covering what the page computes on opening (the page then
computes nothing more), the visitor's scope (an unknown session reads nothing, a scoped session
reads only its scope and exactly the page's reads) and no audit row. Slow: a real server that,
after a GET of a page's HTML, holds the page's reads in its result cache.
"""
from __future__ import annotations

import re
import threading
import time
import urllib.request
from datetime import date
from pathlib import Path

import pytest
from pages_fixture import app

from dashboard import cache, cockpit_server, prefetch
from dashboard.access import audit, keys, sessions
from dashboard.queries.base import FULL_SCOPE, Scope, use_scope
from sweep import case, left_to_full_run

URL = {"from": "2026-05-01", "to": "2026-06-30", "community": "春晖社区"}


def sign_in(at, key: str):
    at.text_input(key="auth_key").input(key)
    at.button(key="auth_submit").click()
    return at.run()


# --- which requests are pages ------------------------------------------------------------------
def test_a_pages_html_request_maps_to_its_page_and_nothing_else_does():
    assert prefetch.job_for("/").page == "overview"
    assert prefetch.job_for("/grid", "from=2026-05-01&community=%E6%98%A5%E6%99%96%E7%A4%BE%E5%8C%BA") == \
        prefetch.Job("grid", (("from", "2026-05-01"), ("community", "春晖社区")), None)
    assert prefetch.job_for("/painpoints/").page == "painpoints"
    for path in ("/_stcore/health", "/_stcore/stream", "/static/js/index.abc.js", "/favicon.png",
                 "/media/x.png", "/grid/_stcore/health", "/sql_console", "/data", "/audit",
                 "/explore", "/no_such_page"):
        assert prefetch.job_for(path) is None, path
    # the session cookie's token travels with the job; other cookies do not
    job = prefetch.job_for("/funds", "", "theme=dark; cockpit_session=tok123")
    assert job.token == "tok123" and prefetch.job_for("/funds", "", "theme=dark").token is None
    # a repeated name: the last value, as st.query_params reads it
    assert dict(prefetch.job_for("/", "lang=zh&lang=en").query) == {"lang": "en"}


def test_every_plan_is_a_page():
    pages = {p.stem for p in (Path(__file__).resolve().parents[1] / "pages").glob("*.py")}
    assert set(prefetch.PLANS) <= pages
    assert prefetch.START_PAGE == "overview"


def test_the_middleware_queues_a_pages_html_get_and_passes_every_request_on(site, monkeypatch,
                                                                             run_async):
    queued: list = []
    monkeypatch.setattr(prefetch, "submit", lambda job: queued.append(job) or True)
    passed: list = []

    async def inner(scope, receive, send):
        passed.append(scope)
    middleware = prefetch.Prefetch(inner)

    def call(method: str, path: str, query: bytes = b"", headers=()):
        scope = {"type": "http", "method": method, "path": path, "query_string": query,
                 "headers": list(headers)}
        run_async(middleware(scope, None, None))
        assert passed[-1] is scope                  # on to the app, the very same request
    call("GET", "/grid", b"from=2026-05-01", [(b"cookie", b"cockpit_session=tok")])
    call("GET", "/static/js/index.abc.js")
    call("POST", "/grid")
    call("HEAD", "/funds")
    assert queued == [prefetch.Job("grid", (("from", "2026-05-01"),), "tok"), None]
    run_async(middleware({"type": "websocket", "path": "/_stcore/stream", "headers": []}, None, None))
    monkeypatch.setenv(prefetch.SWITCH, "0")
    call("GET", "/grid")
    assert len(queued) == 2 and len(passed) == 6


# --- the queue, its bound and the switch -------------------------------------------------------
def test_the_queue_holds_four_jobs_and_drops_the_next(site, monkeypatch):
    monkeypatch.setattr(prefetch, "_start_worker", lambda: None)      # nobody takes jobs off
    jobs = [prefetch.Job("grid", (("from", f"2026-05-0{i}"),)) for i in range(1, 7)]
    assert [prefetch.submit(j) for j in jobs] == [True, True, True, True, False, False]
    assert prefetch._jobs.qsize() == prefetch.SLOTS == 4
    assert not prefetch.submit(None)


def test_cockpit_prefetch_0_turns_it_off(site, monkeypatch):
    started = []
    monkeypatch.setattr(prefetch, "_start_worker", lambda: started.append(1))
    monkeypatch.setenv(prefetch.SWITCH, "0")
    assert not prefetch.enabled()
    assert not prefetch.submit(prefetch.Job("grid"))
    assert prefetch._jobs.qsize() == 0 and not started
    monkeypatch.setenv(prefetch.SWITCH, "1")
    assert prefetch.enabled() and prefetch.submit(prefetch.Job("grid")) and started


def test_the_worker_runs_jobs_and_a_failing_job_is_logged_and_swallowed(site, monkeypatch, caplog):
    ran: list[str] = []
    done = threading.Event()

    def run(job):
        ran.append(job.page)
        if job.page == "grid":
            raise RuntimeError("disk on fire")
        done.set()
        return True
    monkeypatch.setattr(prefetch, "run", run)
    monkeypatch.setattr(prefetch, "_worker", None)
    caplog.set_level("WARNING", logger="dashboard.prefetch")
    monkeypatch.setattr(prefetch.log, "propagate", True)     # Streamlit's loggers do not propagate
    assert prefetch.submit(prefetch.Job("grid")) and prefetch.submit(prefetch.Job("funds"))
    assert done.wait(30)
    prefetch._jobs.join()
    assert ran == ["grid", "funds"]
    assert "read-ahead of page grid failed" in caplog.text and "disk on fire" in caplog.text
    assert prefetch._worker.daemon and prefetch._worker.is_alive()


# --- the filters: the sidebar's own -----------------------------------------------------------
# the fast loop keeps the case that exercises every rule at once (tests/sweep.py left_to_full_run)
@pytest.mark.parametrize("query", [
    case({}, fast=False, id="defaults"),
    case(URL, fast=False, id="community"),
    case({"from": "0001-01-01", "to": "9999-12-31"}, fast=False, id="clamped"),
    case({"from": "2026-06-30", "to": "2026-06-01", "street": "梧桐街道", "community": "没有这个社区",
          "lang": "en"}, fast=True, id="reversed-stale")])
def test_the_opening_filters_are_the_sidebars(site, query):
    at = app("overview", **query)
    assert not at.exception
    with use_scope(FULL_SCOPE):
        assert cache.opening(query).filters == at.session_state["filters"]


# --- each page's plan covers what the page computes on opening ---------------------------------
@pytest.mark.parametrize("page", sorted(prefetch.PLANS))
def test_after_the_read_ahead_the_page_computes_nothing_more(site, computed, page):
    assert prefetch.run(prefetch.Job(page, tuple(URL.items())))
    ahead = list(computed)
    assert ahead, "the read-ahead read nothing"
    computed.clear()
    at = app(page, **URL)
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert computed == [], f"{page} computed what the read-ahead did not: {computed}"
    assert {scope for _, _, scope, _ in ahead} == {FULL_SCOPE}      # open mode: as the page reads


@left_to_full_run
def test_the_briefing_read_ahead_follows_its_week_in_the_url(site, computed):
    query = {"week": "2026-W20"}
    assert prefetch.run(prefetch.Job("briefing", tuple(query.items())))
    assert any(f.date_from == date(2026, 5, 11) for _, f, _, _ in computed)
    computed.clear()
    at = app("briefing", **query)
    assert not at.exception and computed == []


# --- the visitor's scope, and no audit ----------------------------------------------------------
def test_an_unknown_or_missing_session_reads_nothing(site, computed):
    keys.add("leader", "街道主任")                     # keys exist: no more open mode
    for token in (None, "", "not-a-session"):
        assert not prefetch.run(prefetch.Job("overview", (), token))
    assert computed == [] and cache.RESULTS.stats()[0] == 0


def test_an_ended_session_reads_nothing(site, computed):
    record, _ = keys.add("leader", "街道主任")
    token = sessions.start(record)
    sessions.end(token)
    assert not prefetch.run(prefetch.Job("overview", (), token))
    assert computed == []


def test_a_page_the_role_may_not_open_is_not_read(site, computed, monkeypatch):
    record, _ = keys.add("partner", "阳光社工站", party="阳光社工站")
    token = sessions.start(record)
    monkeypatch.setitem(prefetch.PLANS, "audit", lambda f, q: cache.run(cache.common.date_bounds, f))
    assert not prefetch.run(prefetch.Job("audit", (), token))
    assert computed == []


def test_a_scoped_session_reads_its_scope_only_exactly_the_pages_reads_and_no_audit(site, computed):
    record, key = keys.add("community", "春晖社区居委会", communities=["春晖社区"])
    token = sessions.start(record)
    scope = Scope(communities=("春晖社区",), role="community")
    before = audit.entries(site / "audit.jsonl")
    query = {"from": "2026-05-01", "community": "秋实社区"}     # another community: not in its scope
    assert prefetch.run(prefetch.Job("overview", tuple(query.items()), token))
    ahead = list(computed)
    assert ahead and {s for _, _, s, _ in ahead} == {scope}
    # the sidebar drops a community outside the scope, so the read-ahead does too
    assert all(f.community is None for _, f, _, _ in ahead)
    assert audit.entries(site / "audit.jsonl") == before           # a read-ahead is not a view
    # the page, signed in with that key, finds every read it makes already there
    computed.clear()
    at = sign_in(app("overview", **query), key)
    assert not at.exception and at.session_state["scope"] == scope
    assert computed == [], computed
    assert [e["action"] for e in audit.entries(site / "audit.jsonl")][len(before):] == \
        ["sign_in", "page_view"]
    # and what it shows was read for that scope: the same read for everyone differs
    kpis = [(fn, f, args) for fn, f, _, args in ahead if fn.endswith("overview:kpis")][0]
    with use_scope(scope):
        mine = cache.run(cache._resolve(kpis[0]), kpis[1])
    with use_scope(FULL_SCOPE):
        everyone = cache.run(cache._resolve(kpis[0]), kpis[1])
    assert not mine.equals(everyone)


# --- a real server -------------------------------------------------------------------------------
DONE = re.compile(r"read ahead (\w+): (done|nothing to read), (\d+) results computed")


def _read_aheads(server, n: int) -> list[tuple[str, str, int]]:
    """The server's first n read-ahead log lines (page, outcome, results computed), waiting
    for them (no timing asserted: the wait only bounds a broken run)."""
    deadline = time.monotonic() + 60
    while True:
        found = [(p, o, int(c)) for p, o, c in DONE.findall(server.log.read_text(errors="replace"))]
        if len(found) >= n or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


@pytest.mark.slow
def test_a_servers_page_html_request_puts_the_pages_reads_in_its_result_cache(cockpit_db, tmp_path):
    env = {"COCKPIT_ACCESS_DIR": str(tmp_path)}
    with cockpit_server.cockpit(cockpit_db, env=env, args=("--logger.level", "debug")) as server:
        url = f"{server.url}/grid?from=2026-05-01&community=%E6%98%A5%E6%99%96%E7%A4%BE%E5%8C%BA"
        with urllib.request.urlopen(url, timeout=30) as r:
            assert r.status == 200 and b"<html" in r.read().lower()
        first = _read_aheads(server, 1)
        assert first and first[0][:2] == ("grid", "done") and first[0][2] >= 4, first
        # the same page again: every read is in the result cache, nothing is computed
        with urllib.request.urlopen(url, timeout=30) as r:
            r.read()
        again = _read_aheads(server, 2)
        assert again[1] == ("grid", "done", 0), again
        # Streamlit's own requests and assets queue nothing
        for path in ("/_stcore/health", "/_stcore/host-config", "/favicon.png"):
            with urllib.request.urlopen(server.url + path, timeout=30):
                pass
        with urllib.request.urlopen(f"{server.url}/funds", timeout=30) as r:
            r.read()
        assert [p for p, _, _ in _read_aheads(server, 3)] == ["grid", "grid", "funds"]
        assert audit.entries(tmp_path / "audit.jsonl") == []        # no page ran, no view
