"""Sign-in through the real entry point (AppTest of dashboard/app.py): open mode and its banner,
the key form, the signed-in Scope in session_state, pages hidden and refused per role, a key
revoked mid-session, lockout, sign-out, and the audit entries each step writes."""
from __future__ import annotations

import json

import pytest
from pages_fixture import app

from dashboard.access import audit, keys, sessions
from dashboard.access.lockout import LOCKOUT
from dashboard.queries.base import Scope


@pytest.fixture
def site(cockpit_db, tmp_path, monkeypatch):  # noqa: F811
    """The hand-built database with its access files in a fresh folder."""
    monkeypatch.setenv("COCKPIT_DB", str(cockpit_db))
    monkeypatch.setenv("COCKPIT_ACCESS_DIR", str(tmp_path))
    LOCKOUT._failures.clear()
    yield tmp_path
    LOCKOUT._failures.clear()


def log(site) -> list[dict]:
    return audit.entries(site / "audit.jsonl")


def sign_in(at, key: str):
    at.text_input(key="auth_key").input(key)
    at.button(key="auth_submit").click()
    return at.run()


def test_open_mode_shows_a_banner_and_everything(site):
    at = app("overview")
    assert not at.exception
    banners = [w.value for w in at.sidebar.warning]
    assert any("开放模式" in b for b in banners)
    assert at.session_state["scope"] == Scope()
    assert [e["action"] for e in log(site)] == ["page_view"]
    assert log(site)[0]["who"] == "(open mode)"


def test_key_sign_in_sets_the_scope_and_sign_out_ends_it(site):
    _, key = keys.add("community", "春晖社区居委会", communities=["春晖社区"])
    at = app("overview")
    assert not at.exception
    assert at.text_input(key="auth_key") is not None
    assert "filters" not in at.session_state            # no page ran, nothing was read
    assert not at.sidebar.warning                       # no open-mode banner once keys exist
    sign_in(at, key)
    assert not at.exception
    assert at.session_state["scope"] == Scope(communities=("春晖社区",), role="community")
    assert "filters" in at.session_state and at.title[0].value == "总览"
    assert any("春晖社区居委会" in c.value for c in at.sidebar.caption)
    # the key was not kept in the session, and is in no file but as its hash
    assert "auth_key" not in at.session_state
    secret = key.split("_", 2)[2]
    assert all(secret not in p.read_text("utf-8") for p in site.iterdir() if p.is_file())
    entries = log(site)
    assert [e["action"] for e in entries] == ["sign_in", "page_view"]
    assert entries[0]["who"] == "春晖社区居委会" and entries[0]["role"] == "community"
    assert entries[0]["scope"] == {"communities": ["春晖社区"], "party": None}
    token = at.session_state["_auth_token"]
    assert sessions.resolve(token) is not None
    at.button(key="auth_sign_out").click().run()
    assert not at.exception
    assert at.text_input(key="auth_key") is not None
    assert sessions.resolve(token) is None
    assert log(site)[-1]["action"] == "sign_out" and log(site)[-1]["who"] == "春晖社区居委会"


def test_wrong_key_is_refused_and_audited_without_the_key(site):
    keys.add("leader", "街道办")
    at = app("overview")
    sign_in(at, "ck_0123456789ab_thisisnotavalidsecretatall")
    assert not at.exception
    assert [e.value for e in at.error] == ["密钥无效。"]
    assert "filters" not in at.session_state
    entry = log(site)[-1]
    assert entry["action"] == "sign_in_failed" and entry["reason"] == "unknown"
    assert "thisisnotavalidsecret" not in (site / "audit.jsonl").read_text("utf-8")


def test_repeated_failures_lock_even_the_right_key(site):
    _, key = keys.add("leader", "街道办")
    at = app("overview")
    for _ in range(5):
        LOCKOUT._failures = {s: [t - 60 for t in ts] for s, ts in LOCKOUT._failures.items()}
        sign_in(at, "ck_0123456789ab_wrongwrongwrongwrongwrong")
    sign_in(at, key)
    assert "scope" not in at.session_state
    assert "锁定" in at.error[0].value
    assert log(site)[-1]["reason"] == "locked"
    # a new session from the same address is locked too
    again = app("overview")
    sign_in(again, key)
    assert "scope" not in again.session_state


