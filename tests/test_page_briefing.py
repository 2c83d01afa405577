"""Weekly briefing: ISO weeks, and the page's numbers equal an independent computation from the raw rows."""
from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from dashboard.charts.briefing import EXPECTED_CHARTS
from dashboard.queries import briefing as q
from dashboard.safe import md
from etl import marts
from etl.dbfile import ensure_schema
from sweep import left_to_full_run

PAGE = str(Path(__file__).resolve().parents[1] / "pages" / "briefing.py")
COMMUNITIES = ["东湖社区", "西岭社区", "南苑社区"]
WEEK, MONDAY, SUNDAY = "2026-W47", dt.date(2026, 11, 16), dt.date(2026, 11, 22)


# --- ISO weeks ---
@pytest.mark.parametrize("text, expected", [
    ("2026-W47", (2026, 47)), ("2026-w01", (2026, 1)), ("2026-W53", (2026, 53)),
    ("2025-W53", None), ("2026-47", None), ("", None), (None, None), ("2026-W00", None),
])
def test_parse_week(text, expected):
    assert q.parse_week(text) == expected


def test_week_bounds_and_last_complete_week():
    assert q.week_bounds(WEEK) == (MONDAY, SUNDAY)
    assert q.last_complete_week(SUNDAY) == WEEK                       # a Sunday completes it
    assert q.last_complete_week(dt.date(2026, 11, 21)) == "2026-W46"  # Saturday: not yet
    assert q.last_complete_week(dt.date(2027, 1, 3)) == "2026-W53"
    assert q.recent_weeks(SUNDAY, 3) == ["2026-W47", "2026-W46", "2026-W45"]
    with pytest.raises(ValueError):
        q.week_bounds("W47")


# --- a small database with two weeks of activity ---
def _frames(rng) -> dict[str, pd.DataFrame]:
    n = 300
    reported = pd.Timestamp("2026-11-02") + pd.to_timedelta(rng.integers(0, 21 * 24, n), unit="h")
    reports = pd.DataFrame({
        "report_id": [f"R{i}" for i in range(n)], "reported_at": reported, "street": "滨江街道",
        "community": rng.choice(COMMUNITIES, n), "grid_id": "G1",
        "category": rng.choice(["环境卫生", "噪音扰民"], n), "status": "已办结",
        "resolved_at": reported + pd.to_timedelta(rng.integers(1, 100, n), unit="h"),
        "satisfaction": rng.integers(1, 6, n), "source_load_id": 1})
    submitted = pd.Timestamp("2026-11-02") + pd.to_timedelta(rng.integers(0, 21 * 24, 200), unit="h")
    feedback = pd.DataFrame({
        "feedback_id": [f"F{i}" for i in range(200)], "submitted_at": submitted,
        "street": "滨江街道", "community": rng.choice(COMMUNITIES, 200),
        "text": "楼下停车太难了", "rating": rng.integers(1, 6, 200), "source_load_id": 1})
    projects = pd.DataFrame({
        "project_id": ["P1", "P2", "P3"], "name": ["加装电梯一期", "睦邻食堂", "楼道整治"],
        "street": "滨江街道", "community": COMMUNITIES, "category": ["加装电梯", "养老", "环境整治"],
        "lead_party": "居委会", "lead_party_type": "社区", "stage": ["实施", "实施", "结项"],
        "planned_start_on": [dt.date(2026, 1, 1)] * 3,
        "planned_end_on": [dt.date(2026, 11, 19), dt.date(2026, 10, 1), dt.date(2026, 11, 18)],
        "budget_yuan": [100000.0, 50000.0, 20000.0], "progress_pct": [90.0, 40.0, 100.0],
        "last_updated_at": pd.Timestamp("2026-11-20"), "archived": True, "source_load_id": 1})
    txn_on = [MONDAY + dt.timedelta(days=int(d)) for d in rng.integers(-7, 7, 40)]
    txns = pd.DataFrame({
        "txn_id": [f"T{i}" for i in range(40)], "txn_on": txn_on,
        "project_id": rng.choice(["P1", "P2", "P3"], 40),
        "direction": np.where(np.arange(40) % 3 == 0, "out", "in"),
        "source_type": "财政拨款", "expense_category": "物资",
        "amount_yuan": rng.integers(100, 5000, 40).astype(float), "in_kind": False,
        "source_load_id": 1})
    milestones = pd.DataFrame({   # P1's falls due this week (a new warning), P2's long ago (not new)
        "project_id": ["P1", "P2"], "milestone": ["竣工验收", "开业"],
        "planned_on": [dt.date(2026, 11, 18), dt.date(2026, 9, 1)], "done_on": [None, None],
        "source_load_id": 1})
    return {"grid_reports": reports, "feedback": feedback, "projects": projects,
            "fund_transactions": txns, "project_milestones": milestones}


