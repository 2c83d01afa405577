"""Project progress reads and the early-warning rules.

Which projects are "in view" for a period: not finished before the period began, and
started by the as-of day (or still in 立项/审批). Time elapsed, spending and milestone
lateness are measured at the as-of day (filters' date_to, else the latest data date; see
dashboard.queries.common) so the same data always raises the same warnings.
"""
from __future__ import annotations

import duckdb
import pandas as pd

from dashboard.filters import Filters
from dashboard.queries.base import fetch, filter_sql
from dashboard.queries.common import period_params

# --- early-warning thresholds -------------------------------------------------------------
BEHIND_SCHEDULE_POINTS = 15   # progress more than this many points below time elapsed
STALLED_DAYS = 30             # no update for more than this many days
SPEND_AHEAD_POINTS = 20       # spent share of budget more than this many points above progress
FINISHED_STAGE = "结项"
PIPELINE_STAGES = ("立项", "审批")
STAGES = ("立项", "审批", "实施", "验收", "结项")
RULES = ("behind_schedule", "overdue_milestones", "stalled", "spending_ahead", "over_budget")
# residents' evaluations (issue 15): a project rated below 3 on average by at least 5 residents;
# the rule's numbers live in participation_rules (etl/rules.toml)
EVALUATION_RULE = "low_rating"
ALL_RULES = (*RULES, EVALUATION_RULE)

_STATUS_SQL = """
WITH p AS (
    SELECT p.*, COALESCE(p.actual_start_on, p.planned_start_on) AS started_on
    FROM {projects} p
    WHERE %(where)s
), money AS (
    SELECT project_id,
           sum(amount_yuan) FILTER (WHERE direction = 'out')::DOUBLE AS spent_yuan,
           sum(amount_yuan) FILTER (WHERE direction = 'in')::DOUBLE AS received_yuan
    FROM {fund_transactions} WHERE txn_on <= $as_of GROUP BY project_id
), ms AS (
    SELECT project_id, count(*) AS milestones,
           count(*) FILTER (WHERE planned_on < $as_of
                            AND (done_on IS NULL OR done_on > $as_of)) AS overdue_milestones
    FROM {project_milestones} GROUP BY project_id
)
SELECT p.project_id, p.name, p.community, p.category, p.lead_party, p.lead_party_type,
       p.partner_parties, p.stage, p.planned_start_on, p.planned_end_on, p.actual_start_on,
       p.actual_end_on, p.budget_yuan::DOUBLE AS budget_yuan, p.progress_pct,
       p.last_updated_at, p.archived, p.volunteer_count, p.beneficiaries,
       (p.started_on IS NOT NULL AND p.started_on <= $as_of) AS active,
       CASE WHEN p.planned_start_on IS NULL OR p.planned_end_on IS NULL THEN NULL
            ELSE greatest(0.0, least(100.0, 100.0 * date_diff('day', p.planned_start_on, $as_of)
                 / greatest(1, date_diff('day', p.planned_start_on, p.planned_end_on))))
       END AS elapsed_pct,
       date_diff('day', p.last_updated_at::DATE, $as_of) AS days_since_update,
       COALESCE(money.spent_yuan, 0) AS spent_yuan,
       COALESCE(money.received_yuan, 0) AS received_yuan,
       COALESCE(ms.milestones, 0) AS milestones,
       COALESCE(ms.overdue_milestones, 0) AS overdue_milestones
FROM p LEFT JOIN money USING (project_id) LEFT JOIN ms USING (project_id)
ORDER BY p.project_id
"""


def in_view_sql() -> str:
    """Predicate over alias p: the project is in view for the filters (see module docstring)."""
    started = "COALESCE(p.actual_start_on, p.planned_start_on)"
    return (filter_sql("p", None, category="category")
            + f" AND ({started} IS NULL OR {started} <= $as_of OR p.stage IN ('立项', '审批'))"
              " AND ($date_from IS NULL OR p.actual_end_on IS NULL"
              " OR p.actual_end_on >= $date_from)")


def project_status(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """One row per project in view: schedule, spending and milestone measures at the as-of day."""
    df = fetch(con, _STATUS_SQL % {"where": in_view_sql()}, period_params(con, f))
    df["deviation_pts"] = df["progress_pct"] - df["elapsed_pct"]
    budget = df["budget_yuan"].where(df["budget_yuan"] > 0)
    df["spent_pct"] = 100.0 * df["spent_yuan"] / budget
    return df


def early_warnings(status: pd.DataFrame) -> pd.DataFrame:
    """One row per (project, rule fired); `value` is the rule's measure (points, count, days, yuan).

    Pure: takes project_status() rows, so each rule can be tested on a hand-built frame.
    """
    running = status["active"].astype(bool) & (status["stage"] != FINISHED_STAGE)
    gap_schedule = status["elapsed_pct"] - status["progress_pct"]
    gap_spending = status["spent_pct"] - status["progress_pct"]
    overrun = status["spent_yuan"] - status["budget_yuan"]
    fired = {
        "behind_schedule": (running & (gap_schedule > BEHIND_SCHEDULE_POINTS), gap_schedule),
        "overdue_milestones": (running & (status["overdue_milestones"] > 0),
                               status["overdue_milestones"]),
        "stalled": (running & (status["days_since_update"] > STALLED_DAYS),
                    status["days_since_update"]),
        "spending_ahead": (running & (gap_spending > SPEND_AHEAD_POINTS), gap_spending),
        "over_budget": ((status["budget_yuan"] > 0) & (overrun > 0), overrun),
    }
    parts = []
    for rule, (mask, value) in fired.items():
        mask = mask.fillna(False).astype(bool)
        hit = status.loc[mask, ["project_id", "name", "community", "category", "stage"]].copy()
        hit["rule"] = rule
        hit["value"] = value[mask].astype(float).round(1)
        parts.append(hit)
    cols = ["project_id", "name", "community", "category", "stage", "rule", "value"]
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=cols)
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