def test_a_revoked_key_is_refused_on_the_next_page_load(site):
    record, key = keys.add("analyst", "分析员")
    at = app("overview")
    sign_in(at, key)
    assert at.session_state["scope"].role == "analyst"
    keys.revoke(record.id)
    at.run()
    assert at.text_input(key="auth_key") is not None
    assert "重新登录" in at.info[0].value


def test_pages_a_role_may_not_use_are_hidden_and_refused(site):
    _, community = keys.add("community", "春晖社区居委会", communities=["春晖社区"])
    _, leader = keys.add("leader", "街道办")
    at = sign_in(app("overview"), community)
    for page in ("sql_console", "audit"):
        with pytest.raises(ValueError, match="not a registered page|registered"):
            at.switch_page(f"../pages/{page}.py")       # not registered for this role
    at.switch_page("../pages/projects.py")
    at.run()
    assert not at.exception
    lead = sign_in(app("overview"), leader)
    lead.switch_page("../pages/audit.py")
    lead.run()
    assert not lead.exception
    assert lead.title[0].value == "审计日志"
    shown = lead.dataframe[0].value
    assert set(shown["who"]) >= {"春晖社区居委会", "街道办"}


def test_sql_query_is_audited_with_text_and_rows(site):
    _, key = keys.add("analyst", "分析员")
    at = sign_in(app("overview"), key)
    at.switch_page("../pages/sql_console.py")
    at.run()
    at.text_area(key="sql_text").set_value("SELECT community, count(*) AS n FROM grid_reports GROUP BY 1")
    at.button(key="sql_run").click().run()
    assert not at.exception
    entry = log(site)[-1]
    assert entry["action"] == "sql_query" and entry["who"] == "分析员"
    assert entry["sql"].startswith("SELECT community") and entry["rows"] == 3
    assert audit.verify(site / "audit.jsonl").ok
    assert json.loads((site / "audit.head").read_text())["seq"] == len(log(site))


def test_every_access_string_exists_in_both_languages():
    import re
    from pathlib import Path

    from dashboard.access.audit import ACTIONS
    from dashboard.i18n import STRINGS
    from dashboard.queries.base import ROLES

    repo = Path(__file__).resolve().parents[1]
    used = set()
    for path in [*(repo / "dashboard" / "access").glob("*.py"), repo / "pages" / "audit.py"]:
        used |= set(re.findall(r'\bt\(\s*"([a-z_]+\.[a-z0-9_.]+)"', path.read_text("utf-8")))
    used |= {f"auth.role.{r}" for r in ROLES} | {f"audit.act.{a}" for a in ACTIONS}
    used |= {f"auth.refused.{r}" for r in ("unknown", "revoked", "expired")}
    assert len(used) > 30
    missing = sorted(k for k in used if k not in STRINGS or not all(STRINGS[k].get(x) for x in ("zh", "en")))
    assert missing == []


def test_audit_page_filters_and_exports_for_leaders(site):
    _, leader = keys.add("leader", "街道办")
    keys.add("public", "屏幕")
    at = app("overview")
    sign_in(at, "ck_0123456789ab_wrongwrongwrongwrongwrong")
    sign_in(at, leader)
    at.switch_page("../pages/audit.py")
    at.run()
    assert not at.exception
    assert "哈希链完整" in at.success[0].value
    everything = at.dataframe[0].value
    assert list(everything["seq"]) == sorted(everything["seq"], reverse=True)   # newest first
    at.multiselect(key="audit_action").set_value(["sign_in_failed"]).run()
    failed = at.dataframe[0].value
    assert set(failed["action"]) == {"sign_in_failed"} and len(failed) == 1
    assert failed["reason"].iloc[0] == "unknown"
    # the key table lists both keys and no secret
    listed = at.dataframe[1].value
    assert set(listed["name"]) == {"街道办", "屏幕"}
    assert not any(leader.split("_", 2)[2] in str(v) for v in listed.to_numpy().ravel())
    # the page's export is itself audited, with the filtered row count
    from dashboard import export
    from dashboard.access.identity import Identity
    with audit.use_actor(Identity("街道办", Scope(), "key")):
        download = export.audited("csv", failed, "audit")
    download()
    last = log(site)[-1]
    assert last["action"] == "export" and last["page"] == "audit" and last["rows"] == 1