def _pain_points(con) -> None:
    con.execute("""
        INSERT INTO pain_points (month_on, scope, rank, pain_point_id, label, keywords, size, share,
                                 heat, representative_ids, representative_texts)
        VALUES ('2026-11-01', '全街道', 1, 'pp1', '停车难', ['停车'], 80, 0.4, 1.0, ['F1'],
                ['楼下停车太难了，晚上回来根本没有车位']),
               ('2026-11-01', '全街道', 2, 'pp2', '加装电梯', ['电梯'], 50, 0.25, 0.8, ['F2'],
                ['老人爬六楼太辛苦，盼望早日加装电梯']),
               ('2026-11-01', '全街道', 3, 'pp3', '噪音扰民', ['噪音'], 30, 0.15, 0.5, ['F3'],
                ['夜里广场舞音响太吵'])""")


def _build(path: Path, frames: dict[str, pd.DataFrame], pain: bool) -> None:
    con = duckdb.connect(str(path))
    ensure_schema(con)
    for table, df in frames.items():
        con.register("src", df)
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM src")
        con.unregister("src")
    con.execute("""INSERT INTO etl_loads (load_id, path, sha256, started_at, finished_at, status)
                   VALUES (1, 'x.csv', 'abc', '2026-11-23 06:00', '2026-11-23 06:01:30', 'loaded')""")
    if pain:
        _pain_points(con)
    marts.build(con)          # as every ETL write ends
    con.close()


@pytest.fixture(scope="module")
def briefing_template(tmp_path_factory) -> tuple[Path, dict[str, pd.DataFrame]]:
    """Built once per module; each test gets its own copy of the file (briefing_db)."""
    frames = _frames(np.random.default_rng(11))
    path = tmp_path_factory.mktemp("briefing") / "cockpit.duckdb"
    _build(path, frames, pain=True)
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]    # one file to copy
    return path, frames


@pytest.fixture()
def briefing_db(briefing_template, tmp_path, monkeypatch):
    template, frames = briefing_template
    path = tmp_path / "cockpit.duckdb"
    shutil.copyfile(template, path)
    monkeypatch.setenv("COCKPIT_DB", str(path))
    return {name: df.copy() for name, df in frames.items()}


def _page(**params) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=30)
    for k, v in params.items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, at.exception
    return at


def _metric(at: AppTest, key: str) -> str:
    from dashboard.i18n import t
    label = t(f"briefing.kpi.{key}", "zh")
    return next(m.value for m in at.metric if m.label == label)


