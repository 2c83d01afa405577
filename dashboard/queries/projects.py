"""Project progress reads and the early-warning rules, over the project_status mart.

Which projects are "in view" for a period, time elapsed, spending, milestone lateness and the
five warning flags are defined once, in etl/marts/project_status.sql (thresholds in the
warning_rules table, from etl/codes.py), measured at the as-of day (filters' date_to, else the
latest data date; see dashboard.queries.common) so the same data always raises the same
warnings. This module selects and aggregates; it does not recompute a rule.
"""
from __future__ import annotations

import duckdb
import pandas as pd

from dashboard.filters import Filters
from dashboard.queries.base import fetch, filter_sql, sql
from dashboard.queries.common import period_params
from etl import codes

# the thresholds, named for the page's help text (defined in etl/codes.py)
BEHIND_SCHEDULE_POINTS = codes.BEHIND_SCHEDULE_POINTS
STALLED_DAYS = codes.STALLED_DAYS
SPEND_AHEAD_POINTS = codes.SPEND_AHEAD_POINTS
RULES = ("behind_schedule", "overdue_milestones", "stalled", "spending_ahead", "over_budget")
# rule -> the project_status column holding its measure (points, count, days, yuan)
RULE_MEASURES = {"behind_schedule": "schedule_gap_pts", "overdue_milestones": "overdue_milestones",
                 "stalled": "days_since_update", "spending_ahead": "spend_gap_pts",
                 "over_budget": "overrun_yuan"}
# residents' evaluations (issue 15): a project rated below 3 on average by at least 5 residents;
# the rule's numbers live in participation_rules (etl/rules.toml)
EVALUATION_RULE = "low_rating"
ALL_RULES = (*RULES, EVALUATION_RULE)
COUNT_COLUMNS = ("stage", "lead_party_type", "category", "community")

# the projects in view under the sidebar filters (project_status bound to $as_of, $date_from)
IN_VIEW = sql("p.in_view AND {where}", where=filter_sql("p", None, category="category"))

STATUS = sql("""
    SELECT p.* EXCLUDE (street, as_of_on, period_from_on, in_view)
    FROM {project_status} p
    WHERE {in_view}
    ORDER BY p.project_id
""", in_view=IN_VIEW)

SUMMARY = sql("""
    SELECT count(*) AS projects,
           count(*) FILTER (WHERE p.active) AS active,
           count(*) FILTER (WHERE p.running) AS running,
           1 - avg(p.warn_behind_schedule::INTEGER) FILTER (WHERE p.running) AS on_schedule_share,
           avg(p.archived::INTEGER) AS archive_rate,
           COALESCE(sum(p.budget_yuan), 0)::DOUBLE AS budget_yuan,
           COALESCE(sum(p.spent_yuan), 0)::DOUBLE AS spent_yuan
    FROM {project_status} p
    WHERE {in_view}
""", in_view=IN_VIEW)

# one query per column counted by (identifiers from COUNT_COLUMNS only); stages in their order
COUNTS_BY = {column: sql("""
    SELECT p.{column} AS {column}, count(*) AS projects
    FROM {project_status} p
    WHERE {in_view} AND p.{column} IS NOT NULL
    GROUP BY p.{column}
    ORDER BY {order}
""", in_view=IN_VIEW, column=column,
    order=("COALESCE(list_position($stages, p.stage), 99), p.stage" if column == "stage"
           else f"p.{column}"))
    for column in COUNT_COLUMNS}

TIMELINE = sql("""
    SELECT p.project_id, p.name, p.community, p.stage, p.progress_pct, p.planned_start_on,
           p.planned_end_on, p.actual_start_on, p.actual_end_on
    FROM {project_status} p
    WHERE {in_view} AND p.planned_start_on IS NOT NULL AND p.planned_end_on IS NOT NULL
    ORDER BY p.project_id
""", in_view=IN_VIEW)

MILESTONES = sql("""
    SELECT m.project_id, p.name, m.milestone, m.planned_on, m.done_on,
           (m.planned_on < $as_of AND (m.done_on IS NULL OR m.done_on > $as_of)) AS overdue
    FROM {project_milestones} m JOIN {project_status} p USING (project_id)
    WHERE {in_view} AND ($project_id IS NULL OR m.project_id = $project_id)
    ORDER BY m.project_id, m.planned_on
""", in_view=IN_VIEW)

LEDGER = """
    SELECT txn_on, direction, source_type, source_name, expense_category,
           amount_yuan::DOUBLE AS amount_yuan, in_kind, note
    FROM {fund_transactions}
    WHERE project_id = $project_id AND txn_on <= $as_of
    ORDER BY txn_on, txn_id
"""

RELATED_REPORTS = """
    SELECT g.report_id, g.reported_at, g.grid_id, g.category, g.subcategory, g.status,
           g.description
    FROM {grid_reports} g JOIN {projects} p
      ON g.community = p.community AND g.category = p.category
    WHERE p.project_id = $project_id
      AND ($date_from IS NULL OR g.reported_at >= $date_from) AND g.reported_at < $as_of_excl
    ORDER BY g.reported_at DESC LIMIT 200
"""

RELATED_FEEDBACK = """
    WITH p AS (
        SELECT community, list_filter(
            list_append(regexp_split_to_array(COALESCE(keywords, ''), '[、,，;；\\s]+'),
                        category), lambda x: length(x) > 0) AS words
        FROM {projects} WHERE project_id = $project_id)
    SELECT fb.feedback_id, fb.submitted_at, fb.channel, fb.subject, fb.text, fb.rating
    FROM {feedback} fb, p
    WHERE fb.community = p.community
      AND len(list_filter(p.words, lambda w: contains(fb.text, w))) > 0
      AND ($date_from IS NULL OR fb.submitted_at >= $date_from)
      AND fb.submitted_at < $as_of_excl
    ORDER BY fb.submitted_at DESC LIMIT 200
"""


