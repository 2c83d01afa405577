"""The median resolution time (办结时长中位数) of a period, exact, without sorting every case of a
long period.

The figure is `median(hours_to_resolve)` over grid_resolutions: the period's reports resolved by
the as-of day (docs/METRICS.md). At 10M reports a two-year median sorts 9.8M durations. For a
long period the overview first reads grid_resolution_monthly (resolved cases per month and
duration bucket, written at load time) to find the buckets the median must lie in, then takes
the exact median from grid_resolutions keeping only the durations in those buckets:

- A = the cases the summary counts for the months the period touches (street, community and
  category filters applied; no grid filter: the bracket is not used with one). The median's
  cases S are A minus at most `spare` cases: reports of those months on days outside the period
  plus the cases open at the end of the as-of day (a case resolved later was open then), both
  from grid_daily. So with n_A = |A| and m = spare, S's middle elements (0-based ranks
  floor((n_S-1)/2) and ceil((n_S-1)/2), n_A - m <= n_S <= n_A) have ranks in A between
  floor((n_A-m-1)/2) and ceil((n_A-1)/2) + m: BRACKET gives the buckets of those ranks.
- The scan (RESOLUTION_BRACKETED, a CTE of overview.GRID_KPIS_BRACKETED) counts the period's
  cases and those below the bracket, lists the durations inside it, and picks S's middle
  elements; their median (DuckDB's median of the two, the same interpolation as over all) is the
  figure. It also says whether the middle ranks fell inside the list (`bracket_ok`); when they
  did not (which the bound above rules out, but the check costs nothing) the plain median runs.
"""
from __future__ import annotations

import duckdb
import pandas as pd

from dashboard.filters import Filters
from dashboard.queries.base import fetch, filter_sql, sql

# the bracket pays from this period length on (shorter periods' cases are few: their row
# groups are all the scan reads) and while it keeps at most this share of the cases
BRACKET_FROM_DAYS = 120
BRACKET_MAX_SHARE = 0.25

_MONTHS = ("($date_from IS NULL OR {a}.month_on >= date_trunc('month', $date_from::DATE)::DATE)"
           " AND {a}.month_on <= date_trunc('month', $as_of::DATE)::DATE")

BRACKET = sql("""
    WITH hist AS (
        SELECT h.bucket, sum(h.resolved) AS resolved
        FROM {grid_resolution_monthly} h
        WHERE {where_h} AND {months_h}
        GROUP BY h.bucket),
    -- two scans with their own WHERE instead of one with FILTER clauses: the reports outside
    -- the period read the touched months' rows only (as overview.GRID_KPIS does)
    outside AS (
        SELECT COALESCE(sum(g.reports), 0) AS n
        FROM {grid_daily} g
        WHERE {where_g} AND {months_g}
          AND (g.day_on > $as_of OR ($date_from IS NOT NULL AND g.day_on < $date_from))),
    open_at AS (
        SELECT COALESCE(sum(g.opened - g.closed), 0) AS n
        FROM {grid_daily} g WHERE {where_g} AND g.day_on <= $as_of),
    spare AS (SELECT outside.n + open_at.n AS m FROM outside, open_at),
    cum AS (
        SELECT bucket, resolved, sum(resolved) OVER (ORDER BY bucket) AS upto,
               sum(resolved) OVER () AS n_a
        FROM hist),
    ranks AS (
        SELECT any_value(n_a) AS n_a, any_value(spare.m) AS m,
               greatest(0, (any_value(n_a) - any_value(spare.m) - 1) // 2) AS lo_rank,
               any_value(n_a) // 2 + any_value(spare.m) AS hi_rank
        FROM cum, spare)
    SELECT r.n_a, r.m,
           (SELECT min(bucket) FROM cum WHERE upto > r.lo_rank) AS b_lo,
           COALESCE((SELECT min(bucket) FROM cum WHERE upto > r.hi_rank), 255) AS b_hi,
           (SELECT sum(resolved) FROM cum WHERE upto > r.lo_rank
                AND bucket <= COALESCE((SELECT min(bucket) FROM cum WHERE upto > r.hi_rank), 255))
               AS in_bracket
    FROM ranks r
""", where_h=filter_sql("h", None, category="category"), months_h=_MONTHS.format(a="h"),
     where_g=filter_sql("g", None, category="category"), months_g=_MONTHS.format(a="g"))

