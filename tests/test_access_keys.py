"""Access keys, sessions and lockout: no key in clear on disk, wrong/revoked/expired/rotated keys
refused, constant-time comparison, repeated failures slow down then lock."""
from __future__ import annotations

import ast
import hmac
import inspect
import json
import stat
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from dashboard.access import keys, sessions
from dashboard.access.lockout import Lockout
from dashboard.queries.base import Scope

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def access(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("COCKPIT_DB", str(tmp_path / "cockpit.duckdb"))
    monkeypatch.delenv("COCKPIT_ACCESS_DIR", raising=False)
    return tmp_path


def test_key_file_holds_no_key_in_clear(access):
    record, key = keys.add("community", "阳光社区居委会", communities=["阳光社区"])
    path = access / "cockpit.keys.json"
    text = path.read_text("utf-8")
    secret = key.split("_", 2)[2]
    assert key.startswith(f"ck_{record.id}_") and len(secret) >= 40
    assert secret not in text and key not in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    stored = json.loads(text)["keys"][0]
    assert set(stored) >= {"salt", "hash"} and len(stored["hash"]) == 64
    # nothing in the database folder but the key file (and its lock) holds it either
    assert all(secret not in p.read_text("utf-8", errors="replace") for p in access.iterdir())


def test_right_key_signs_in_with_its_scope(access):
    _, key = keys.add("community", "阳光社区居委会", communities=["阳光社区"])
    record = keys.verify(key)
    assert record.name == "阳光社区居委会"
    assert record.scope == Scope(communities=("阳光社区",), role="community")
    _, pkey = keys.add("partner", "阳光社工站", party="阳光社工站")
    assert keys.verify(pkey).scope == Scope(communities=None, role="partner", party="阳光社工站")


def test_wrong_revoked_and_expired_keys_are_refused(access):
    record, key = keys.add("leader", "街道办")
    _, short = keys.add("public", "大厅屏幕", expires_on=date(2026, 6, 30))
    wrong_secret = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    for bad in (wrong_secret, "ck_000000000000_" + "x" * 43, "", "not a key", key + "x"):
        with pytest.raises(keys.KeyRefused) as exc:
            keys.verify(bad)
        assert exc.value.reason == "unknown"
    assert keys.verify(short, today=date(2026, 6, 30)).role == "public"   # valid through that day
    with pytest.raises(keys.KeyRefused) as exc:
        keys.verify(short, today=date(2026, 7, 1))
    assert exc.value.reason == "expired"
    keys.revoke(record.id)
    with pytest.raises(keys.KeyRefused) as exc:
        keys.verify(key)
    assert exc.value.reason == "revoked"


def test_revoking_the_last_key_does_not_reopen_the_cockpit(access):
    assert not keys.configured()
    record, _ = keys.add("public", "屏幕")
    keys.revoke(record.name)
    assert keys.configured()


def test_comparison_is_constant_time():
    """The stored and computed hashes are compared with hmac.compare_digest, and with nothing else."""
    source = inspect.getsource(keys.verify)
    calls = [n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Call)]
    names = {ast.unparse(c.func) for c in calls}
    assert "hmac.compare_digest" in names
    assert keys.hmac.compare_digest is hmac.compare_digest
    compares = [n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Compare)]
    assert not [ast.unparse(c) for c in compares if "hash" in ast.unparse(c)]


def test_session_survives_until_its_lifetime_and_dies_with_its_key(access):
    record, key = keys.add("community", "阳光社区居委会", communities=["阳光社区"])
    now = datetime(2026, 11, 29, 9, 0)
    token = sessions.start(keys.verify(key), now=now)
    assert token not in (access / "cockpit.sessions.json").read_text("utf-8")
    who = sessions.resolve(token, now=now + timedelta(hours=7, minutes=59))
    assert who is not None and who.name == "阳光社区居委会" and who.scope == record.scope
    assert sessions.resolve(token, now=now + timedelta(hours=8)) is None      # default 8 h
    assert sessions.resolve("forged-token", now=now) is None
    # rotation ends the old key's sessions; the new key works
    _, new_key = keys.rotate(record.id)
    assert sessions.resolve(token, now=now) is None
    with pytest.raises(keys.KeyRefused):
        keys.verify(key)
    token2 = sessions.start(keys.verify(new_key), now=now)
    assert sessions.resolve(token2, now=now) is not None
    keys.revoke(record.id)                       # refused on the next page load
    assert sessions.resolve(token2, now=now) is None


def test_sign_out_ends_the_session(access):
    _, key = keys.add("leader", "街道办")
    token = sessions.start(keys.verify(key))
    assert sessions.resolve(token) is not None
    sessions.end(token)
    assert sessions.resolve(token) is None


def test_session_lifetime_is_configurable(access, monkeypatch):
    monkeypatch.setenv("COCKPIT_SESSION_HOURS", "1")
    _, key = keys.add("leader", "街道办")
    now = datetime(2026, 11, 29, 9, 0)
    token = sessions.start(keys.verify(key), now=now)
    assert sessions.resolve(token, now=now + timedelta(minutes=59)) is not None
    assert sessions.resolve(token, now=now + timedelta(minutes=61)) is None


class Clock:
    def __init__(self):
        self.now = 1_000_000.0

    def __call__(self):
        return self.now


