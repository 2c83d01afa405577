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
from dashboard.queries.base import fetch, fetch_shared, params_of, sql
from etl.seeds import read_sla_rules

# --- SLA: hours from report to resolution, per grid-report category --------------------
# One definition: etl/seeds/sla_rules.csv, seeded into the database as the sla_rules table the
# grid_cases mart reads (deadline, on time, SLA due/met). Python reads it only to explain the
# rules in a card's tooltip. Categories not listed use DEFAULT_SLA_HOURS.
SLA_HOURS, DEFAULT_SLA_HOURS = read_sla_rules()

# The sidebar's lists and date range read the daily summary marts (grid_daily, feedback_daily:
# a few hundred thousand rows at 10M reports) instead of scanning every report and message.
# A group of a summary may be spread over several rows until it is compacted (a load appends
# its delta: etl/marts/appended.py), some of them negative, so a day or a community counts
# when its rows *sum* to a report or a message: `sum(reports) > 0` also keeps grid_daily's
# closure-only days (a day cases were resolved on) out, so a date means "a report was made
# that day", as before.
_REPORT_DAYS = "SELECT day_on FROM {grid_daily} GROUP BY day_on HAVING sum(reports) > 0"
_MESSAGE_DAYS = "SELECT day_on FROM {feedback_daily} GROUP BY day_on HAVING sum(messages) > 0"
LATEST = sql("""
    SELECT max(d) AS latest FROM (
        SELECT max(day_on) AS d FROM ({report_days})
        UNION ALL SELECT max(day_on) FROM ({message_days})
        UNION ALL SELECT max(txn_on) FROM {fund_transactions}
        UNION ALL SELECT max(last_updated_at)::DATE FROM {projects})
""", report_days=_REPORT_DAYS, message_days=_MESSAGE_DAYS)
DIMENSIONS = """
    SELECT DISTINCT street, community, grid_id FROM (
        SELECT street, community, grid_id FROM {grid_daily} GROUP BY ALL HAVING sum(reports) > 0
        UNION ALL SELECT street, community, grid_id FROM {feedback_daily}
            GROUP BY ALL HAVING sum(messages) > 0
        UNION ALL SELECT street, community, NULL FROM {projects})
    WHERE community IS NOT NULL
    ORDER BY street NULLS LAST, community, grid_id NULLS LAST
"""
CATEGORIES = """
    SELECT category, max(source) AS source FROM (
        SELECT category, 'grid' AS source FROM {grid_daily} GROUP BY category HAVING sum(reports) > 0
        UNION ALL SELECT DISTINCT category, 'project' FROM {projects})
    GROUP BY category ORDER BY category
"""
DATE_BOUNDS = sql("""
    SELECT min(lo) AS first_on, max(hi) AS last_on FROM (
        SELECT min(day_on) AS lo, max(day_on) AS hi FROM ({report_days})
        UNION ALL SELECT min(day_on), max(day_on) FROM ({message_days})
        UNION ALL SELECT min(txn_on), max(txn_on) FROM {fund_transactions}
        UNION ALL SELECT min(planned_start_on), max(last_updated_at)::DATE FROM {projects})
""", report_days=_REPORT_DAYS, message_days=_MESSAGE_DAYS)


def latest_data_date(con: duckdb.DuckDBPyConnection) -> date | None:
    """The newest date in any fact table (reports, feedback, ledger, project updates); asked
    once per file version and scope (base.fetch_shared): every period read of a page needs it."""
    df = fetch_shared(con, LATEST, min_group=())
    value = df["latest"].iloc[0]
    return None if pd.isna(value) else pd.Timestamp(value).date()


def as_of(con: duckdb.DuckDBPyConnection, f: Filters) -> date:
    """The day the page is measured at: date_to, else the latest data date, else today."""
    return f.date_to or latest_data_date(con) or date.today()


def period_params(con: duckdb.DuckDBPyConnection, f: Filters, **extra) -> dict:
    """Filters' bind values plus $as_of and $as_of_excl (start of the next day); fetch binds
    only what a query names."""
    day = as_of(con, f)
    return params_of(f, as_of=day, as_of_excl=datetime.combine(day + timedelta(days=1),
                                                               datetime.min.time()), **extra)


def dimension_rows(con: duckdb.DuckDBPyConnection, _f: Filters | None = None) -> pd.DataFrame:
    """One row per (street, community, grid_id) seen in reports, feedback or projects."""
    return fetch(con, DIMENSIONS, min_group=())


def categories(con: duckdb.DuckDBPyConnection, _f: Filters | None = None) -> pd.DataFrame:
    """One row per category used by grid reports or projects (the global category filter)."""
    return fetch(con, CATEGORIES, min_group=())


def date_bounds(con: duckdb.DuckDBPyConnection, _f: Filters | None = None) -> pd.DataFrame:
    """One row: the earliest and latest data dates (sidebar date pickers' range)."""
    return fetch(con, DATE_BOUNDS, min_group=())


def first_last(bounds: pd.DataFrame) -> tuple[date | None, date | None]:
    """date_bounds' one row as (first, last) dates; None where the data has no date. Pure."""
    return tuple(None if pd.isna(v) else pd.Timestamp(v).date()
                 for v in (bounds["first_on"].iloc[0], bounds["last_on"].iloc[0]))


def places(dims: pd.DataFrame) -> list[tuple]:
    """dimension_rows as (street, community, grid_id) tuples (dashboard.filters.place_options). Pure."""
    return list(dims[["street", "community", "grid_id"]].itertuples(index=False, name=None))
