"""The leader's overview: headline KPIs for a period, the month's pain points, the alert list.

Every KPI is one aggregate over one mart (etl/marts, docs/METRICS.md) for the filters' period;
the page calls the same function with `Filters.previous_period()` for the change. As-of = the
end of the period's last day.
- open cases, reports, SLA due/met and share: the grid_daily summary (written at load time);
- median resolution hours: grid_resolutions over the period's reports resolved by as-of (a
  median cannot be summed from a summary; the period bounds let the scan skip other months' row
  groups; the view carries no SLA join, which cost a third of the scan at 10M); a long period
  keeps only the durations in the buckets grid_resolution_monthly says hold the median
  (dashboard/queries/resolution.py), the same figure;
- feedback volume / average rating: the feedback_daily summary, messages submitted in the
  period (no category filter: feedback carries none);
- funds in / out: the fund_daily summary (fund_flows' entries summed by day), ledger entries
  dated in the period, in-kind help at its value.
"""
from __future__ import annotations

import duckdb
import pandas as pd

from dashboard.filters import Filters
from dashboard.queries import fund_reads
from dashboard.queries import projects as pq
from dashboard.queries import resolution
from dashboard.queries.base import fetch, filter_sql, sql
from dashboard.queries.common import period_params
from etl import codes

ALERT_LIMIT = 12

GRID_FILTERS = filter_sql("g", None, grid=True, category="category")
# grid_daily rows of the period's reports ($date_from may be open)
DAYS_IN_PERIOD = "($date_from IS NULL OR g.day_on >= $date_from) AND g.day_on <= $as_of"

# two scans of grid_daily, each with its own WHERE (not one with FILTER clauses): the SLA count
# lists are read for the period's rows only, and the open count reads three narrow columns. A
# week's KPIs (the briefing) 0.033 -> 0.008 s CPU at 1M reports; the same sums.
_GRID_KPIS = """
    WITH open_at AS (
        SELECT sum(g.opened - g.closed)::BIGINT AS open_cases
        FROM {grid_daily} g
        WHERE {where} AND g.day_on <= $as_of
    ), daily AS (
        SELECT COALESCE(sum(g.reports), 0)::BIGINT AS reports,
               COALESCE(sum(count_at(g.sla_due_by, g.day_on, $as_of)), 0)::BIGINT AS sla_due,
               COALESCE(sum(count_at(g.sla_met_by, g.day_on, $as_of)), 0)::BIGINT AS sla_met
        FROM {grid_daily} g
        WHERE {where} AND {in_period}
    ), resolution AS ({resolution}
    )
    SELECT COALESCE(open_at.open_cases, 0) AS open_cases, daily.reports, daily.sla_due,
           daily.sla_met, daily.sla_met / NULLIF(daily.sla_due, 0) AS sla_share,
           resolution.median_resolution_hours, resolution.bracket_ok
    FROM open_at, daily, resolution
"""
# the median over every case of the period, or over the durations in $b_lo..$b_hi only
# (dashboard/queries/resolution.py): the same figure
GRID_KPIS = sql(_GRID_KPIS, where=GRID_FILTERS, in_period=DAYS_IN_PERIOD,
                resolution=resolution.RESOLUTION_PLAIN)
GRID_KPIS_BRACKETED = sql(_GRID_KPIS, where=GRID_FILTERS, in_period=DAYS_IN_PERIOD,
                          resolution=resolution.RESOLUTION_BRACKETED)
GRID_KPIS_CASES_AT = sql(_GRID_KPIS, where=GRID_FILTERS, in_period=DAYS_IN_PERIOD,
                         resolution=resolution.RESOLUTION_CASES_AT)
_GRID_MASK = {"reports": ("sla_due", "sla_met", "sla_share", "median_resolution_hours"),
              "open_cases": (), "sla_due": ("sla_met", "sla_share")}

FEEDBACK_KPIS = sql("""
    SELECT COALESCE(sum(fb.messages), 0)::BIGINT AS feedback,
           sum(fb.rating_sum) / NULLIF(sum(fb.rated), 0) AS avg_rating
    FROM {feedback_daily} fb
    WHERE {where} AND ($date_from IS NULL OR fb.day_on >= $date_from) AND fb.day_on <= $as_of
""", where=filter_sql("fb", None, grid=True))