def test_page_reads_the_week_from_the_url_and_kpis_match(briefing_db):
    at = _page(week=WEEK)
    assert not at.error
    assert WEEK in at.title[0].value
    r = briefing_db["grid_reports"]
    in_week = r[(r.reported_at >= "2026-11-16") & (r.reported_at < "2026-11-23")]
    assert _metric(at, "reports") == f"{len(in_week):,}"
    fb = briefing_db["feedback"]
    assert _metric(at, "feedback") == f"{((fb.submitted_at >= '2026-11-16') & (fb.submitted_at < '2026-11-23')).sum():,}"
    t = briefing_db["fund_transactions"]
    week_t = t[(t.txn_on >= MONDAY) & (t.txn_on <= SUNDAY)]
    assert _metric(at, "funds_in_yuan") == f"¥{week_t[week_t.direction == 'in'].amount_yuan.sum():,.0f}"
    assert _metric(at, "funds_out_yuan") == f"¥{week_t[week_t.direction == 'out'].amount_yuan.sum():,.0f}"
    assert len(at.get("plotly_chart")) == EXPECTED_CHARTS
    assert "2026-11-23 06:01" in at.caption[0].value       # the "as of" stamp = last load


def test_week_over_week_delta(briefing_db):
    at = _page(week=WEEK)
    r = briefing_db["grid_reports"]
    now = ((r.reported_at >= "2026-11-16") & (r.reported_at < "2026-11-23")).sum()
    before = ((r.reported_at >= "2026-11-09") & (r.reported_at < "2026-11-16")).sum()
    label = "新增网格事件"
    metric = next(m for m in at.metric if m.label == label)
    assert metric.delta == f"{now - before:+,}"


def test_community_scope_restricts_every_number(briefing_db):
    at = _page(week=WEEK, community="西岭社区")
    assert "西岭社区" in at.title[0].value
    r = briefing_db["grid_reports"]
    mask = (r.reported_at >= "2026-11-16") & (r.reported_at < "2026-11-23") & (r.community == "西岭社区")
    assert _metric(at, "reports") == f"{mask.sum():,}"
    text = " ".join(m.value for m in at.markdown)
    assert "睦邻食堂" in text and "加装电梯一期" not in text


def test_pain_points_quotes_due_projects_and_warnings(briefing_db):
    at = _page(week=WEEK)
    text = " ".join(m.value for m in at.markdown)
    for label, quote in [("停车难", "楼下停车太难了"), ("加装电梯", "老人爬六楼"), ("噪音扰民", "广场舞")]:
        assert label in text and quote in text
    assert "加装电梯一期" in text and "本周到期" in text     # due 11-19, still 实施
    assert "睦邻食堂" in text and "已逾期" in text          # due 10-01, still 实施
    assert "楼道整治" not in text                          # finished (结项): neither due nor warned
    warnings = [m.value for m in at.markdown if "逾期里程碑" in m.value]
    assert len(warnings) == 1 and "加装电梯一期" in warnings[0] and "睦邻食堂" not in warnings[0]


@left_to_full_run
def test_empty_pain_points_show_a_note(tmp_path, monkeypatch):
    path = tmp_path / "nopain.duckdb"
    _build(path, _frames(np.random.default_rng(3)), pain=False)
    monkeypatch.setenv("COCKPIT_DB", str(path))
    at = _page(week=WEEK)
    assert any("痛点分析" in c.value for c in at.caption)


@left_to_full_run
def test_default_week_is_the_last_complete_week(briefing_db):
    at = _page()
    # latest data date is within 2026-11-22 (a Sunday) or earlier -> W47 or before
    assert at.selectbox(key="briefing_week").value in ("2026-W47", "2026-W46")


def test_invalid_week_and_unknown_community_are_errors(briefing_db):
    # the week came from the URL: shown as text (escaped Markdown source), never as markup
    assert md("2026-W99") in _page(week="2026-W99").error[0].value
    assert "不存在社区" in _page(week=WEEK, community="不存在社区").error[0].value


@left_to_full_run
def test_english(briefing_db):
    at = AppTest.from_file(PAGE, default_timeout=30)
    from dashboard.filters import Filters
    at.session_state["filters"] = Filters(lang="en")
    at.query_params["week"] = WEEK
    at.run()
    assert not at.exception and "weekly briefing" in at.title[0].value
