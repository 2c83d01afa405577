"""What the fund reads sum: the fund_daily summary, or fund_flows' entries in its shape.

fund_daily (etl/marts/fund_daily.sql) is written at load time. A catalog written before it
existed (until its next write, or `python -m etl marts --rebuild`) has only the fund_flows view:
`ENTRIES` gives its rows in fund_daily's columns, one row an entry (entries = 1), so every query
written over `{flows}` gives the same sums over either (tests/test_queries_funds.py compares
them query by query). `summed` composes a query constant both ways at import; `read` runs the
first through the one door (base.fetch) and falls back to the second when the catalog lacks
the summary.
"""
from __future__ import annotations

import duckdb
import pandas as pd

from dashboard.queries.base import fetch, filter_sql, sql

DAILY = "{fund_daily}"
ENTRIES = """(SELECT date_trunc('month', e.txn_on)::DATE AS month_on, e.txn_on AS day_on,
                     e.street, e.community, e.project_id, e.project_name, e.project_category,
                     e.direction, e.source_type,
                     CASE WHEN e.direction = 'in' THEN e.source_name END AS source_name,
                     e.expense_category, e.in_kind, e.government, 1 AS entries, e.amount_yuan
              FROM {fund_flows} e)"""

# the global filters on alias t (category = the project's) and the period of entries dated
# from the first day through the as-of day
FLOW_FILTERS = filter_sql("t", None, category="project_category")
IN_PERIOD = "($date_from IS NULL OR t.day_on >= $date_from) AND t.day_on <= $as_of"


def summed(template: str, **fragments: str) -> tuple[str, str]:
    """A query constant over `{flows}`, as (over fund_daily, over fund_flows' entries)."""
    return sql(template, flows=DAILY, **fragments), sql(template, flows=ENTRIES, **fragments)


def read(con: duckdb.DuckDBPyConnection, queries: tuple[str, str], params: dict) -> pd.DataFrame:
    """One read of `summed` queries: over fund_daily, or the entries when the catalog lacks it."""
    try:
        return fetch(con, queries[0], params)
    except duckdb.CatalogException:      # no fund_daily yet: the same sums from the entries
        return fetch(con, queries[1], params)
