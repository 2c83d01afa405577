"""The overview's median resolution time over a long period, taken from the durations in the
buckets grid_resolution_monthly says hold the median (dashboard/queries/resolution.py), is the
plain median over every case (overview.GRID_KPIS, the query docs/METRICS.md documents), bit for
bit, for periods, filters and scopes; and a catalog without the summary gives it too."""
from __future__ import annotations

import math
import random
import shutil
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from shared_readers import share

from dashboard.filters import Filters
from dashboard.queries import overview, resolution
from dashboard.queries.base import Scope, fetch, use_scope
from dashboard.queries.common import period_params
from etl.load import load_paths
from sweep import case, left_to_full_run

HEADER = "事件编号,上报时间,街道,社区,网格编号,事件类型,事件描述,处置状态,办结时间,满意度\n"
COMMUNITIES = ("清河一社区", "美和园社区", "毛纺北社区")
CATEGORIES = ("噪音扰民", "消防安全", "环境卫生")
START = datetime(2025, 1, 1)


def row(rng: random.Random, key: str) -> str:
    reported = START + timedelta(seconds=rng.randrange(0, 300 * 86400))
    # most cases resolved with a time; a few closed without one or still open
    status, resolved = rng.choices((("已办结", True), ("已关闭", False), ("处置中", False)), (90, 7, 3))[0]
    # durations to the second, skewed (most within days, a tail of months)
    took = timedelta(seconds=int(rng.lognormvariate(11, 1.6))) if resolved else None
    community = rng.choice(COMMUNITIES)
    return ",".join((key, reported.strftime("%Y-%m-%d %H:%M:%S"), "清河街道", community,
                     f"QH-0{rng.randrange(1, 4)}-01", rng.choice(CATEGORIES), "描述", status,
                     (reported + took).strftime("%Y-%m-%d %H:%M:%S") if took else "", ""))


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("median")
    rng = random.Random(3)
    path = folder / "cockpit.duckdb"
    csv = folder / "grid.csv"
    csv.write_text(HEADER + "\n".join(row(rng, f"G{i:05d}") for i in range(6000)) + "\n", encoding="utf-8")
    assert [r.status for r in load_paths([csv], path, progress=None)] == ["loaded"]
    return share(path)      # read-only from here: one DuckDB instance for the module's readers


LONG = (Filters(), Filters(date_from=date(2025, 1, 1), date_to=date(2025, 10, 27)),
        Filters(date_from=date(2025, 2, 14), date_to=date(2025, 9, 3)),
        Filters(date_from=date(2025, 3, 1), date_to=date(2025, 8, 31), category="消防安全"),
        Filters(date_from=date(2025, 1, 20), date_to=date(2025, 12, 31), community="美和园社区"),
        Filters(date_to=date(2025, 7, 15)))
SCOPES = {"leader": Scope(), "community": Scope(communities=("清河一社区",), role="community"),
          "public": Scope(role="public")}


def plain(con, f: Filters) -> float:
    return fetch(con, overview.GRID_KPIS, period_params(con, f),
                 mask=overview._GRID_MASK)["median_resolution_hours"].iloc[0]


# the fast loop keeps the street-wide case (tests/sweep.py left_to_full_run)
@pytest.mark.parametrize("role", [case(r, fast=r == "leader", id=r) for r in sorted(SCOPES)])
def test_the_bracketed_median_is_the_plain_median(db, role):
    con = duckdb.connect(str(db), read_only=True)
    try:
        with use_scope(SCOPES[role]):
            used = seen = 0
            for f in LONG:
                params = period_params(con, f)
                used += resolution.bracket(con, f, params) is not None
                got = overview.grid_kpis(con, f)["median_resolution_hours"].iloc[0]
                want = plain(con, f)
                # bit for bit, not approximately (NaN: a community filter outside the scope)
                assert got == want or (math.isnan(got) and math.isnan(want)), f
                seen += not math.isnan(got)
            # short periods and a grid filter take the plain median
            for f in (Filters(date_from=date(2025, 5, 1), date_to=date(2025, 5, 31)),
                      Filters(grid_id="QH-01-01")):
                assert resolution.bracket(con, f, period_params(con, f)) is None
                assert overview.grid_kpis(con, f)["median_resolution_hours"].iloc[0] == plain(con, f)
    finally:
        con.close()
    assert used >= 4 and seen >= 5, "the bracket was hardly used: the comparison checks little"


