"""dashboard/warmup.py's database warm-up (run by dashboard/web.py before /_stcore/health
answers; tests/test_static_cache.py checks that in a real server): which tables it reads, that
it leaves the pages' shared connection open and no query result cached, and that a broken
database file is logged, not raised."""
from __future__ import annotations

import logging
import re
from pathlib import Path

import duckdb

from dashboard import cache, warmup
from dashboard.queries import base

REPO = Path(__file__).resolve().parents[1]


def test_page_tables_follow_the_query_constants():
    tables = warmup.page_tables()
    assert tables <= set(base.RULES)
    # every {table} a queries module writes in its SQL is found, whatever module it is in
    for module in sorted((REPO / "dashboard" / "queries").glob("*.py")):
        for name in re.findall(r"\{(\w+)\}", module.read_text(encoding="utf-8")):
            if name in base.RULES:
                assert name in tables, (module.name, name)
    assert {"grid_daily", "fund_daily", "pain_point_daily", "grid_reports"} <= tables


def test_warm_database_opens_the_shared_connection_and_scans_catalog_tables(db, monkeypatch):
    cache.clear()
    opened = []
    real_open = cache.db.open_read_only
    monkeypatch.setattr(cache.db, "open_read_only", lambda p: opened.append(p) or real_open(p))
    scanned = warmup.warm_database()
    assert len(opened) == 1
    assert "grid_daily" in scanned and "projects" in scanned
    # views (over Parquet parts, or joins) and table macros are not scanned: only tables stored
    # in the catalog (this hand-built file keeps its record tables there too)
    assert "feedback_enriched" not in scanned and "project_status" not in scanned
    assert "grid_reports" in scanned
    assert scanned == sorted(scanned) and set(scanned) <= warmup.page_tables()
    # the pages' reads use the connection the warm-up opened (no second open) ...
    cache.connection()
    assert cache.has_data()
    assert len(opened) == 1
    # ... and nothing a page shows was computed for it
    assert cache.RESULTS.stats()[0] == 0


def test_warm_database_without_a_database_starts_anyway(tmp_path, monkeypatch):
    monkeypatch.setenv("COCKPIT_DB", str(tmp_path / "none.duckdb"))
    assert warmup.warm_database() == []


def test_a_broken_database_is_logged_not_raised(tmp_path, monkeypatch, caplog):
    broken = tmp_path / "broken.duckdb"
    broken.write_bytes(b"not a duckdb file" * 100)
    monkeypatch.setenv("COCKPIT_DB", str(broken))
    with caplog.at_level(logging.WARNING, logger="dashboard.warmup"):
        assert warmup.warm_database() == []
    assert "database warm-up failed" in caplog.text


def test_big_catalog_tables_are_not_scanned_at_start(db, monkeypatch):
    con = duckdb.connect(str(db), read_only=True)
    try:
        reports = con.execute("SELECT count(*) FROM grid_reports").fetchone()[0]
    finally:
        con.close()
    assert reports > 1
    monkeypatch.setattr(warmup, "MAX_ROWS", reports - 1)
    scanned = warmup.warm_database()
    assert "grid_reports" not in scanned and "communities" in scanned, scanned
