"""Reads every page shares: the "as of" date, SLA rules, dimension lists for the sidebar.

"As of" (the day time-elapsed, backlog age and SLA deadlines are measured at) is the
filter's `date_to`, or - when the date range is open - the latest date found in the data.
Never the wall clock: the same database and filters always give the same numbers.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta

import duckdb
import pandas as pd

from dashboard.filters import Filters
from dashboard.queries.base import fetch, params_of
from etl import codes
from etl.seeds import read_sla_rules

# --- SLA: hours from report to resolution, per grid-report category --------------------
# One definition: etl/seeds/sla_rules.csv, also seeded into the database as the sla_rules
# table the grid_cases mart reads. Categories not listed use DEFAULT_SLA_HOURS.
SLA_HOURS, DEFAULT_SLA_HOURS = read_sla_rules()

# statuses that mean "closed" even when the export carried no resolved_at (etl/codes.py)
CLOSED_STATUSES = codes.CLOSED_STATUSES


def sla_params() -> dict:
    """Bind values used by sla_hours_sql / sla_met_sql."""
    return {"sla_cats": list(SLA_HOURS), "sla_hours": list(SLA_HOURS.values()),
            "sla_default_hours": DEFAULT_SLA_HOURS}


def sla_hours_sql(alias: str) -> str:
    """SQL expression: the SLA in hours for the row's category (constants bound, not spliced)."""
    return (f"COALESCE(list_extract($sla_hours, list_position($sla_cats, {alias}.category)),"
            f" $sla_default_hours)")


def open_at_sql(alias: str) -> str:
    """Predicate: the case was open at the end of the as-of day ($as_of_excl)."""
    return (f"({alias}.reported_at < $as_of_excl"
            f" AND NOT COALESCE({alias}.resolved_at < $as_of_excl, FALSE)"
            f" AND NOT ({alias}.resolved_at IS NULL"
            f" AND list_contains($closed_statuses, {alias}.status)))")


def sla_due_sql(alias: str) -> str:
    """Predicate: by the as-of day the case is resolved or its SLA deadline has passed."""
    deadline = f"{alias}.reported_at + {sla_hours_sql(alias)} * INTERVAL 1 HOUR"
    return (f"(COALESCE({alias}.resolved_at < $as_of_excl, FALSE)"
            f" OR {deadline} <= $as_of_excl"
            f" OR ({alias}.resolved_at IS NULL"
            f" AND list_contains($closed_statuses, {alias}.status)))")


def sla_met_sql(alias: str) -> str:
    """Predicate: resolved by the as-of day and within the category's SLA."""
    deadline = f"{alias}.reported_at + {sla_hours_sql(alias)} * INTERVAL 1 HOUR"
    return (f"(COALESCE({alias}.resolved_at < $as_of_excl, FALSE)"
            f" AND {alias}.resolved_at <= {deadline})")


def latest_data_date(con: duckdb.DuckDBPyConnection) -> date | None:
    """The newest date in any fact table (reports, feedback, ledger, project updates)."""
    df = fetch(con, """
        SELECT max(d) AS latest FROM (
            SELECT max(reported_at)::DATE AS d FROM {grid_reports}
            UNION ALL SELECT max(submitted_at)::DATE FROM {feedback}
            UNION ALL SELECT max(txn_on) FROM {fund_transactions}
            UNION ALL SELECT max(last_updated_at)::DATE FROM {projects})
    """, min_group=())
    value = df["latest"].iloc[0]
    return None if pd.isna(value) else pd.Timestamp(value).date()


def as_of(con: duckdb.DuckDBPyConnection, f: Filters) -> date:
    """The day the page is measured at: date_to, else the latest data date, else today."""
    return f.date_to or latest_data_date(con) or date.today()


def period_params(con: duckdb.DuckDBPyConnection, f: Filters, **extra) -> dict:
    """Filters' bind values plus $as_of, $as_of_excl (start of the next day), the SLA rules
    and $closed_statuses (fetch binds only what a query names)."""
    day = as_of(con, f)
    return params_of(f, as_of=day, as_of_excl=datetime.combine(day + timedelta(days=1),
                                                               datetime.min.time()),
                     closed_statuses=list(CLOSED_STATUSES), **sla_params(), **extra)


def dimension_rows(con: duckdb.DuckDBPyConnection, _f: Filters | None = None) -> pd.DataFrame:
    """One row per (street, community, grid_id) seen in reports, feedback or projects."""
    return fetch(con, """
        SELECT DISTINCT street, community, grid_id FROM (
            SELECT street, community, grid_id FROM {grid_reports}
            UNION ALL SELECT street, community, grid_id FROM {feedback}
            UNION ALL SELECT street, community, NULL FROM {projects})
        WHERE community IS NOT NULL
        ORDER BY street NULLS LAST, community, grid_id NULLS LAST
    """, min_group=())


def categories(con: duckdb.DuckDBPyConnection, _f: Filters | None = None) -> pd.DataFrame:
    """One row per category used by grid reports or projects (the global category filter)."""
    return fetch(con, """
        SELECT category, max(source) AS source FROM (
            SELECT DISTINCT category, 'grid' AS source FROM {grid_reports}
            UNION ALL SELECT DISTINCT category, 'project' FROM {projects})
        GROUP BY category ORDER BY category
    """, min_group=())


def date_bounds(con: duckdb.DuckDBPyConnection, _f: Filters | None = None) -> pd.DataFrame:
    """One row: the earliest and latest data dates (sidebar date pickers' range)."""
    df = fetch(con, """
        SELECT min(lo) AS first_on, max(hi) AS last_on FROM (
            SELECT min(reported_at)::DATE AS lo, max(reported_at)::DATE AS hi FROM {grid_reports}
            UNION ALL SELECT min(submitted_at)::DATE, max(submitted_at)::DATE FROM {feedback}
            UNION ALL SELECT min(txn_on), max(txn_on) FROM {fund_transactions}
            UNION ALL SELECT min(planned_start_on), max(last_updated_at)::DATE FROM {projects})
    """, min_group=())
    return df
