"""周报: the weekly briefing's reads for one ISO week and one scope (whole street or a community).

The week is Monday..Sunday; "as of" is the week's Sunday, so the numbers of a past week
never change when newer data arrives. Headline KPIs reuse the overview's definitions
(dashboard.queries.overview) for this week and the one before; early warnings reuse the
project rules (dashboard.queries.projects) - "new" means fired at this Sunday but not at
the previous one. No streamlit import.
"""
from __future__ import annotations

import re
from datetime import date, timedelta

import duckdb
import pandas as pd

from dashboard.filters import Filters
from dashboard.queries import common, fund_reads, participation
from dashboard.queries import overview as ov
from dashboard.queries import projects as pq
from dashboard.queries.base import fetch
from dashboard.queries.common import latest_data_date
from etl import codes

_WEEK = re.compile(r"^(\d{4})-W(\d{1,2})$")
WEEKS_OFFERED = 26          # the week selector lists this many recent complete weeks
# (kpi key, source column, kind for formatting, True when a rise is bad)
KPIS: tuple[tuple[str, str, str, bool], ...] = (
    ("reports", "reports", "int", False),
    ("open_cases", "open_cases", "int", True),
    ("sla_share", "sla_share", "share", False),
    ("median_resolution_hours", "median_resolution_hours", "num", True),
    ("feedback", "feedback", "int", False),
    ("avg_rating", "avg_rating", "num", False),
    ("funds_in_yuan", "funds_in_yuan", "yuan", False),
    ("funds_out_yuan", "funds_out_yuan", "yuan", False),
    # 协商与参与 (issue 15), same definitions as the participation page
    ("usage_rate", "usage_rate", "num", False),
    ("valid_vote_share", "valid_vote_share", "share", False),
    ("overdue_resolutions", "overdue_resolutions", "int", True),
    ("top_share", "top_share", "share", True),
)

PROJECTS_DUE = """
    SELECT p.project_id, p.name, p.community, p.stage, p.planned_end_on, p.progress_pct,
           p.overdue_milestones, (p.planned_end_on < $date_from) AS overdue
    FROM {project_status} p
    WHERE p.in_view AND ($community IS NULL OR p.community = $community)
      AND p.stage <> $finished AND p.planned_end_on <= $as_of
    ORDER BY overdue DESC, p.planned_end_on, p.project_id
"""
# the ledger of the week summed from fund_daily (dashboard/queries/fund_reads.py)
MONEY_FLOWS = fund_reads.summed("""
    SELECT t.direction,
           CASE WHEN t.direction = 'in' THEN COALESCE(t.source_type, '?')
                ELSE COALESCE(t.expense_category, '?') END AS bucket,
           sum(t.amount_yuan)::DOUBLE AS amount_yuan, sum(t.entries)::BIGINT AS txns
    FROM {flows} t
    WHERE ($community IS NULL OR t.community = $community)
      AND t.day_on BETWEEN $date_from AND $date_to
    GROUP BY ALL ORDER BY t.direction, amount_yuan DESC
""")
# grid reports and messages from the daily summaries
DAILY_ACTIVITY = """
    WITH days AS (
        SELECT d::DATE AS day_on FROM generate_series($start, $date_to, INTERVAL 1 DAY) t(d)
    ), g AS (
        SELECT day_on, sum(reports)::BIGINT AS reports FROM {grid_daily}
        WHERE ($community IS NULL OR community = $community)
          AND day_on >= $start AND day_on <= $date_to GROUP BY 1
    ), fb AS (
        SELECT day_on, sum(messages)::BIGINT AS feedback FROM {feedback_daily}
        WHERE ($community IS NULL OR community = $community)
          AND day_on >= $start AND day_on <= $date_to GROUP BY 1
    )
    SELECT days.day_on, (days.day_on >= $date_from) AS this_week,
           COALESCE(g.reports, 0) AS reports, COALESCE(fb.feedback, 0) AS feedback
    FROM days LEFT JOIN g USING (day_on) LEFT JOIN fb USING (day_on)
    ORDER BY days.day_on
"""
LAST_LOAD = "SELECT max(finished_at) AS loaded_at FROM {etl_loads} WHERE status = 'loaded'"
# the communities of projects, grid reports and messages; reports and messages from the daily
# summaries (as the sidebar's lists, dashboard/queries/common.py: a community counts when its rows
# sum to a report or a message), not a scan of every record: at 1M reports that scan was the
# briefing's costliest first read (0.13 s CPU). The same rows under every role: grid_daily and
# feedback_daily follow the rules of grid_reports and feedback.
COMMUNITIES = """
    SELECT DISTINCT community FROM (
        SELECT community FROM {projects}
        UNION ALL SELECT community FROM {grid_daily} GROUP BY community HAVING sum(reports) > 0
        UNION ALL SELECT community FROM {feedback_daily} GROUP BY community HAVING sum(messages) > 0)
    WHERE community IS NOT NULL ORDER BY community
"""


