"""Access keys in the real browser: the session cookie keeps a party signed in across reloads
and page changes without the key in the URL; sign-out and revocation end it; and the weekly
briefing export (python -m etl briefing) still works, audited, once keys are switched on."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import duckdb

import pytest

from dashboard.access import audit, keys, sessions
from dashboard.queries import briefing as bq
from dashboard import briefing_export
from etl.dbfile import REPO_ROOT
from tests.e2e.access_server import cockpit
from tests.e2e.conftest import errors_on, wait_idle


@pytest.fixture(scope="module")
def key_site(tmp_path_factory, e2e_db):
    access = tmp_path_factory.mktemp("key-access")
    issued = {
        "leader": keys.add("leader", "街道办", path=access / "cockpit.keys.json")[1],
        "public": keys.add("public", "社区大厅屏幕", path=access / "cockpit.keys.json")[1],
    }
    with cockpit(e2e_db, access) as server:
        yield server.url, access, issued


def sign_in(page, base: str, key: str) -> None:
    page.goto(base + "/", wait_until="commit")
    box = page.get_by_label("访问密钥", exact=True)
    box.wait_for(timeout=60_000)
    box.fill(key)
    page.get_by_role("button", name="登录", exact=True).click()
    page.get_by_text("已登录").wait_for(timeout=60_000)
    wait_idle(page, 60)


def test_signed_in_across_reloads_until_sign_out(browser, key_site):
    base, access, issued = key_site
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
    page = context.new_page()
    try:
        sign_in(page, base, issued["leader"])
        assert page.locator("h1").first.inner_text() == "总览"
        cookie = {c["name"]: c for c in context.cookies()}[sessions.COOKIE]
        assert cookie["sameSite"] == "Strict" and cookie["value"] != issued["leader"]
        assert sessions.resolve(cookie["value"], path=access / "cockpit.sessions.json",
                                keys_file=access / "cockpit.keys.json") is not None
        assert issued["leader"].split("_", 2)[2] not in page.url
        # a reload and a direct link to another page are a new Streamlit session: still signed in
        page.goto(base + "/projects", wait_until="commit")
        wait_idle(page, 60)
        assert page.locator("h1").first.inner_text() == "项目进度"
        assert "街道办" in page.locator('[data-testid="stSidebar"]').inner_text()
        assert not errors_on(page)
        page.get_by_role("button", name="退出登录").click()
        page.get_by_label("访问密钥", exact=True).wait_for(timeout=60_000)
        page.reload(wait_until="commit")
        page.get_by_label("访问密钥", exact=True).wait_for(timeout=60_000)   # the cookie no longer signs in
        assert sessions.resolve(cookie["value"], path=access / "cockpit.sessions.json",
                                keys_file=access / "cockpit.keys.json") is None
        secret = issued["leader"].split("_", 2)[2]
        assert secret not in (access / "audit.jsonl").read_text("utf-8")
        actions = [e["action"] for e in audit.entries(access / "audit.jsonl") if e["who"] == "街道办"]
        assert actions[0] == "sign_in" and "page_view" in actions and actions[-1] == "sign_out"
    finally:
        context.close()


def test_revoked_key_is_refused_on_the_next_page_load(browser, key_site):
    base, access, issued = key_site
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
    page = context.new_page()
    try:
        sign_in(page, base, issued["public"])
        nav = page.locator('[data-testid="stSidebarNav"]').inner_text()
        assert "SQL" not in nav and "审计" not in nav            # hidden for the public role
        page.goto(base + "/sql_console", wait_until="commit")     # and refused by URL
        wait_idle(page, 60)
        assert page.locator('[data-testid="stTextArea"]').count() == 0
        assert page.locator("h1").first.inner_text() != "SQL 控制台"
        keys.revoke("社区大厅屏幕", path=access / "cockpit.keys.json")
        page.reload(wait_until="commit")
        page.get_by_label("访问密钥", exact=True).wait_for(timeout=60_000)
        assert page.locator('[data-testid="stPlotlyChart"]').count() == 0
    finally:
        context.close()


def test_briefing_export_works_and_is_audited_with_keys_on(tmp_path, e2e_db):
    access = tmp_path / "access"
    keys.add("community", "某社区", communities=["x"], path=access / "cockpit.keys.json")
    con = duckdb.connect(str(e2e_db), read_only=True)
    try:
        week = bq.default_week(con)
    finally:
        con.close()
    out = tmp_path / "out"
    env_run = subprocess.run(
        [sys.executable, "-m", "etl", "briefing", "--week", week, "--out", str(out),
         "--db", str(e2e_db)], cwd=REPO_ROOT, capture_output=True, text=True, timeout=600,
        env={**os.environ, "COCKPIT_ACCESS_DIR": str(access)})
    assert env_run.returncode == 0, env_run.stderr[-2000:]
    assert len(list(out.glob("*.png"))) == 1 and len(list(out.glob("*.pdf"))) == 1
    entries = audit.entries(access / "audit.jsonl")
    exports = [e for e in entries if e["action"] == "briefing_export"]
    assert len(exports) == 1 and exports[0]["week"] == week and exports[0]["via"] == "service"
    # the job's own session was signed in (its page views are attributed to it) and then ended
    views = [e for e in entries if e["action"] == "page_view"]
    assert views and all(e["who"] == briefing_export.JOB.name for e in views)
    assert not json.loads((access / "cockpit.sessions.json").read_text())["sessions"]
    assert audit.verify(access / "audit.jsonl").ok


def test_a_community_briefing_is_rendered_under_that_community_scope(tmp_path, e2e_db):
    """python -m etl briefing --community X with keys on: the page the job captures is read
    exactly as X's own key would read it (row-level scope, its quotes only), not as a leader."""
    access = tmp_path / "access"
    keys.add("leader", "街道办", path=access / "cockpit.keys.json")
    con = duckdb.connect(str(e2e_db), read_only=True)
    try:
        week = bq.default_week(con)
        community = con.execute("SELECT min(community) FROM grid_reports").fetchone()[0]
    finally:
        con.close()
    out = tmp_path / "out"
    run = subprocess.run(
        [sys.executable, "-m", "etl", "briefing", "--week", week, "--community", community,
         "--out", str(out), "--db", str(e2e_db)], cwd=REPO_ROOT, capture_output=True, text=True,
        timeout=600, env={**os.environ, "COCKPIT_ACCESS_DIR": str(access)})
    assert run.returncode == 0, run.stderr[-2000:]
    entries = audit.entries(access / "audit.jsonl")
    views = [e for e in entries if e["action"] == "page_view" and e["who"] == briefing_export.JOB.name]
    assert views and all(e["role"] == "community" and e["scope"]["communities"] == [community]
                         for e in views), views
    export = [e for e in entries if e["action"] == "briefing_export"]
    assert len(export) == 1 and export[0]["community"] == community
    assert not json.loads((access / "cockpit.sessions.json").read_text())["sessions"]
