"""The leader's overview: headline KPIs for a period, the month's pain points, the alert list.

Every KPI is computed for the filters' period; the page calls the same function with
`Filters.previous_period()` for the change. Definitions (as-of = end of the period):
- open cases: reported before the end of the as-of day and not resolved by then;
- SLA share: of the period's cases that are resolved or past their deadline by as-of,
  the share resolved within the category's SLA (dashboard.queries.common.SLA_HOURS);
- median resolution hours: over the period's cases resolved by as-of;
- feedback volume / average rating: messages submitted in the period (no category filter:
  feedback carries none);
- funds in / out: ledger entries dated in the period, in-kind help included at its value.
"""
from __future__ import annotations

import duckdb
import pandas as pd

from dashboard.filters import Filters
from dashboard.queries import projects as pq
from dashboard.queries.base import fetch, filter_sql
from dashboard.queries.common import open_at_sql, period_params, sla_due_sql, sla_met_sql

ALERT_LIMIT = 12


def grid_kpis(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """One row: open cases at as-of, reports, SLA due/met counts and share, median hours."""
    in_period = "($date_from IS NULL OR g.reported_at >= $date_from) AND g.reported_at < $as_of_excl"
    sql = f"""
        SELECT count(*) FILTER (WHERE {open_at_sql('g')}) AS open_cases,
               count(*) FILTER (WHERE {in_period}) AS reports,
               count(*) FILTER (WHERE {in_period} AND {sla_due_sql('g')}) AS sla_due,
               count(*) FILTER (WHERE {in_period} AND {sla_met_sql('g')}) AS sla_met,
               median(date_diff('second', g.reported_at, g.resolved_at) / 3600.0)
                   FILTER (WHERE {in_period} AND g.resolved_at < $as_of_excl)
                   AS median_resolution_hours
        FROM {{grid_reports}} g
        WHERE {filter_sql('g', None, grid=True, category='category')}
    """
    df = fetch(con, sql, period_params(con, f), mask={
        "reports": ("sla_due", "sla_met", "median_resolution_hours"), "open_cases": (),
        "sla_due": ("sla_met",)})
    due = df["sla_due"].iloc[0]
    df["sla_share"] = (df["sla_met"] / due) if due else None
    return df


def feedback_kpis(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """One row: messages submitted in the period and their average rating (1..5)."""
    sql = f"""
        SELECT count(*) AS feedback, avg(fb.rating) AS avg_rating
        FROM {{feedback}} fb
        WHERE {filter_sql('fb', None, grid=True)}
          AND ($date_from IS NULL OR fb.submitted_at >= $date_from)
          AND fb.submitted_at < $as_of_excl
    """
    return fetch(con, sql, period_params(con, f), mask={"feedback": ("avg_rating",)})


def fund_kpis(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """One row: yuan in, out and in-kind (valued) in the period, for projects in the filters."""
    sql = f"""
        SELECT COALESCE(sum(t.amount_yuan) FILTER (WHERE t.direction = 'in'), 0)::DOUBLE AS funds_in_yuan,
               COALESCE(sum(t.amount_yuan) FILTER (WHERE t.direction = 'out'), 0)::DOUBLE AS funds_out_yuan,
               COALESCE(sum(t.amount_yuan) FILTER (WHERE t.direction = 'in' AND t.in_kind), 0)::DOUBLE
                   AS in_kind_yuan
        FROM {{fund_transactions}} t JOIN {{projects}} p USING (project_id)
        WHERE {filter_sql('p', None, category='category')}
          AND ($date_from IS NULL OR t.txn_on >= $date_from) AND t.txn_on <= $as_of
    """
    return fetch(con, sql, period_params(con, f))


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
    params = period_params(con, f)
    params["scope"] = f.community or "全街道"
    return fetch(con, """
        SELECT rank, label, size, share, growth, months_in_top3, representative_texts[1] AS quote
        FROM {pain_points}
        WHERE scope = $scope
          AND month_on = (SELECT max(month_on) FROM {pain_points}
                          WHERE scope = $scope AND month_on <= $as_of)
        ORDER BY rank
    """, params)


def top_hot_spots(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """Up to three rows: the top hot spots (place, pain point) of the latest month the engine
    clustered up to as-of (the month of the top pain points); empty when it has none."""
    params = period_params(con, f)
    params["scope"] = f.community or "全街道"
    return fetch(con, """
        SELECT rank, place, label, size, baseline, share, representative_texts[1] AS quote
        FROM {hot_spots}
        WHERE scope = $scope AND rank <= 3
          AND month_on = (SELECT max(month_on) FROM {pain_point_months} WHERE month_on <= $as_of)
        ORDER BY rank
    """, params)


def alerts(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """Up to ALERT_LIMIT rows: project early warnings, worst first within each rule."""
    w = pq.warnings(con, f).sort_values("value", ascending=False, ignore_index=True)
    order = {rule: i for i, rule in enumerate(pq.ALL_RULES)}
    # round-robin over the rules so one noisy rule cannot fill the list
    w["_n"] = w.groupby("rule").cumcount()
    w["_o"] = w["rule"].map(order)
    w = w.sort_values(["_n", "_o"], ignore_index=True).drop(columns=["_n", "_o"])
    return w.head(ALERT_LIMIT)