def project_status(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """One row per project in view: the project_status mart's measures and warn_* flags."""
    return fetch(con, STATUS, period_params(con, f))


def early_warnings(status: pd.DataFrame) -> pd.DataFrame:
    """One row per (project, rule fired); `value` is the rule's measure (points, count, days,
    yuan), rounded to one decimal. Pure: reads the mart's warn_<rule> flags and RULE_MEASURES
    from project_status() rows."""
    parts = []
    for rule in RULES:
        mask = status[f"warn_{rule}"].fillna(False).astype(bool)
        hit = status.loc[mask, ["project_id", "name", "community", "category", "stage"]].copy()
        hit["rule"] = rule
        hit["value"] = status.loc[mask, RULE_MEASURES[rule]].astype(float).round(1)
        parts.append(hit)
    cols = ["project_id", "name", "community", "category", "stage", "rule", "value"]
    out = pd.concat(parts, ignore_index=True)
    return out[cols].sort_values(["rule", "value"], ascending=[True, False], ignore_index=True)


def warnings(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """One row per (project, rule fired) for the projects in view (see early_warnings), plus
    the residents' evaluation rule (value = average rating)."""
    status = project_status(con, f)
    return pd.concat([early_warnings(status), evaluation_warnings(con, f, status)], ignore_index=True)


def evaluation_warnings(con: duckdb.DuckDBPyConnection, f: Filters,
                        status: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per project in view that residents rate low (dashboard.queries.participation.low_rated)."""
    from dashboard.queries import participation

    status = project_status(con, f) if status is None else status
    low = participation.low_rated(con, f)
    hit = status.loc[status["project_id"].isin(low["project_id"]),
                     ["project_id", "name", "community", "category", "stage"]].copy()
    hit["rule"] = EVALUATION_RULE
    hit["value"] = hit["project_id"].map(dict(zip(low["project_id"], low["avg_rating"]))).astype(float).round(1)
    return hit.reset_index(drop=True)


def project_table(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """One row per project in view, the columns the progress table shows; percentages 0..100."""
    s = project_status(con, f)
    cols = ["project_id", "name", "community", "category", "lead_party_type", "stage",
            "progress_pct", "elapsed_pct", "deviation_pts", "budget_yuan", "spent_yuan",
            "spent_pct", "overdue_milestones", "days_since_update", "archived"]
    return s[cols].round({"progress_pct": 1, "elapsed_pct": 1, "deviation_pts": 1,
                          "spent_pct": 1})


# the project picker lists this many matches at a time (a 2,000-option list costs the browser
# when the page opens and nobody scrolls it): the search box finds the others
PICK_LIMIT = 50


def matching_projects(table: pd.DataFrame, text: str | None, limit: int = PICK_LIMIT,
                      keep: str | None = None) -> dict[str, str]:
    """project_id -> name for the picker: the projects of `table` (project_table rows) whose ID or
    name contains `text` (any case; every project when it is empty), the first `limit` by ID,
    plus `keep` (the project already chosen) when it is in `table`. Pure."""
    ids = table.sort_values("project_id")[["project_id", "name"]]
    needle = (text or "").strip().casefold()
    if needle:
        hay = (ids["project_id"] + " " + ids["name"].fillna("")).str.casefold()
        ids = ids[hay.str.contains(needle, regex=False)]
    names = dict(zip(ids["project_id"].head(limit), ids["name"].head(limit)))
    if keep is not None and keep not in names:
        kept = table.loc[table["project_id"] == keep, "name"]
        if not kept.empty:
            names[keep] = kept.iloc[0]
    return names


def summary(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """One row: projects in view, active, running, on schedule (share of running), archive
    rate, budget and spent yuan."""
    return fetch(con, SUMMARY, period_params(con, f))


def counts_by(con: duckdb.DuckDBPyConnection, f: Filters, column: str) -> pd.DataFrame:
    """One row per value of `column` (stage, lead_party_type, category, community): projects
    in view."""
    if column not in COUNT_COLUMNS:
        raise ValueError(column)
    return fetch(con, COUNTS_BY[column], period_params(con, f, stages=list(codes.STAGES)))


def timeline(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """One row per project in view with planned start/end and actual start/end (Gantt bars)."""
    return fetch(con, TIMELINE, period_params(con, f))


def milestones(con: duckdb.DuckDBPyConnection, f: Filters, project_id: str | None = None
               ) -> pd.DataFrame:
    """One row per milestone of the projects in view (or one project); late = overdue at as-of."""
    return fetch(con, MILESTONES, period_params(con, f, project_id=project_id))


def ledger(con: duckdb.DuckDBPyConnection, f: Filters, project_id: str) -> pd.DataFrame:
    """One row per ledger entry of one project up to the as-of day; amounts in yuan."""
    return fetch(con, LEDGER, period_params(con, f, project_id=project_id))


def related_reports(con: duckdb.DuckDBPyConnection, f: Filters, project_id: str) -> pd.DataFrame:
    """Grid reports in the period from the project's community and of its category (max 200)."""
    return fetch(con, RELATED_REPORTS, period_params(con, f, project_id=project_id))


def related_feedback(con: duckdb.DuckDBPyConnection, f: Filters, project_id: str) -> pd.DataFrame:
    """Feedback in the period from the project's community mentioning its category or keywords."""
    return fetch(con, RELATED_FEEDBACK, period_params(con, f, project_id=project_id))
