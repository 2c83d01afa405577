"""Single sign-on end to end: real Chromium, the real cockpit with [auth] in a secrets file
written here, and a local OpenID Connect provider (oidc-provider-mock) on loopback. A mapped
identity lands with its role; an unmapped one sees nothing."""
from __future__ import annotations

import json
import secrets

import pytest

from tests.e2e.conftest import errors_on, wait_idle
from tests.e2e.access_server import cockpit
from dashboard.access import audit
from dashboard.cockpit_server import free_port

pytest.importorskip("authlib")
oidc = pytest.importorskip("oidc_provider_mock")

LEADER = "leader@city.example"
COMMUNITY = "chunhui@city.example"
STRANGER = "stranger@elsewhere.example"


@pytest.fixture(scope="module")
def provider():
    with oidc.run_server_in_thread(port=0) as server:
        yield f"http://localhost:{server.server_port}"


@pytest.fixture(scope="module")
def sso_site(tmp_path_factory, e2e_db, provider):
    from dashboard.queries.briefing import communities
    import duckdb

    con = duckdb.connect(str(e2e_db), read_only=True)
    try:
        community = communities(con)[0]
    finally:
        con.close()
    access = tmp_path_factory.mktemp("sso-access")
    (access / "cockpit.sso.json").write_text(json.dumps({"identities": {
        LEADER: {"role": "leader", "name": "街道办主任"},
        COMMUNITY: {"role": "community", "communities": [community]}}}, ensure_ascii=False))
    port = free_port()
    secrets_toml = access / "secrets.toml"
    secrets_toml.write_text(
        "[auth]\n"
        f'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
        f'cookie_secret = "{secrets.token_hex(32)}"\n'
        'client_id = "cockpit"\n'
        'client_secret = "test-only-secret"\n'
        f'server_metadata_url = "{provider}/.well-known/openid-configuration"\n')
    with cockpit(e2e_db, access, port=port, secrets=secrets_toml) as server:
        yield server.url, access, community


def sso_sign_in(page, base: str, identity: str) -> None:
    page.goto(base + "/", wait_until="commit")
    page.get_by_role("button", name="使用统一身份认证登录").click(timeout=60_000)
    page.wait_for_selector("input[name=sub]", timeout=60_000)     # the provider's own form
    page.fill("input[name=sub]", identity)
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(base + "/**", timeout=60_000)
    wait_idle(page, 60)


def test_mapped_identity_lands_with_its_role(browser, sso_site):
    base, access, community = sso_site
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
    page = context.new_page()
    try:
        sso_sign_in(page, base, LEADER)
        sidebar = page.locator('[data-testid="stSidebar"]').inner_text()
        assert "街道办主任" in sidebar and "街道领导" in sidebar
        assert page.locator("h1").first.inner_text() == "总览"
        assert not errors_on(page)
        # the leader's navigation includes the audit page
        assert page.locator('[data-testid="stSidebarNav"] a[href$="/audit"]').count() == 1
        entries = audit.entries(access / "audit.jsonl")
        signs = [e for e in entries if e["action"] == "sign_in" and e["via"] == "sso"]
        assert signs and signs[-1]["who"] == "街道办主任" and signs[-1]["role"] == "leader"
        # a reload keeps the SSO session (Streamlit's own signed cookie)
        page.reload(wait_until="commit")
        wait_idle(page, 60)
        assert page.locator("h1").first.inner_text() == "总览"
    finally:
        context.close()


def test_mapped_community_identity_gets_its_scope(browser, sso_site):
    base, access, community = sso_site
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
    page = context.new_page()
    try:
        sso_sign_in(page, base, COMMUNITY)
        sidebar = page.locator('[data-testid="stSidebar"]').inner_text()
        assert community in sidebar and "社区" in sidebar
        # no SQL console and no audit page for a community
        nav = page.locator('[data-testid="stSidebarNav"]').inner_text()
        assert "SQL" not in nav and "审计" not in nav
        entry = [e for e in audit.entries(access / "audit.jsonl") if e["action"] == "sign_in"][-1]
        assert entry["role"] == "community" and entry["scope"]["communities"] == [community]
    finally:
        context.close()


def test_unmapped_identity_sees_nothing(browser, sso_site):
    base, access, _ = sso_site
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
    page = context.new_page()
    try:
        sso_sign_in(page, base, STRANGER)
        # shown as text: md() puts an invisible word joiner after '@' so it is no mail link
        main = page.locator('[data-testid="stMain"]').inner_text().replace("\u2060", "")
        assert "未被授权" in main and STRANGER in main
        assert page.locator('[data-testid="stPlotlyChart"]').count() == 0
        assert page.locator('[data-testid="stMetric"]').count() == 0
        assert page.locator('[data-testid="stSidebarNav"]').count() == 0
        failed = [e for e in audit.entries(access / "audit.jsonl") if e["action"] == "sign_in_failed"]
        assert failed and failed[-1]["identity"] == STRANGER and failed[-1]["reason"] == "unmapped"
        # and no page view was ever recorded for it
        assert not [e for e in audit.entries(access / "audit.jsonl")
                    if e["action"] == "page_view" and e["who"] == STRANGER]
    finally:
        context.close()