def summary(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """One row: projects in view, active, on schedule (share of running), archive rate."""
    s = project_status(con, f)
    running = s[s["active"] & (s["stage"] != FINISHED_STAGE)]
    behind = (running["elapsed_pct"] - running["progress_pct"]) > BEHIND_SCHEDULE_POINTS
    return pd.DataFrame([{
        "projects": len(s),
        "active": int(s["active"].sum()),
        "running": len(running),
        "on_schedule_share": (1 - behind.mean()) if len(running) else None,
        "archive_rate": s["archived"].mean() if len(s) else None,
        "budget_yuan": s["budget_yuan"].sum(),
        "spent_yuan": s["spent_yuan"].sum(),
    }])


def counts_by(con: duckdb.DuckDBPyConnection, f: Filters, column: str) -> pd.DataFrame:
    """One row per value of `column` (stage or lead_party_type): projects in view."""
    if column not in ("stage", "lead_party_type", "category", "community"):
        raise ValueError(column)
    s = project_status(con, f)
    out = s.groupby(column, as_index=False).agg(projects=("project_id", "count"))
    if column == "stage":
        order = {v: i for i, v in enumerate(STAGES)}
        out = out.sort_values(column, key=lambda c: c.map(order).fillna(99), ignore_index=True)
    return out


def timeline(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """One row per project in view with planned start/end and actual start/end (Gantt bars)."""
    s = project_status(con, f)
    cols = ["project_id", "name", "community", "stage", "progress_pct", "planned_start_on",
            "planned_end_on", "actual_start_on", "actual_end_on"]
    return s.loc[s["planned_start_on"].notna() & s["planned_end_on"].notna(), cols]


def milestones(con: duckdb.DuckDBPyConnection, f: Filters, project_id: str | None = None
               ) -> pd.DataFrame:
    """One row per milestone of the projects in view (or one project); late = overdue at as-of."""
    where = in_view_sql()
    sql = f"""
        WITH p AS (SELECT p.*, COALESCE(p.actual_start_on, p.planned_start_on) AS started_on
                   FROM {{projects}} p WHERE {where})
        SELECT m.project_id, p.name, m.milestone, m.planned_on, m.done_on,
               (m.planned_on < $as_of AND (m.done_on IS NULL OR m.done_on > $as_of)) AS overdue
        FROM {{project_milestones}} m JOIN p USING (project_id)
        WHERE ($project_id IS NULL OR m.project_id = $project_id)
        ORDER BY m.project_id, m.planned_on
    """
    return fetch(con, sql, period_params(con, f, project_id=project_id))


def ledger(con: duckdb.DuckDBPyConnection, f: Filters, project_id: str) -> pd.DataFrame:
    """One row per ledger entry of one project up to the as-of day; amounts in yuan."""
    return fetch(con, """
        SELECT txn_on, direction, source_type, source_name, expense_category,
               amount_yuan::DOUBLE AS amount_yuan, in_kind, note
        FROM {fund_transactions}
        WHERE project_id = $project_id AND txn_on <= $as_of
        ORDER BY txn_on, txn_id
    """, period_params(con, f, project_id=project_id))


def related_reports(con: duckdb.DuckDBPyConnection, f: Filters, project_id: str) -> pd.DataFrame:
    """Grid reports in the period from the project's community and of its category (max 200)."""
    return fetch(con, """
        SELECT g.report_id, g.reported_at, g.grid_id, g.category, g.subcategory, g.status,
               g.description
        FROM {grid_reports} g JOIN {projects} p
          ON g.community = p.community AND g.category = p.category
        WHERE p.project_id = $project_id
          AND ($date_from IS NULL OR g.reported_at >= $date_from) AND g.reported_at < $as_of_excl
        ORDER BY g.reported_at DESC LIMIT 200
    """, period_params(con, f, project_id=project_id))


def related_feedback(con: duckdb.DuckDBPyConnection, f: Filters, project_id: str) -> pd.DataFrame:
    """Feedback in the period from the project's community mentioning its category or keywords."""
    return fetch(con, """
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
    """, period_params(con, f, project_id=project_id))