def test_failures_slow_down_then_lock_per_session_and_per_address():
    clock = Clock()
    lock = Lockout(slow_after=3, lock_after=5, lock_seconds=900, clock=clock)
    s, ip = "session:a", "ip:10.0.0.7"
    for _ in range(2):
        lock.failure(s, ip)
    assert lock.wait_seconds(s, ip) == 0
    lock.failure(s, ip)
    assert lock.wait_seconds(s, ip) == 2           # third failure: wait before the next try
    clock.now += 2
    lock.failure(s, ip)
    assert lock.wait_seconds(s, ip) == 4
    clock.now += 4
    lock.failure(s, ip)                            # fifth: locked
    assert lock.locked(s) and lock.locked(ip)
    assert lock.wait_seconds(s, ip) == 900
    # a fresh session from the same address is still locked; another address is not
    assert lock.locked("session:b", ip)
    assert not lock.locked("session:b", "ip:10.0.0.8")
    lock.success(s)                                # a good key elsewhere does not unlock the address
    assert lock.locked(ip)
    clock.now += 901
    assert lock.wait_seconds(s, ip) == 0 and not lock.locked(ip)


def run_cli(*args: str, env_db: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "etl", *args, "--db", str(env_db)], cwd=REPO,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.slow   # CLI runs in subprocesses
def test_keys_cli_add_list_revoke_rotate(tmp_path):
    db = tmp_path / "cockpit.duckdb"
    out = run_cli("keys", "add", "--role", "community", "--community", "阳光社区",
                  "--name", "阳光社区居委会", "--expires", "2027-06-30", env_db=db)
    assert out.returncode == 0, out.stderr
    key = out.stdout.strip().splitlines()[-1]
    assert key.startswith("ck_")
    listed = run_cli("keys", "list", env_db=db)
    assert "阳光社区居委会" in listed.stdout and "2027-06-30" in listed.stdout
    assert key.split("_", 2)[2] not in listed.stdout
    bad = run_cli("keys", "add", "--role", "partner", "--name", "x", env_db=db)
    assert bad.returncode == 2 and "--party" in bad.stderr
    rotated = run_cli("keys", "rotate", "阳光社区居委会", env_db=db)
    new_key = rotated.stdout.strip().splitlines()[-1]
    assert rotated.returncode == 0 and new_key.startswith("ck_") and new_key != key
    assert run_cli("keys", "revoke", "阳光社区居委会", env_db=db).returncode == 0
    assert "revoked" in run_cli("keys", "list", env_db=db).stdout
    path = tmp_path / "cockpit.keys.json"
    with pytest.raises(keys.KeyRefused):
        keys.verify(new_key, path=path)
    assert run_cli("keys", "revoke", "nobody", env_db=db).returncode == 2


def test_key_files_are_git_ignored():
    ignored = subprocess.run(["git", "check-ignore", "data/cockpit.keys.json",
                              "data/cockpit.sessions.json", "data/audit.jsonl", "data/audit.head",
                              "data/cockpit.sso.json"], cwd=REPO, capture_output=True, text=True)
    assert len(ignored.stdout.split()) == 5


def test_demo_keys_issue_one_working_key_per_role(demo_db, tmp_path, monkeypatch, capsys):
    """python -m etl demo --keys: a leader, the busiest community, a social organisation, public."""
    import shutil

    from etl.__main__ import _demo_keys

    db = tmp_path / "cockpit.duckdb"
    shutil.copy(demo_db, db)
    monkeypatch.setenv("COCKPIT_DB", str(db))
    monkeypatch.delenv("COCKPIT_ACCESS_DIR", raising=False)
    _demo_keys(db)
    printed = [line.split(": ", 1)[1] for line in capsys.readouterr().out.splitlines()
               if line.startswith("  ")]
    scopes = {keys.verify(k).role: keys.verify(k).scope for k in printed}
    assert sorted(scopes) == ["community", "leader", "partner", "public"]
    assert scopes["leader"] == Scope() and scopes["public"].communities is None
    import duckdb
    con = duckdb.connect(str(db), read_only=True)
    try:
        communities = {r[0] for r in con.execute("SELECT DISTINCT community FROM feedback").fetchall()}
        parties = {r[0] for r in con.execute("SELECT DISTINCT lead_party FROM projects "
                                             "WHERE lead_party_type <> '社区'").fetchall()}
    finally:
        con.close()
    assert scopes["community"].communities[0] in communities
    assert scopes["partner"].party in parties
    # a second run replaces the demo keys: the first ones stop working
    _demo_keys(db)
    with pytest.raises(keys.KeyRefused):
        keys.verify(printed[0])
    assert sum(not r.revoked_at for r in keys.records()) == 4


def test_sso_mapping_by_email_or_subject_and_unmapped_gets_nothing(tmp_path):
    from dashboard.access import sso

    path = tmp_path / "cockpit.sso.json"
    path.write_text(json.dumps({"identities": {
        "Leader@City.example": {"role": "leader", "name": "主任"},
        "sub:42": {"role": "partner", "party": "阳光社工站"},
        "bad@city.example": {"role": "community"}}}, ensure_ascii=False), "utf-8")
    who = sso.lookup({"email": "leader@city.EXAMPLE", "sub": "x"}, path)
    assert who.name == "主任" and who.scope == Scope() and who.via == "sso"
    assert sso.lookup({"sub": "42"}, path).scope == Scope(role="partner", party="阳光社工站")
    assert sso.lookup({"email": "someone@city.example", "sub": "7"}, path) is None
    assert sso.lookup({}, path) is None
    with pytest.raises(keys.KeyRefused):          # a community mapping without its community
        sso.lookup({"email": "bad@city.example"}, path)