# the period's cases resolved by as-of (the same WHERE as the plain median), alias g
_CASES = sql("""{grid_resolutions} g   -- period bounds in WHERE: other months' row groups skipped
        WHERE {where} AND ($date_from IS NULL OR g.reported_at >= $date_from)
          AND g.reported_at < $as_of_excl AND g.resolved_at < $as_of_excl""",
             where=filter_sql("g", None, grid=True, category="category"))

RESOLUTION_PLAIN = sql("""
        SELECT median(g.hours_to_resolve) AS median_resolution_hours, TRUE AS bracket_ok
        FROM {cases}""", cases=_CASES)

# a catalog written before grid_resolutions existed (until its next write): the per-report mart
# the figure was read from before, the same cases and hours
RESOLUTION_CASES_AT = sql("""
        SELECT median(g.hours_to_resolve) AS median_resolution_hours, TRUE AS bracket_ok
        FROM {grid_cases_at} g
        WHERE {where} AND ($date_from IS NULL OR g.reported_at >= $date_from)
          AND g.reported_at < $as_of_excl AND g.resolved_by_as_of""",
                          where=filter_sql("g", None, grid=True, category="category"))

RESOLUTION_BRACKETED = sql("""
        WITH counted AS (
            SELECT count(*) AS n,
                   count(*) FILTER (WHERE g.hours_to_resolve < $lo_hours) AS below,
                   list_sort(list(g.hours_to_resolve) FILTER (
                       WHERE g.hours_to_resolve >= $lo_hours AND g.hours_to_resolve < $hi_hours)) AS mid
            FROM {cases}),
        picked AS (
            SELECT n, (n - 1) // 2 - below AS i1, n // 2 - below AS i2, COALESCE(mid, []) AS mid
            FROM counted)
        SELECT CASE WHEN n > 0 AND i1 >= 0 AND i2 < len(mid)
                    THEN list_aggregate([mid[i1 + 1], mid[i2 + 1]], 'median') END
                   AS median_resolution_hours,
               n = 0 OR (i1 >= 0 AND i2 < len(mid)) AS bracket_ok
        FROM picked""", cases=_CASES)


def bracket(con: duckdb.DuckDBPyConnection, f: Filters, params: dict) -> dict | None:
    """{lo_hours, hi_hours}: the durations that hold the period's median, or None where the
    plain median is as cheap or the summary is missing (a catalog from before it, until its
    next write): a short period, a grid filter, a bracket holding most of the cases."""
    if f.grid_id is not None:
        return None
    if f.date_from is not None and (params["as_of"] - f.date_from).days < BRACKET_FROM_DAYS:
        return None
    try:
        row = fetch(con, BRACKET, params, min_group=()).iloc[0]
    except duckdb.CatalogException:
        return None
    n_a, inside = row["n_a"], row["in_bracket"]
    if pd.isna(n_a) or pd.isna(inside) or n_a == 0 or inside > BRACKET_MAX_SHARE * n_a:
        return None
    return {"lo_hours": edge_hours(int(row["b_lo"])) * (1 - 1e-9),
            "hi_hours": edge_hours(int(row["b_hi"]) + 1) * (1 + 1e-9)}


def edge_hours(bucket: int) -> float:
    """The lower edge of a resolution_bucket in hours (bucket 0: from any duration). The scan
    compares durations with the edges, a little widened, instead of computing every case's
    bucket; exactness does not rest on the edges: the scan counts what lies below and checks
    the middle ranks fell inside."""
    return float("-inf") if bucket <= 0 else (float("inf") if bucket > 159 else 2 ** (bucket / 8) / 60)
