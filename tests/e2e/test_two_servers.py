"""Beyond one machine, demonstrated here: two real cockpit servers on one published database
(as behind a reverse proxy with sticky sessions), a load in between, and both serve the new
snapshot without an error, in real Chromium and through the query layer."""
from __future__ import annotations

import urllib.request
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from dashboard.cockpit_server import cockpit
from dashboard.request_guard import RequestGuard
from etl.load import load_paths
from tests.e2e.conftest import errors_on, wait_idle

pytestmark = pytest.mark.e2e

HEADER = "事件编号,上报时间,街道,社区,网格编号,事件类型,事件描述,处置状态\n"


def _grid_csv(path: Path, prefix: str, n: int, at: datetime) -> Path:
    rows = [f"{prefix}-{i:04d},{(at - timedelta(minutes=i)):%Y-%m-%d %H:%M:%S},清河街道,"
            f"{'毛纺北社区' if i % 2 else '清上园社区'},QH-01-0{i % 5},噪音扰民,夜间施工,处置中\n"
            for i in range(n)]
    path.write_text(HEADER + "".join(rows), encoding="utf-8")
    return path


def _metric(page, label: str) -> int:
    card = page.locator('[data-testid="stMetric"]').filter(
        has=page.locator('[data-testid="stMetricLabel"]', has_text=label)).first
    return int(card.locator('[data-testid="stMetricValue"]').inner_text().strip().replace(",", ""))


def _health(url: str) -> str:
    with urllib.request.urlopen(url + "/_stcore/health", timeout=5) as r:
        return r.read().decode().strip()


def _reported(page, url: str) -> int:
    page.goto(url + "/grid")
    wait_idle(page, 60)
    assert errors_on(page) == []
    return _metric(page, "期内上报")


def test_two_servers_switch_to_the_next_snapshot(browser, tmp_path):
    db = tmp_path / "cockpit.duckdb"
    at = datetime(2026, 11, 20, 18, 0)
    first = load_paths([_grid_csv(tmp_path / "网格事件_1.csv", "TS-A", 300, at)], db, progress=None)
    assert [r.status for r in first] == ["loaded"]
    with cockpit(db) as one, cockpit(db) as two:
        contexts = []
        try:
            pages = []
            for server in (one, two):
                assert _health(server.url) == "ok"
                context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
                guard = RequestGuard(server.url).install(context)
                contexts.append((context, guard))
                pages.append(context.new_page())
            before = [_reported(p, s.url) for p, s in zip(pages, (one, two))]
            assert before[0] == before[1] > 0
            # the next snapshot, published while both servers hold the old one open
            second = load_paths([_grid_csv(tmp_path / "网格事件_2.csv", "TS-B", 40, at)], db, progress=None)
            assert [r.status for r in second] == ["loaded"]
            after = [_reported(p, s.url) for p, s in zip(pages, (one, two))]
            assert after == [before[0] + 40, before[1] + 40]
            for server in (one, two):
                assert _health(server.url) == "ok"
                assert "Traceback" not in server.log.read_text(errors="replace")
        finally:
            for context, guard in contexts:
                context.close()
                assert not guard.blocked, guard.urls()
    with duckdb.connect(str(db), read_only=True) as con:     # the published catalog and its files
        assert con.execute("SELECT count(*) FROM grid_reports").fetchone()[0] == 340
        assert con.execute("SELECT count(*) FROM etl_storage.parts WHERE table_name = 'grid_reports'").fetchone()[0] >= 2