FUND_KPIS = fund_reads.summed("""
    SELECT COALESCE(sum(t.amount_yuan) FILTER (WHERE t.direction = 'in'), 0)::DOUBLE AS funds_in_yuan,
           COALESCE(sum(t.amount_yuan) FILTER (WHERE t.direction = 'out'), 0)::DOUBLE AS funds_out_yuan,
           COALESCE(sum(t.amount_yuan) FILTER (WHERE t.direction = 'in' AND t.in_kind), 0)::DOUBLE
               AS in_kind_yuan
    FROM {flows} t
    WHERE {where} AND {in_period}
""", where=fund_reads.FLOW_FILTERS, in_period=fund_reads.IN_PERIOD)

TOP_PAIN_POINTS = """
    SELECT rank, label, size, share, growth, months_in_top3, representative_texts[1] AS quote
    FROM {pain_points}
    WHERE scope = $scope
      AND month_on = (SELECT max(month_on) FROM {pain_points}
                      WHERE scope = $scope AND month_on <= $as_of)
    ORDER BY rank
"""

TOP_HOT_SPOTS = """
    SELECT rank, place, label, size, baseline, share, representative_texts[1] AS quote
    FROM {hot_spots}
    WHERE scope = $scope AND rank <= 3
      AND month_on = (SELECT max(month_on) FROM {pain_point_months} WHERE month_on <= $as_of)
    ORDER BY rank
"""


def grid_kpis(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """One row: open cases at as-of, reports, SLA due/met counts and share, median hours."""
    params = period_params(con, f)
    buckets = resolution.bracket(con, f, params)
    if buckets is not None:
        df = fetch(con, GRID_KPIS_BRACKETED, {**params, **buckets}, mask=_GRID_MASK)
        if bool(df["bracket_ok"].iloc[0]):
            return df.drop(columns="bracket_ok")
    try:
        df = fetch(con, GRID_KPIS, params, mask=_GRID_MASK)
    except duckdb.CatalogException:     # a catalog from before grid_resolutions (until its next write)
        df = fetch(con, GRID_KPIS_CASES_AT, params, mask=_GRID_MASK)
    return df.drop(columns="bracket_ok")


def feedback_kpis(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """One row: messages submitted in the period and their average rating (1..5)."""
    return fetch(con, FEEDBACK_KPIS, period_params(con, f), mask={"feedback": ("avg_rating",)})


def fund_kpis(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """One row: yuan in, out and in-kind (valued) in the period, for projects in the filters."""
    return fund_reads.read(con, FUND_KPIS, period_params(con, f))


def project_kpis(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """One row: active projects and the share of running projects on schedule."""
    return pq.summary(con, f)[["active", "running", "on_schedule_share"]]


def kpis(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """One row with every overview KPI for the filters' period (see the module docstring)."""
    parts = [grid_kpis(con, f), feedback_kpis(con, f), project_kpis(con, f), fund_kpis(con, f)]
    return pd.concat([p.reset_index(drop=True) for p in parts], axis=1)


def top_pain_points(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """Up to three rows: the as-of month's top pain points for the community (or whole street).

    Empty when the pain-point tables are empty (the engine has not run yet).
    """
    return fetch(con, TOP_PAIN_POINTS,
                 period_params(con, f, scope=f.community or codes.WHOLE_STREET))


def top_hot_spots(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """Up to three rows: the top hot spots (place, pain point) of the latest month the engine
    clustered up to as-of (the month of the top pain points); empty when it has none."""
    return fetch(con, TOP_HOT_SPOTS,
                 period_params(con, f, scope=f.community or codes.WHOLE_STREET))


def alerts(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """Up to ALERT_LIMIT rows: project early warnings, worst first within each rule."""
    w = pq.warnings(con, f).sort_values("value", ascending=False, ignore_index=True)
    order = {rule: i for i, rule in enumerate(pq.ALL_RULES)}
    # round-robin over the rules so one noisy rule cannot fill the list
    w["_n"] = w.groupby("rule").cumcount()
    w["_o"] = w["rule"].map(order)
    w = w.sort_values(["_n", "_o"], ignore_index=True).drop(columns=["_n", "_o"])
    return w.head(ALERT_LIMIT)
