"""dashboard/warmup.py's database warm-up (run by dashboard/web.py before /_stcore/health
answers; tests/test_static_cache.py checks that in a real server): which tables it reads, that
it leaves the pages' shared connection open and no query result cached, and that a broken
database file is logged, not raised."""
from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import duckdb

from dashboard import cache, warmup
from dashboard.queries import base
from sweep import left_to_full_run

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


@left_to_full_run
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


@left_to_full_run
def test_warm_streamlit_does_streamlits_once_per_process_work():
    """In a new process (this one may have rendered pages already): after the imports, the
    emoji catalog is not loaded and inspect has mapped no module to its file; warm_streamlit
    does both, which a page's first elements would otherwise do."""
    probe = ("import inspect, json, sys\n"
             "from dashboard import warmup\n"
             "warmup.preload()\n"
             "state = lambda: ['streamlit.emojis' in sys.modules, len(inspect._filesbymodname)]\n"
             "before = state(); warmup.warm_streamlit()\n"
             "print(json.dumps([before, state()]))\n")
    done = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    before, after = json.loads(done.stdout.strip().splitlines()[-1])
    assert before == [False, 0]
    assert after[0] is True and after[1] > 500


def test_start_logs_a_failing_step_and_runs_the_others(db, monkeypatch, caplog):
    def warm_streamlit():
        raise RuntimeError("no emoji today")

    monkeypatch.setattr(warmup, "warm_streamlit", warm_streamlit)
    cache.clear()
    with caplog.at_level(logging.WARNING, logger="dashboard.warmup"):
        warmup.start()
    assert "warm_streamlit failed" in caplog.text
    assert cache._open_identity, "warm_database did not run after the failing step"


@left_to_full_run
def test_the_servers_start_up_freezes_what_it_built_out_of_full_collections(cockpit_db):
    """dashboard/web.py's lifespan, in a new process: after start-up the objects it built are in
    the collector's permanent generation, so the full collection Streamlit runs after every
    script walks only what came later; they are unfrozen when the server stops."""
    probe = ("import asyncio, gc, json\n"
             "from dashboard import web\n"
             "async def main():\n"
             "    async with web.lifespan(None):\n"
             "        inside = [gc.get_freeze_count(), len(gc.get_objects())]\n"
             "    return inside + [gc.get_freeze_count()]\n"
             "print(json.dumps(asyncio.run(main())))\n")
    done = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "COCKPIT_DB": str(cockpit_db)})
    assert done.returncode == 0, done.stderr[-2000:]
    frozen, tracked, after = json.loads(done.stdout.strip().splitlines()[-1])
    assert frozen > 50_000                       # pandas, plotly, Streamlit, the page modules
    assert tracked < frozen / 4                  # what a full collection still walks
    assert after == 0