# --- weeks ----------------------------------------------------------------------------------
def parse_week(text: str | None) -> tuple[int, int] | None:
    """'2026-W47' -> (2026, 47); None when malformed or not a real ISO week."""
    m = _WEEK.match((text or "").strip().upper())
    if not m:
        return None
    year, week = int(m.group(1)), int(m.group(2))
    try:
        date.fromisocalendar(year, week, 1)
    except ValueError:
        return None
    return year, week


def week_label(day: date) -> str:
    """The ISO week containing `day`, as '2026-W47'."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def week_bounds(week: str) -> tuple[date, date]:
    """(Monday, Sunday) of an ISO week like '2026-W47'."""
    parsed = parse_week(week)
    if parsed is None:
        raise ValueError(f"not an ISO week (expected like 2026-W47): {week!r}")
    monday = date.fromisocalendar(parsed[0], parsed[1], 1)
    return monday, monday + timedelta(days=6)


def last_complete_week(reference: date) -> str:
    """The latest ISO week whose Sunday is on or before `reference`."""
    sunday = reference - timedelta(days=(reference.isoweekday() % 7))
    return week_label(sunday)


def recent_weeks(reference: date, n: int = WEEKS_OFFERED) -> list[str]:
    """The last n complete weeks, newest first."""
    monday, _ = week_bounds(last_complete_week(reference))
    return [week_label(monday - timedelta(weeks=i)) for i in range(n)]


def week_filters(week: str, community: str | None, lang: str = "zh") -> Filters:
    monday, sunday = week_bounds(week)
    return Filters(date_from=monday, date_to=sunday, community=community, lang=lang)


def default_week(con: duckdb.DuckDBPyConnection, _f: Filters | None = None,
                 today: date | None = None) -> str:
    """Last complete week relative to the latest data date (or today when there is no data)."""
    today = today or date.today()
    latest = latest_data_date(con)
    return last_complete_week(min(latest, today) if latest else today)


# --- reads ----------------------------------------------------------------------------------
def headline(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """One row per headline KPI: key, this week, previous week, kind, rise_is_bad."""
    now, before = _kpi_row(con, f), _kpi_row(con, f.previous_period())
    return pd.DataFrame([{"key": key, "value": now.get(col), "previous": before.get(col),
                          "kind": kind, "rise_is_bad": bad} for key, col, kind, bad in KPIS])


def _kpi_row(con: duckdb.DuckDBPyConnection, f: Filters) -> dict:
    parts = [ov.grid_kpis(con, f), ov.feedback_kpis(con, f), ov.fund_kpis(con, f), participation.kpis(con, f)]
    row: dict = {}
    for part in parts:
        row.update({k: (None if pd.isna(v) else v) for k, v in part.iloc[0].items()})
    return row


def pain_points(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """Up to three rows: the top pain points of the week's month in scope, one quote each."""
    return ov.top_pain_points(con, f)


def hot_spots(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """Up to three rows: the top hot spots (place, pain point) of the week's month in scope."""
    return ov.top_hot_spots(con, f)


def projects_due(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """One row per unfinished project whose planned end is in this week (due) or before (overdue)."""
    return fetch(con, PROJECTS_DUE, common.period_params(con, f,
                                                          finished=codes.FINISHED_STAGE))


def new_warnings(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """Early warnings firing at this Sunday that did not fire at the previous Sunday."""
    now = pq.warnings(con, f)
    before = pq.warnings(con, f.previous_period())
    seen = set(zip(before["project_id"], before["rule"]))
    fresh = [(p, r) not in seen for p, r in zip(now["project_id"], now["rule"])]
    return now.loc[fresh].reset_index(drop=True)


def money_flows(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """One row per (direction, bucket) in the week: in by source type, out by expense category."""
    return fund_reads.read(con, MONEY_FLOWS,
                           {"community": f.community, "date_from": f.date_from, "date_to": f.date_to})


def daily_activity(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """One row per day of this week and the previous: grid reports and feedback counts."""
    return fetch(con, DAILY_ACTIVITY, {"community": f.community, "date_from": f.date_from, "date_to": f.date_to,
          "start": f.date_from - timedelta(days=7)},
        mask={"reports": (), "feedback": ()})


def last_load(con: duckdb.DuckDBPyConnection, _f: Filters | None = None) -> pd.DataFrame:
    """One row: when the last successful load finished, and the latest data date."""
    df = fetch(con, LAST_LOAD)
    df["latest_on"] = latest_data_date(con)
    return df


def communities(con: duckdb.DuckDBPyConnection, _f: Filters | None = None) -> list[str]:
    """Every community with projects, reports or feedback (the scope selector; --all-communities)."""
    return fetch(con, COMMUNITIES, min_group=())["community"].tolist()
