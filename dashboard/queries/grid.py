"""Grid cases: volume over time, backlog by age, SLA compliance rankings, grid x category.

Every read is over a grid mart (etl/marts, docs/METRICS.md): the daily summary grid_daily for
counts (volume, heat map), grid_cases_at (each report measured at the as-of day) where a
report's own time matters (backlog age, SLA rankings by any dimension). SLA hours per category:
the sla_rules table (etl/seeds/sla_rules.csv). A case counts toward a compliance share once it
is resolved or past its deadline at the as-of day. Rankings hide groups with fewer than
MIN_GROUP_CASES such cases, so one lucky case never tops a league table.
"""
from __future__ import annotations

import duckdb
import pandas as pd

from dashboard.filters import Filters
from dashboard.queries.base import fetch, sql
from dashboard.queries.common import period_params
from dashboard.queries.overview import DAYS_IN_PERIOD, GRID_FILTERS

MIN_GROUP_CASES = 5
WEEKLY_UP_TO_DAYS = 120        # periods up to this long are charted per week, longer per month
HEATMAP_TOP_GRIDS = 30
# backlog age buckets: (key, lower bound in days, upper bound in days)
AGE_BUCKETS = (("age_0_1", 0, 1), ("age_1_3", 1, 3), ("age_3_7", 3, 7),
               ("age_7_30", 7, 30), ("age_30_plus", 30, None))
RANK_DIMENSIONS = ("category", "grid_id", "responsible_party", "community")

# the period's reports in grid_cases_at ($date_from may be open)
_REPORTED_IN_PERIOD = ("($date_from IS NULL OR g.reported_at >= $date_from)"
                       " AND g.reported_at < $as_of_excl")
_AGE_BUCKET = "CASE " + " ".join(
    f"WHEN g.age_days >= {lo} AND " + (f"g.age_days < {hi}" if hi is not None else "TRUE")
    + f" THEN '{key}'" for key, lo, hi in AGE_BUCKETS) + " END"

VOLUME = sql("""
    SELECT date_trunc($grain, g.day_on)::DATE AS period_on, g.category,
           sum(g.reports)::BIGINT AS reports
    FROM {grid_daily} g
    WHERE {where} AND {in_period}
    GROUP BY ALL HAVING sum(g.reports) > 0
    ORDER BY period_on, g.category
""", where=GRID_FILTERS, in_period=DAYS_IN_PERIOD)

BACKLOG = sql("""
    SELECT {bucket} AS age_bucket, g.category, count(*) AS cases
    FROM {grid_cases_at} g
    WHERE {where} AND g.open_at_as_of
      -- implied by open_at_as_of, on the stored columns: the scan drops closed cases before
      -- the mart computes deadlines for them
      AND g.reported_at < $as_of_excl AND (g.resolved_at IS NULL OR g.resolved_at >= $as_of_excl)
    GROUP BY ALL
""", where=GRID_FILTERS, bucket=_AGE_BUCKET)

# one query per ranking dimension (identifiers from RANK_DIMENSIONS only). The dimensions the
# daily summary keeps read it: grid_daily's SLA lists count a day's reports that are SLA-due /
# SLA-met at any later as-of day (count_at), the same counts as grid_cases_at's flags (tested in
# tests/test_marts.py); responsible_party is not in the summary and reads every report.
DAILY_DIMENSIONS = ("category", "grid_id", "community")
SLA_BY_DAILY = {dimension: sql("""
    SELECT g.{dimension} AS {dimension},
           sum(count_at(g.sla_due_by, g.day_on, $as_of))::BIGINT AS due,
           sum(count_at(g.sla_met_by, g.day_on, $as_of))::BIGINT AS met,
           sum(count_at(g.sla_met_by, g.day_on, $as_of))
               / sum(count_at(g.sla_due_by, g.day_on, $as_of)) AS share
    FROM {grid_daily} g
    WHERE {where} AND {in_period} AND g.{dimension} IS NOT NULL
    GROUP BY g.{dimension}
    HAVING sum(count_at(g.sla_due_by, g.day_on, $as_of)) >= $min_cases
    ORDER BY share DESC, due DESC, g.{dimension}
""", where=GRID_FILTERS, in_period=DAYS_IN_PERIOD, dimension=dimension)
    for dimension in DAILY_DIMENSIONS}
SLA_BY = {dimension: sql("""
    SELECT g.{dimension} AS {dimension},
           count(*) FILTER (WHERE g.sla_due) AS due,
           count(*) FILTER (WHERE g.sla_met) AS met,
           count(*) FILTER (WHERE g.sla_met) / count(*) FILTER (WHERE g.sla_due) AS share
    FROM {grid_cases_at} g
    WHERE {where} AND {in_period} AND g.{dimension} IS NOT NULL
    GROUP BY g.{dimension}
    HAVING count(*) FILTER (WHERE g.sla_due) >= $min_cases
    ORDER BY share DESC, due DESC, g.{dimension}
""", where=GRID_FILTERS, in_period=_REPORTED_IN_PERIOD, dimension=dimension)
    for dimension in RANK_DIMENSIONS}

HEATMAP = sql("""
    WITH base AS (
        SELECT g.grid_id, g.category, sum(g.reports) AS reports
        FROM {grid_daily} g
        WHERE {where} AND {in_period}
        GROUP BY ALL HAVING sum(g.reports) > 0),
    busiest AS (
        SELECT grid_id FROM base GROUP BY grid_id
        ORDER BY sum(reports) DESC, grid_id LIMIT $top)
    SELECT grid_id, category, reports::BIGINT AS reports
    FROM base WHERE grid_id IN (SELECT grid_id FROM busiest)
    ORDER BY grid_id, category
""", where=GRID_FILTERS, in_period=DAYS_IN_PERIOD)


def _grain(con: duckdb.DuckDBPyConnection, f: Filters) -> str:
    if f.date_from is None:
        return "month"
    params = period_params(con, f)
    return "week" if (params["as_of"] - f.date_from).days <= WEEKLY_UP_TO_DAYS else "month"


def volume(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """One row per (week or month, category): reports in the period; `grain` says which."""
    grain = _grain(con, f)
    df = fetch(con, VOLUME, period_params(con, f, grain=grain), min_group="reports")
    df["grain"] = grain
    return df


def backlog(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """One row per (age bucket, category): cases open at the end of the as-of day."""
    df = fetch(con, BACKLOG, period_params(con, f), min_group="cases")
    order = {key: i for i, (key, _, _) in enumerate(AGE_BUCKETS)}
    return df.sort_values(["age_bucket", "category"], key=lambda c: c.map(order)
                          if c.name == "age_bucket" else c, ignore_index=True)


def sla_by(con: duckdb.DuckDBPyConnection, f: Filters, dimension: str,
           min_cases: int = MIN_GROUP_CASES) -> pd.DataFrame:
    """One row per group of `dimension` with at least `min_cases` due cases in the period:
    due, met, share met (0..1), best first."""
    if dimension not in RANK_DIMENSIONS:
        raise ValueError(dimension)
    query = SLA_BY_DAILY.get(dimension, SLA_BY[dimension])
    return fetch(con, query, period_params(con, f, min_cases=min_cases), min_group="due")


def heatmap(con: duckdb.DuckDBPyConnection, f: Filters, top: int = HEATMAP_TOP_GRIDS
            ) -> pd.DataFrame:
    """One row per (grid, category): reports in the period, for the `top` busiest grids."""
    return fetch(con, HEATMAP, period_params(con, f, top=top), min_group="reports")
