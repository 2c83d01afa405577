"""平台成效 Platform effectiveness reads (issue 15): residents' ease-of-use score of the platform and
the problem-resolution time, per community and per month (usage rate: dashboard.queries.participation).

Definitions:
- ease score: mean `usability_ratings.ease_score` (1-5) of the ratings submitted in the period; NULL
  (shown "—") where fewer than `usability.min_ratings` ratings (etl/rules.toml) were given;
- resolution time: the median of the grid_cases mart's `hours_to_resolve` (report to resolution)
  over the cases resolved in the period (its resolution time falls in [date_from, as-of]); the
  hours are defined once, in etl/marts/grid_cases.sql.
A month is the calendar month of the rating or of the resolution.
"""
from __future__ import annotations

import duckdb
import pandas as pd

from dashboard.filters import Filters
from dashboard.queries.base import fetch, filter_sql, sql
from dashboard.queries.common import period_params
from dashboard.queries.participation import _where

MIN_RATINGS_SQL = ("SELECT max(value) FILTER (WHERE rule = 'usability.min_ratings') AS min_ratings "
                   "FROM {participation_rules}")


_EASE = """
    WITH r AS ({min_ratings})
    SELECT {group}, count(*) AS ratings,
           CASE WHEN count(*) >= any_value(r.min_ratings) THEN avg(u.ease_score) END AS avg_ease
    FROM {usability_ratings} u, r
    WHERE {where}
    GROUP BY ALL ORDER BY ALL
"""
_RESOLUTION = """
    SELECT {group}, count(*) AS cases_resolved, median(g.hours_to_resolve) AS median_resolution_hours
    FROM {grid_cases} g
    WHERE {where}
      AND g.resolved_at IS NOT NULL
      AND ($date_from IS NULL OR g.resolved_at >= $date_from) AND g.resolved_at < $as_of_excl
    GROUP BY ALL ORDER BY ALL
"""


def _ease_sql(group: str) -> str:
    """Ratings and mean ease score per `group` (a code constant: 'community' or the month)."""
    return sql(_EASE, group=group, min_ratings=MIN_RATINGS_SQL, where=_where("u", "submitted_at"))


def _resolution_sql(group: str) -> str:
    """Cases resolved in the period and their median hours to resolve per `group` (code constant)."""
    return sql(_RESOLUTION, group=group,
               where=filter_sql("g", None, grid=True, category="category"))


_COMMUNITY = "community"
_MONTH = "date_trunc('month', {alias}.{col})::DATE AS month_on"
EASE_BY_COMMUNITY_SQL = _ease_sql(f"u.{_COMMUNITY}")
EASE_BY_MONTH_SQL = _ease_sql(_MONTH.format(alias="u", col="submitted_at"))
EASE_TOTAL_SQL = _ease_sql("'*' AS scope")
RESOLUTION_BY_COMMUNITY_SQL = _resolution_sql(f"g.{_COMMUNITY}")
RESOLUTION_BY_MONTH_SQL = _resolution_sql(_MONTH.format(alias="g", col="resolved_at"))
RESOLUTION_TOTAL_SQL = _resolution_sql("'*' AS scope")
_EASE_MASK = {"ratings": ("avg_ease",)}           # aggregate roles: groups of 1-4 ratings blanked
_RESOLUTION_MASK = {"cases_resolved": ("median_resolution_hours",)}


def _read(con: duckdb.DuckDBPyConnection, f: Filters, sql: str, mask: dict) -> pd.DataFrame:
    return fetch(con, sql, period_params(con, f), mask=mask)


def min_ratings(con: duckdb.DuckDBPyConnection, f: Filters | None = None) -> pd.DataFrame:
    """One row: the ratings a mean ease score needs (usability.min_ratings, etl/rules.toml)."""
    return fetch(con, MIN_RATINGS_SQL)


def ease_by_community(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """One row per community with ratings in the period: ratings, mean ease score (NULL below the minimum)."""
    return _read(con, f, EASE_BY_COMMUNITY_SQL, _EASE_MASK)


def ease_by_month(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """One row per month with ratings in the period (street or the filtered community)."""
    return _read(con, f, EASE_BY_MONTH_SQL, _EASE_MASK)


def resolution_by_community(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """One row per community with grid cases resolved in the period: cases, median hours to resolve."""
    return _read(con, f, RESOLUTION_BY_COMMUNITY_SQL, _RESOLUTION_MASK)


def resolution_by_month(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """One row per month of resolution in the period: cases resolved, median hours to resolve."""
    return _read(con, f, RESOLUTION_BY_MONTH_SQL, _RESOLUTION_MASK)


def totals(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """One row for the filters' scope: ratings, mean ease score, cases resolved, median hours."""
    ease = _read(con, f, EASE_TOTAL_SQL, _EASE_MASK)
    res = _read(con, f, RESOLUTION_TOTAL_SQL, _RESOLUTION_MASK)
    ease = ease if len(ease) else pd.DataFrame([{"scope": "*", "ratings": 0, "avg_ease": None}])
    res = res if len(res) else pd.DataFrame([{"scope": "*", "cases_resolved": 0,
                                              "median_resolution_hours": None}])
    return ease.drop(columns="scope").join(res.drop(columns="scope"))


def joined(ease: pd.DataFrame, resolution: pd.DataFrame, key: str,
           usage: pd.DataFrame | None = None) -> pd.DataFrame:
    """Pure: the ease and the resolution rows side by side per `key` (community or month_on), with
    the usage rate per 1,000 households (participation.usage_of) per community when given."""
    out = ease.merge(resolution, on=key, how="outer")
    cols = [key]
    if usage is not None:
        out = out.merge(usage[[key, "per_1000_households"]], on=key, how="outer")
        cols.append("per_1000_households")
    out = out.sort_values(key, ignore_index=True)
    for c in ("ratings", "cases_resolved"):
        out[c] = out[c].fillna(0).astype("int64")
    return out[[*cols, "ratings", "avg_ease", "cases_resolved", "median_resolution_hours"]]