def test_the_bracket_keeps_few_cases_and_the_middle_ones(db):
    con = duckdb.connect(str(db), read_only=True)
    try:
        f = LONG[1]
        params = period_params(con, f)
        b = resolution.bracket(con, f, params)
        kept = con.execute("SELECT count(*) FILTER (WHERE hours_to_resolve >= $lo AND hours_to_resolve < $hi),"
                           " count(*), median(hours_to_resolve) FROM grid_resolutions",
                           {"lo": b["lo_hours"], "hi": b["hi_hours"]}).fetchone()
        assert 0 < kept[0] <= resolution.BRACKET_MAX_SHARE * kept[1]
        assert b["lo_hours"] <= kept[2] < b["hi_hours"]
    finally:
        con.close()


def test_a_catalog_without_the_summary_gives_the_same_median(db, tmp_path):
    old, older = tmp_path / "old.duckdb", tmp_path / "older.duckdb"
    shutil.copyfile(db, old)
    with duckdb.connect(str(old)) as con:
        con.execute("DROP TABLE grid_resolution_monthly")
    shutil.copyfile(old, older)
    with duckdb.connect(str(older)) as con:       # written before grid_resolutions too
        con.execute("DROP VIEW grid_resolutions")
    f = LONG[1]
    values = []
    for path in (db, old, older):
        con = duckdb.connect(str(path), read_only=True)
        try:
            values.append(overview.grid_kpis(con, f)["median_resolution_hours"].iloc[0])
            if path != db:
                assert resolution.bracket(con, f, period_params(con, f)) is None
        finally:
            con.close()
    assert values[0] == values[1] == values[2] and values[0] > 0


# grid_kpis' counts as one scan of grid_daily with FILTER clauses (the form before session 10,
# which now reads them with a WHERE per scan): the reference for the same sums
ONE_SCAN = """
    SELECT COALESCE(sum(g.opened - g.closed) FILTER (WHERE g.day_on <= $as_of), 0)::BIGINT AS open_cases,
           COALESCE(sum(g.reports) FILTER (WHERE {in_period}), 0)::BIGINT AS reports,
           COALESCE(sum(count_at(g.sla_due_by, g.day_on, $as_of)) FILTER (WHERE {in_period}), 0)::BIGINT AS sla_due,
           COALESCE(sum(count_at(g.sla_met_by, g.day_on, $as_of)) FILTER (WHERE {in_period}), 0)::BIGINT AS sla_met
    FROM {grid_daily} g WHERE {where}
""".replace("{in_period}", overview.DAYS_IN_PERIOD).replace("{where}", overview.GRID_FILTERS)
SHORT = (Filters(date_from=date(2025, 5, 5), date_to=date(2025, 5, 11)),          # a week
         Filters(date_from=date(2025, 5, 5), date_to=date(2025, 5, 11), grid_id="QH-02-01"),
         Filters(date_from=date(2024, 5, 1), date_to=date(2024, 12, 31)),         # before the data
         Filters(date_from=date(2025, 10, 1), date_to=date(2026, 3, 1)))          # past its end


@pytest.mark.parametrize("role", sorted(SCOPES))
@left_to_full_run
def test_the_kpi_counts_are_the_one_scan_sums(db, role):
    con = duckdb.connect(str(db), read_only=True)
    try:
        with use_scope(SCOPES[role]):
            nonzero = 0
            for f in (*LONG, *SHORT):
                got = overview.grid_kpis(con, f)
                want = fetch(con, ONE_SCAN, period_params(con, f), mask=overview._GRID_MASK)
                for col in ("open_cases", "reports", "sla_due", "sla_met"):
                    a, b = got[col].iloc[0], want[col].iloc[0]
                    assert a == b or (math.isnan(a) and math.isnan(b)), (f, col)
                nonzero += bool(got["reports"].iloc[0] > 0) and bool(got["open_cases"].iloc[0] > 0)
    finally:
        con.close()
    assert nonzero >= 5
