"""Grid cases: volume over time, backlog by age, SLA compliance rankings, grid x category.

SLA per category: dashboard.queries.common.SLA_HOURS (default DEFAULT_SLA_HOURS). A case
counts toward a compliance share once it is resolved or past its deadline at the as-of day.
Rankings hide groups with fewer than MIN_GROUP_CASES such cases, so one lucky case never
tops a league table.
"""
from __future__ import annotations

import duckdb
import pandas as pd

from dashboard.filters import Filters
from dashboard.queries.base import fetch, filter_sql
from dashboard.queries.common import open_at_sql, period_params, sla_due_sql, sla_met_sql

MIN_GROUP_CASES = 5
WEEKLY_UP_TO_DAYS = 120        # periods up to this long are charted per week, longer per month
HEATMAP_TOP_GRIDS = 30
# backlog age buckets: (key, lower bound in days, upper bound in days)
AGE_BUCKETS = (("age_0_1", 0, 1), ("age_1_3", 1, 3), ("age_3_7", 3, 7),
               ("age_7_30", 7, 30), ("age_30_plus", 30, None))
RANK_DIMENSIONS = ("category", "grid_id", "responsible_party", "community")

_IN_PERIOD = "($date_from IS NULL OR g.reported_at >= $date_from) AND g.reported_at < $as_of_excl"


def _where() -> str:
    return filter_sql("g", None, grid=True, category="category")


def _grain(con: duckdb.DuckDBPyConnection, f: Filters) -> str:
    if f.date_from is None:
        return "month"
    params = period_params(con, f)
    return "week" if (params["as_of"] - f.date_from).days <= WEEKLY_UP_TO_DAYS else "month"


def volume(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """One row per (week or month, category): reports in the period; `grain` says which."""
    grain = _grain(con, f)
    df = fetch(con, f"""
        SELECT date_trunc($grain, g.reported_at)::DATE AS period_on, g.category,
               count(*) AS reports
        FROM {{grid_reports}} g
        WHERE {_where()} AND {_IN_PERIOD}
        GROUP BY ALL ORDER BY period_on, g.category
    """, period_params(con, f, grain=grain), min_group="reports")
    df["grain"] = grain
    return df


def backlog(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """One row per (age bucket, category): cases open at the end of the as-of day."""
    cases = []
    for key, lo, hi in AGE_BUCKETS:
        upper = f"age_days < {int(hi)}" if hi is not None else "TRUE"
        cases.append(f"WHEN age_days >= {int(lo)} AND {upper} THEN '{key}'")
    df = fetch(con, f"""
        WITH open AS (
            SELECT g.category,
                   date_diff('second', g.reported_at, $as_of_excl) / 86400.0 AS age_days
            FROM {{grid_reports}} g
            WHERE {_where()} AND {open_at_sql('g')})
        SELECT CASE {' '.join(cases)} END AS age_bucket, category, count(*) AS cases
        FROM open GROUP BY ALL
    """, period_params(con, f), min_group="cases")
    order = {key: i for i, (key, _, _) in enumerate(AGE_BUCKETS)}
    return df.sort_values(["age_bucket", "category"], key=lambda c: c.map(order)
                          if c.name == "age_bucket" else c, ignore_index=True)


def sla_by(con: duckdb.DuckDBPyConnection, f: Filters, dimension: str,
           min_cases: int = MIN_GROUP_CASES) -> pd.DataFrame:
    """One row per group of `dimension` with at least `min_cases` due cases in the period:
    due, met, share met (0..1), best first."""
    if dimension not in RANK_DIMENSIONS:
        raise ValueError(dimension)
    df = fetch(con, f"""
        SELECT g.{dimension} AS grp,
               count(*) FILTER (WHERE {sla_due_sql('g')}) AS due,
               count(*) FILTER (WHERE {sla_met_sql('g')}) AS met
        FROM {{grid_reports}} g
        WHERE {_where()} AND {_IN_PERIOD} AND g.{dimension} IS NOT NULL
        GROUP BY g.{dimension}
        HAVING count(*) FILTER (WHERE {sla_due_sql('g')}) >= $min_cases
    """, period_params(con, f, min_cases=min_cases), min_group="due")
    df["share"] = df["met"] / df["due"]
    df = df.rename(columns={"grp": dimension})
    return df.sort_values(["share", "due", dimension], ascending=[False, False, True],
                          ignore_index=True)


def heatmap(con: duckdb.DuckDBPyConnection, f: Filters, top: int = HEATMAP_TOP_GRIDS
            ) -> pd.DataFrame:
    """One row per (grid, category): reports in the period, for the `top` busiest grids."""
    return fetch(con, f"""
        WITH base AS (
            SELECT g.grid_id, g.category FROM {{grid_reports}} g
            WHERE {_where()} AND {_IN_PERIOD}),
        busiest AS (
            SELECT grid_id FROM base GROUP BY grid_id ORDER BY count(*) DESC, grid_id LIMIT $top)
        SELECT grid_id, category, count(*) AS reports
        FROM base WHERE grid_id IN (SELECT grid_id FROM busiest)
        GROUP BY ALL ORDER BY grid_id, category
    """, period_params(con, f, top=top), min_group="reports")
