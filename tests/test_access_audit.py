"""The audit log: one entry per action with the right row count, a hash chain that names the
first altered or missing entry (`python -m etl audit verify`), safe concurrent appends, and no
way to reach it from the dashboard's read-only DuckDB connection."""
from __future__ import annotations

import io
import json
import subprocess
import sys
import threading
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from pages_fixture import full_tables, open_drill_downs

from dashboard import export
from dashboard.access import audit
from dashboard.access.identity import Identity
from dashboard.queries.base import Scope

REPO = Path(__file__).resolve().parents[1]
PAINPOINTS = str(REPO / "pages" / "painpoints.py")
ALICE = Identity("阳光社区居委会", Scope(communities=("阳光社区",), role="community"), "key", "abc")


@pytest.fixture
def log_path(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("COCKPIT_DB", str(tmp_path / "cockpit.duckdb"))
    monkeypatch.delenv("COCKPIT_ACCESS_DIR", raising=False)
    return tmp_path / "audit.jsonl"


def lines(path: Path) -> list[str]:
    return path.read_text("utf-8").splitlines()


def verify_cli(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "etl", "audit", "verify", "--db",
                           str(path.parent / "cockpit.duckdb")], cwd=REPO, capture_output=True,
                          text=True, timeout=120)


def fill(n: int = 5) -> None:
    with audit.use_actor(ALICE):
        for i in range(n):
            audit.record("page_view", page=f"p{i}", filters={"community": "阳光社区"})


def test_entry_carries_who_role_scope_what_and_the_chain(log_path):
    with audit.use_actor(ALICE):
        first = audit.record("sql_query", page="sql_console", sql="SELECT 1", rows=1)
    second = audit.record("sign_in_failed", reason="unknown")
    assert first["seq"] == 1 and first["prev"] == audit.GENESIS
    assert second["prev"] == first["hash"]
    stored = [json.loads(x) for x in lines(log_path)]
    assert stored[0] == first
    assert {k: stored[0][k] for k in ("who", "role", "scope", "action", "sql", "rows")} == {
        "who": "阳光社区居委会", "role": "community",
        "scope": {"communities": ["阳光社区"], "party": None},
        "action": "sql_query", "sql": "SELECT 1", "rows": 1}
    assert stored[1]["who"] == "(open mode)"
    assert audit.verify().ok and audit.verify().entries == 2
    assert oct(log_path.stat().st_mode & 0o777) == "0o600"


def test_unknown_action_is_refused(log_path):
    with pytest.raises(ValueError):
        audit.record("download_everything")


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_each_export_writes_one_entry_with_its_row_count(log_path, fmt):
    df = pd.DataFrame({"community": ["阳光社区"] * 7, "n": range(7)})
    with audit.use_actor(ALICE):
        download = export.audited(fmt, df, "explore")
    assert not log_path.exists()                  # nothing is recorded until someone clicks
    data = download()                             # Streamlit calls it outside the page run
    back = pd.read_csv(io.BytesIO(data)) if fmt == "csv" else pd.read_excel(io.BytesIO(data), engine="openpyxl")
    assert len(back) == 7
    entries = audit.entries()
    assert len(entries) == 1
    assert {k: entries[0][k] for k in ("action", "who", "page", "format", "rows")} == {
        "action": "export", "who": "阳光社区居委会", "page": "explore", "format": fmt, "rows": 7}


def test_editing_a_line_fails_verify_naming_it(log_path):
    fill(5)
    assert verify_cli(log_path).returncode == 0
    rows = lines(log_path)
    rows[2] = rows[2].replace('"p2"', '"p9"')
    log_path.write_text("\n".join(rows) + "\n", "utf-8")
    verdict = audit.verify()
    assert not verdict.ok and verdict.line == 3 and verdict.entries == 2
    out = verify_cli(log_path)
    assert out.returncode == 1 and "line 3" in out.stderr


def test_deleting_a_line_fails_verify_naming_the_missing_entry(log_path):
    fill(5)
    rows = lines(log_path)
    del rows[1]
    log_path.write_text("\n".join(rows) + "\n", "utf-8")
    out = verify_cli(log_path)
    assert out.returncode == 1 and "entry 2 is missing" in out.stderr


def test_cutting_the_tail_fails_verify(log_path):
    fill(5)
    rows = lines(log_path)
    log_path.write_text("\n".join(rows[:3]) + "\n", "utf-8")
    verdict = audit.verify()
    assert not verdict.ok and "4..5" in verdict.problem


def test_rewriting_an_entry_with_a_fresh_hash_still_breaks_the_chain(log_path):
    fill(4)
    rows = [json.loads(x) for x in lines(log_path)]
    rows[1]["who"] = "someone else"
    rows[1]["hash"] = audit.entry_hash(rows[1])
    log_path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    verdict = audit.verify()
    assert not verdict.ok and verdict.line == 3     # entry 3's prev no longer matches


def test_concurrent_appends_keep_one_chain(log_path):
    def worker(k):
        for i in range(25):
            audit.record("page_view", actor=ALICE, page=f"w{k}-{i}")
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    entries = audit.entries()
    assert [e["seq"] for e in entries] == list(range(1, 101))
    assert audit.verify().ok


def test_the_dashboard_connection_cannot_write_the_audit_log(log_path, demo_db):
    """It is not in DuckDB at all, and the read-only sandbox cannot write files."""
    from dashboard.db import open_read_only

    fill(2)
    before = log_path.read_bytes()
    con = open_read_only(demo_db)       # the dashboard's sandboxed connection (dashboard/db.py)
    try:
        tables = {r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables").fetchall()}
        assert not {t for t in tables if "audit" in t}
        target = str(log_path).replace("'", "''")
        for statement in (f"COPY (SELECT 1 AS x) TO '{target}'",
                          f"COPY (SELECT 1 AS x) TO '{target}' (FORMAT json)",
                          "CREATE TABLE audit AS SELECT 1 AS x"):
            with pytest.raises(duckdb.Error):
                con.execute(statement)
    finally:
        con.close()
    assert log_path.read_bytes() == before and audit.verify().ok


@pytest.mark.slow
def test_drill_down_into_messages_is_audited_once_with_its_rows(log_path, demo_db, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from dashboard import cache

    monkeypatch.setenv("COCKPIT_DB", str(demo_db))
    monkeypatch.setenv("COCKPIT_ACCESS_DIR", str(log_path.parent))
    cache.clear()
    at = AppTest.from_file(PAINPOINTS, default_timeout=120)
    at.run()
    assert not at.exception
    # the lists open behind a switch: opening the page reads and shows no single message
    assert not [e for e in audit.entries() if e["action"] == "drill_down"]
    open_drill_downs(at)
    full_tables(at)                               # the message list's grid (it opens as a preview)
    shown = len(at.dataframe[0].value)
    drills = [e for e in audit.entries() if e["action"] == "drill_down"]
    assert len(drills) == 1 and drills[0]["rows"] == shown and shown > 0
    assert drills[0]["pain_point"] == str(at.selectbox(key="painpoints_pick").value) or \
        drills[0]["pain_point"] == at.selectbox(key="painpoints_pick").value
    at.run()                                      # a rerun of the same view is not a new drill-down
    assert len([e for e in audit.entries() if e["action"] == "drill_down"]) == 1
    options = at.selectbox(key="painpoints_pick").options
    if len(options) > 1:
        at.selectbox(key="painpoints_pick").select_index(1).run()
        drills = [e for e in audit.entries() if e["action"] == "drill_down"]
        assert len(drills) == 2 and drills[1]["rows"] == len(at.dataframe[0].value)
    cache.clear()
