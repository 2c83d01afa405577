"""dashboard/keepwarm.py: every page's street-wide opening reads kept in the result cache.

Fast: after a pass each page, opened with no filter in the URL, computes nothing more for the whole
street (open mode, and a signed-in leader), while a community's session still computes its own
reads; a pass renews what is about to expire while visitors keep the stored result; a failing
page; no database; the switch. Slow (a thread polling, or a server): a new
file version is warmed without a visitor, the thread renews before the TTL lapses, the server's
lifespan runs the first pass before it answers and stops the thread, and a real server's first
read-ahead after its health check computes nothing.
"""
from __future__ import annotations

import shutil
import threading
import time

import pytest
from pages_fixture import app, publish_changed

from dashboard import cache, keepwarm, prefetch
from dashboard.access import keys
from dashboard.queries.base import FULL_SCOPE, Scope
from dashboard.results_cache import ResultCache
from sweep import left_to_full_run


@pytest.fixture
def site(site, monkeypatch):
    """conftest's site with reading ahead off (the pages' own reads are what counts here) and
    keeping warm on unless a test turns it off."""
    monkeypatch.setenv(prefetch.SWITCH, "0")
    monkeypatch.delenv(keepwarm.SWITCH, raising=False)
    return site


def wait_for(condition, seconds: float = 60.0) -> bool:
    """Poll until condition() holds (the bound only stops a broken run; no timing asserted)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


# --- renewing ahead of expiry (dashboard/results_cache.py) --------------------------------------
def test_renewing_recomputes_what_expires_soon_for_the_renewer_only(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr("dashboard.results_cache.time.monotonic", lambda: clock[0])
    c = ResultCache(ttl_s=600, max_entries=10, max_bytes=2**20)
    assert c.get("k", lambda: "old") == "old"
    clock[0] += 500                                 # 100 s of life left
    with ResultCache.renewing(60):                  # not within 60 s: kept
        assert c.get("k", lambda: "new") == "old"
    assert c.computed == 1
    clock[0] += 50                                  # 50 s left
    assert c.get("k", lambda: "new") == "old"       # a visitor keeps the stored one
    with ResultCache.renewing(60):
        assert c.get("k", lambda: "new") == "new"   # the renewer computes it afresh
    assert c.computed == 2
    clock[0] += 500                                 # past the old expiry, within the new one
    assert c.get("k", lambda: "newer") == "new"
    assert c.stats()[0] == 1


def test_renewing_ends_with_its_block_and_does_not_leak_to_other_threads():
    c = ResultCache(ttl_s=60, max_entries=10, max_bytes=2**20)
    c.get("k", lambda: 1)
    seen = []
    with ResultCache.renewing(3600):                # everything counts as expiring soon here
        t = threading.Thread(target=lambda: seen.append(c.get("k", lambda: 2)))
        t.start()
        t.join()
        assert c.get("k", lambda: 3) == 3
    assert seen == [1]                              # another thread: not renewing
    assert c.get("k", lambda: 4) == 3               # after the block: a plain hit


def test_the_schedule_renews_the_previous_pass_before_it_expires():
    for ttl in (600.0, 60.0, 8.0):
        window, every = keepwarm.renew_window(ttl), keepwarm.period(ttl)
        assert 0 < window <= ttl / 2
        left_at_next_pass = ttl - every                 # a result stored by the previous pass
        assert 0 < left_at_next_pass < window, (ttl, window, every)
    assert keepwarm.period(600) > 500                   # not every poll: about once per TTL


# --- a pass --------------------------------------------------------------------------------------
@left_to_full_run
def test_after_a_pass_every_page_opens_with_nothing_to_compute_for_the_whole_street(site, computed):
    keepwarm.warm_pass()
    assert computed and {scope for _, _, scope, _ in computed} == {FULL_SCOPE}
    assert {fn.split(":")[0].rsplit(".", 1)[-1] for fn, _, _, _ in computed} >= {
        "overview", "grid", "funds", "linkage", "projects", "painpoints", "participation",
        "briefing"}
    for page in sorted(prefetch.PLANS):
        computed.clear()
        at = app(page)
        assert not at.exception and not at.error, (page, [e.value for e in at.error])
        assert computed == [], f"{page} computed what the keep-warm did not: {computed}"


def test_a_second_pass_computes_nothing_while_the_results_are_fresh(site, computed):
    assert keepwarm.warm_pass() >= len(computed) > 0     # and the shared reads inside them
    computed.clear()
    assert keepwarm.warm_pass() == 0 and computed == []


@left_to_full_run
def test_a_signed_in_leader_finds_it_warm_and_a_community_still_reads_its_own(site, computed):
    _, leader = keys.add("leader", "街道主任")
    _, community = keys.add("community", "春晖社区居委会", communities=["春晖社区"])
    keepwarm.warm_pass()
    assert {scope for _, _, scope, _ in computed} == {FULL_SCOPE}   # keys exist: still the street's
    for key, scope in ((leader, FULL_SCOPE), (community, Scope(("春晖社区",), "community"))):
        computed.clear()
        at = app("overview")
        at.text_input(key="auth_key").input(key)
        at.button(key="auth_submit").click().run()
        assert not at.exception and at.session_state["scope"] == scope
        if scope == FULL_SCOPE:
            assert computed == [], computed
        else:
            assert computed and {s for _, _, s, _ in computed} == {scope}


def test_a_failing_page_is_logged_and_the_pass_goes_on(site, computed, monkeypatch, caplog):
    def broken(f, query):
        raise RuntimeError("disk on fire")
    monkeypatch.setattr(prefetch, "PLANS", {"funds": broken, "grid": prefetch.PLANS["grid"]})
    keepwarm.warm_pass()
    assert "keep-warm of page funds failed" in caplog.text
    assert any(fn.endswith("grid:volume") for fn, _, _, _ in computed)   # the page after it


def test_no_database_is_no_pass_and_no_error(site, tmp_path, monkeypatch, computed):
    monkeypatch.setenv("COCKPIT_DB", str(tmp_path / "none-yet.duckdb"))
    assert keepwarm.warm_pass() == 0 and computed == []


# --- the thread ----------------------------------------------------------------------------------
@pytest.mark.slow
def test_the_thread_warms_at_start_and_again_when_a_load_publishes_a_new_file(
        site, cockpit_db, tmp_path, monkeypatch, computed):
    live = tmp_path / "cockpit.duckdb"
    shutil.copyfile(cockpit_db, live)
    monkeypatch.setenv("COCKPIT_DB", str(live))
    monkeypatch.setattr(keepwarm, "POLL_S", 0.05)
    warm = keepwarm.start(wait_s=60)
    try:
        assert warm is not None and warm.first_pass.is_set() and warm.passes >= 1
        at = app("projects")
        assert next(m.value for m in at.metric if m.label == "项目数") == "8"
        first = len(computed)
        passes = warm.passes
        publish_changed(cockpit_db, live, "DELETE FROM projects WHERE project_id = 'P08'")
        assert wait_for(lambda: warm.passes > passes)       # counted when the pass is over
        assert len(computed) > first
    finally:
        warm.stop()
    computed.clear()
    at = app("projects")                            # the new version, with nothing to compute
    assert next(m.value for m in at.metric if m.label == "项目数") == "7"
    assert computed == [], computed


@pytest.mark.slow
def test_the_thread_renews_before_the_ttl_lapses(site, monkeypatch, computed):
    monkeypatch.setattr(cache, "CACHE_TTL_S", 1.0)
    monkeypatch.setattr(cache.RESULTS, "ttl_s", 1.0)
    monkeypatch.setattr(keepwarm, "POLL_S", 0.02)
    assert keepwarm.period() < 1.0
    warm = keepwarm.start(wait_s=60)
    try:
        first = len(computed)
        assert wait_for(lambda: len(computed) >= 2 * first)     # the same reads, renewed
    finally:
        warm.stop()
    assert {scope for _, _, scope, _ in computed} == {FULL_SCOPE}


def test_cockpit_keep_warm_0_turns_it_off(site, monkeypatch, computed):
    monkeypatch.setenv(keepwarm.SWITCH, "0")
    assert keepwarm.start(wait_s=1) is None and computed == []


@pytest.mark.slow
def test_the_servers_lifespan_warms_before_it_answers_and_stops_the_thread(site, monkeypatch,
                                                                           computed, run_async):
    from dashboard import nodelay, warmup, web
    monkeypatch.setattr(nodelay, "on_listeners", lambda: None)
    monkeypatch.setattr(warmup, "start", lambda: None)
    monkeypatch.setattr(warmup, "freeze", lambda: None)
    started: list[keepwarm.KeepWarm] = []
    real = keepwarm.start
    monkeypatch.setattr(keepwarm, "start", lambda: started.append(real()) or started[-1])

    async def serve():
        async with web.lifespan(None):
            return len(computed)

    assert run_async(serve()) > 0                   # the first pass was done before serving
    assert started and not started[0]._thread.is_alive()


# --- a real server -------------------------------------------------------------------------------
@pytest.mark.slow
def test_a_fresh_server_answers_with_the_opening_views_already_warm(cockpit_db, tmp_path):
    """Once /_stcore/health answers, the first pass is done: a page's HTML request then finds
    each of its street-wide opening reads in the result cache (its read-ahead computes none),
    while a filtered view is still read for its visitor."""
    import urllib.request

    from dashboard import cockpit_server
    from test_prefetch import _read_aheads

    env = {"COCKPIT_ACCESS_DIR": str(tmp_path)}
    with cockpit_server.cockpit(cockpit_db, env=env, args=("--logger.level", "debug")) as server:
        assert "keep-warm pass: " in server.log.read_text(errors="replace")
        filtered = "/grid?community=%E6%98%A5%E6%99%96%E7%A4%BE%E5%8C%BA"     # 春晖社区
        for n, path in enumerate(("/grid", "/funds", filtered), start=1):
            with urllib.request.urlopen(server.url + path, timeout=30) as r:
                assert r.status == 200
            found = _read_aheads(server, n)
            assert len(found) == n, found
        assert found[0] == ("grid", "done", 0) and found[1] == ("funds", "done", 0), found
        assert found[2][:2] == ("grid", "done") and found[2][2] > 0, found
