"""Grid cases: SLA rankings hide small groups; backlog and volume agree with the raw rows."""
from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd
import pytest
from pages_fixture import AS_OF, expected_grid, raw

from dashboard.filters import Filters
from etl import codes, marts
from etl.dbfile import ensure_schema
from dashboard.queries import common, grid as q
from dashboard.queries import overview

WEEK = Filters(date_from=date(2026, 6, 17), date_to=date(2026, 6, 30))


@pytest.mark.parametrize("dimension", q.RANK_DIMENSIONS)
def test_rankings_hide_groups_below_five_due_cases(con, cockpit_db, dimension):
    got = q.sla_by(con, WEEK, dimension)
    assert (got["due"] >= q.MIN_GROUP_CASES).all()
    reports = raw(cockpit_db, "grid_reports")
    r = reports[(reports["reported_at"] >= pd.Timestamp(WEEK.date_from))
                & (reports["reported_at"] < pd.Timestamp(AS_OF) + pd.Timedelta(days=1))]
    expected = {}
    for key, part in r.groupby(dimension):
        e = expected_grid(part, WEEK.date_from, AS_OF, common.SLA_HOURS, common.DEFAULT_SLA_HOURS)
        hours = part["category"].map(common.SLA_HOURS).fillna(common.DEFAULT_SLA_HOURS)
        end = pd.Timestamp(AS_OF) + pd.Timedelta(days=1)
        resolved = part["resolved_at"].notna() & (part["resolved_at"] < end)
        closed = part["resolved_at"].isna() & part["status"].isin(codes.CLOSED_STATUSES)
        due = (resolved | (part["reported_at"] + pd.to_timedelta(hours, unit="h") <= end) | closed).sum()
        if due >= q.MIN_GROUP_CASES:
            expected[key] = e["sla_share"]
    assert got.set_index(dimension)["share"].to_dict() == pytest.approx(expected)
    assert len(expected) < r[dimension].nunique() or dimension == "category" or len(r) == 0


def test_backlog_counts_open_cases(con, cockpit_db):
    b = q.backlog(con, Filters(date_to=AS_OF))
    e = expected_grid(raw(cockpit_db, "grid_reports"), None, AS_OF, common.SLA_HOURS,
                      common.DEFAULT_SLA_HOURS)
    assert b["cases"].sum() == e["open_cases"]
    assert set(b["age_bucket"]) <= {k for k, _, _ in q.AGE_BUCKETS}


def test_volume_and_heatmap_count_the_period(con, cockpit_db):
    f = Filters(date_from=date(2026, 4, 1), date_to=AS_OF)      # 91 days: weekly bars
    reports = raw(cockpit_db, "grid_reports")
    n = (reports["reported_at"] >= pd.Timestamp(f.date_from)).sum()
    v = q.volume(con, f)
    assert v["reports"].sum() == n and v["grain"].iloc[0] == "week"
    assert q.heatmap(con, f)["reports"].sum() == n
    assert q.volume(con, Filters(date_to=AS_OF))["grain"].iloc[0] == "month"


def test_sla_rules_decide_the_marts_sla(tmp_path):
    # 噪音扰民 has a 24 h SLA: a case resolved after 30 h misses it, one with the 72 h default
    # meets it - in grid_cases, and in the grid_daily summary the KPIs read
    assert common.SLA_HOURS["噪音扰民"] == 24 and common.DEFAULT_SLA_HOURS == 72
    c = duckdb.connect(str(tmp_path / "sla.duckdb"))
    ensure_schema(c)
    c.execute("""INSERT INTO grid_reports (report_id, reported_at, community, grid_id, category,
                 status, resolved_at, source_load_id) VALUES
                 ('A', TIMESTAMP '2026-06-01 00:00', 'X', 'G', '噪音扰民', '已办结',
                  TIMESTAMP '2026-06-02 06:00', 1),
                 ('B', TIMESTAMP '2026-06-01 00:00', 'X', 'G', '停车管理', '已办结',
                  TIMESTAMP '2026-06-02 06:00', 1)""")
    marts.build(c)
    on_time = c.execute("SELECT on_time FROM grid_cases ORDER BY report_id").fetchall()
    assert on_time == [(False,), (True,)]
    rows = c.execute("SELECT category, sla_due_by[2], sla_met_by[2], sla_met_by[-1]"
                     " FROM grid_daily WHERE reports > 0 ORDER BY category").fetchall()
    c.close()
    # the day after the report (index 2): both resolved, so both due; only 停车管理 met
    assert sorted(rows) == sorted([("噪音扰民", 1, 0, 0), ("停车管理", 1, 1, 1)])


def test_grid_kpis_match_raw(con, cockpit_db):
    f = Filters(date_from=date(2026, 6, 1), date_to=AS_OF, community="夏荷社区")
    k = overview.grid_kpis(con, f).iloc[0]
    reports = raw(cockpit_db, "grid_reports")
    e = expected_grid(reports[reports["community"] == "夏荷社区"], f.date_from, AS_OF,
                      common.SLA_HOURS, common.DEFAULT_SLA_HOURS)
    assert k["open_cases"] == e["open_cases"] and k["reports"] == e["reports"]
    assert k["sla_share"] == pytest.approx(e["sla_share"])
    assert k["median_resolution_hours"] == pytest.approx(e["median_hours"])


@pytest.mark.parametrize("dimension", q.DAILY_DIMENSIONS)
@pytest.mark.parametrize("scope", [None, ("春晖社区",)])
def test_rankings_from_the_daily_summary_equal_the_per_report_rankings(con, dimension, scope):
    """sla_by reads grid_daily for these dimensions: the same rows, counts and shares as the
    per-report query over grid_cases_at, for several periods and filters, in two scopes."""
    from dashboard.queries.base import Scope, fetch, use_scope

    periods = [WEEK, Filters(date_to=AS_OF), Filters(date_from=date(2026, 2, 3), date_to=date(2026, 5, 20)),
               Filters(date_from=date(2026, 3, 1), date_to=AS_OF, category="噪音扰民"),
               Filters(date_from=date(2026, 1, 1), date_to=date(2026, 4, 10), community="秋实社区")]
    role = Scope() if scope is None else Scope(role="community", communities=scope)
    found = 0
    with use_scope(role):
        for f in periods:
            params = common.period_params(con, f, min_cases=1)
            per_report = fetch(con, q.SLA_BY[dimension], params, min_group="due")
            daily = fetch(con, q.SLA_BY_DAILY[dimension], params, min_group="due")
            pd.testing.assert_frame_equal(daily, per_report)
            found += len(per_report)
    assert found >= 3          # not vacuous (one community in scope: one row a period)
