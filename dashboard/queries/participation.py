"""协商与参与 reads: votes against the 30% line, meetings and resolutions, usage, points,
concentration of tasks (top-10% share, Gini, Lorenz) and residents' evaluations of projects.

Every rule comes from the seeded tables `participation_rules` / `points_rules` (etl/rules.toml)
or the view `vote_results`; nothing here restates a threshold. Definitions:
- usage rate: distinct residents with a task in the period per 1,000 households (`communities`);
- top-10% share: tasks carried by the ceil(n/10) participants with most tasks, over all tasks of
  the n participants (ties broken by pseudonym); Gini over tasks per participant;
- decisions: days with a decision activity (议事会) in a community; with young residents when a
  participant that day is in a young age band; NULL where no age band is given at all;
- overdue resolution: not 已完成/搁置 and due before the as-of day; undisclosed: its meeting's
  quarter ended before the as-of day and it was not disclosed (公示) by then;
- low-rated project: average rating below `evaluations.low_rating` from at least
  `evaluations.min_ratings` evaluations up to the as-of day.
"""
from __future__ import annotations

import duckdb
import pandas as pd

from dashboard.filters import Filters
from dashboard.queries.base import fetch, sql
from dashboard.queries.common import period_params
from dashboard.queries.participation_measures import (  # noqa: F401  (the page's pure derivations)
    STREET_SCOPE, concentration_of, concentration_one, flagged, kpis_of, lorenz_of,
    meetings_by_community, points_of, status_counts, usage_of, vote_counts_of, vote_summary)

RULES = ("SELECT max(value) FILTER (WHERE rule = 'concentration.top_share') AS top_share, "
         "max(value) FILTER (WHERE rule = 'evaluations.low_rating') AS low_rating, "
         "max(value) FILTER (WHERE rule = 'evaluations.min_ratings') AS min_ratings, "
         "max(value) FILTER (WHERE rule = 'resolutions.disclosure_within_months') AS disclosure_months, "
         "max(value) FILTER (WHERE rule = 'meetings.joint_min_social_orgs') AS min_orgs, "
         "max(names) FILTER (WHERE rule = 'meetings.joint_kind')[1] AS joint_kind, "
         "max(names) FILTER (WHERE rule = 'meetings.joint_required_types') AS required_types, "
         "max(names) FILTER (WHERE rule = 'meetings.joint_social_org_type')[1] AS org_type, "
         "max(names) FILTER (WHERE rule = 'concentration.decision_activities') AS decision_activities, "
         "max(names) FILTER (WHERE rule = 'concentration.young_age_bands') AS young_bands "
         "FROM {participation_rules}")


def _where(alias: str, date_col: str | None) -> str:
    """Community, street (through `communities` when the row has no street) and period filters."""
    parts = [f"($community IS NULL OR {alias}.community = $community)",
             f"($street IS NULL OR {alias}.community IN (SELECT community FROM {{communities}} WHERE street = $street))"]
    if date_col:
        parts += [f"($date_from IS NULL OR {alias}.{date_col} >= $date_from)",
                  f"{alias}.{date_col} < $as_of_excl"]
    return " AND ".join(parts)


def _run(con: duckdb.DuckDBPyConnection, f: Filters, sql: str) -> pd.DataFrame:
    return fetch(con, sql, period_params(con, f))


# --- votes -------------------------------------------------------------------------------------
VOTES_SQL = sql("""
    SELECT vote_id, community, topic, closed_on, eligible_voters, ballots_cast, yes_votes, no_votes,
           abstain_votes, participation_share, valid_share, valid, passed
    FROM {vote_results} v WHERE {where}
    ORDER BY closed_on, vote_id
""", where=_where('v', 'closed_on'))


def votes(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """One row per vote closed in the period: participation share, the line, valid, passed."""
    return _run(con, f, VOTES_SQL)


# --- meetings and resolutions ------------------------------------------------------------------
MEETINGS_MONTHLY_SQL = sql("""
    SELECT community, date_trunc('month', held_on)::DATE AS month_on, kind, count(*) AS meetings
    FROM {meetings} m WHERE {where}
    GROUP BY ALL ORDER BY month_on, community, kind
""", where=_where('m', 'held_on'))

JOINT_GAPS_SQL = sql("""
    WITH r AS ({rules}),
    m AS (SELECT m.meeting_id, m.held_on, m.community, m.parties,
                 list_transform(string_split(COALESCE(m.parties, ''), '、'),
                                lambda x: regexp_extract(trim(x), '[(（]([^()（）]+)[)）]$', 1)) AS types
          FROM {meetings} m, r WHERE m.kind = r.joint_kind AND {where})
    SELECT meeting_id, held_on, community,
           array_to_string(list_filter(r.required_types, lambda x: NOT list_contains(types, x)), '、') AS missing_types,
           len(list_filter(types, lambda x: x = r.org_type)) AS social_orgs, r.min_orgs::INTEGER AS min_social_orgs
    FROM m, r
    WHERE len(list_filter(r.required_types, lambda x: NOT list_contains(types, x))) > 0
       OR len(list_filter(types, lambda x: x = r.org_type)) < r.min_orgs
    ORDER BY held_on DESC, meeting_id
""", rules=RULES, where=_where('m', 'held_on'))

RESOLUTIONS_SQL = sql("""
    WITH r AS ({rules})
    SELECT s.resolution_id, s.meeting_id, s.community, m.held_on, s.text, s.responsible_party, s.due_on,
           s.status, s.disclosed_on,
           (date_trunc('quarter', m.held_on) + to_months(CAST(r.disclosure_months AS INTEGER))
            - INTERVAL 1 DAY)::DATE AS disclose_by,
           s.status NOT IN ('已完成', '搁置') AND s.due_on < $as_of AS overdue,
           disclose_by < $as_of AND (s.disclosed_on IS NULL OR s.disclosed_on > disclose_by) AS undisclosed,
           ($date_from IS NULL OR m.held_on >= $date_from) AS in_period
    FROM {resolutions} s JOIN {meetings} m USING (meeting_id), r
    WHERE {where} AND m.held_on < $as_of_excl
    ORDER BY m.held_on, s.resolution_id
""", rules=RULES, where=_where('s', None))


def meetings_monthly(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """One row per (community, month, kind): meetings held."""
    return _run(con, f, MEETINGS_MONTHLY_SQL)


def joint_meeting_gaps(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """One row per joint meeting in the period missing a required party type or social organisations."""
    return _run(con, f, JOINT_GAPS_SQL)


def resolutions(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """One row per resolution of a meeting held up to the as-of day, with its overdue and
    undisclosed flags at that day and whether its meeting falls in the period."""
    return _run(con, f, RESOLUTIONS_SQL)


# --- participation, usage and points -----------------------------------------------------------
# Fetched once per page (habit 10): one row per (community, resident) in the period; usage, the
# leaderboard, concentration and the Lorenz curve are pure functions of it.
RESIDENT_TASKS_SQL = sql("""
    SELECT p.community, p.resident_pseudonym, count(*) AS tasks, sum(p.points) AS points,
           COALESCE(sum(p.hours), 0) AS hours
    FROM {participation_points} p WHERE {where}
    GROUP BY ALL
""", where=_where('p', 'occurred_on'))
# the whole selection's concentration in one row, finished in SQL (the overview and briefing
# cards): residents' tasks summed over communities, then top share and Gini as in
# participation_measures.concentration_one. Read from the participation_residents summary (one
# row per community and resident with the days of their tasks, etl/marts/residents.py): 751k rows
# at 10M reports instead of grouping 6.8M records; a resident whose days all lie in the period
# counts `tasks` without looking at the days. CONCENTRATION_RECORDS_SQL is the same over the
# records, for a catalog written before the summary existed (until its next write).
# per (resident_pseudonym, tasks) -> one row; residents grouped by their number of tasks first
# (a few dozen groups), ranks within a group implied: group g holds ranks before_g + 1 ..
# before_g + residents_g in ascending order of tasks, so the top share and the Gini's
# sum((2i - n - 1) * tasks_i) are the same integers as over one row per resident, without
# sorting 751k residents
_CONCENTRATION_OF_PER = """
    hist AS (SELECT tasks, count(*) AS residents FROM per GROUP BY tasks),
    ranked AS (
        SELECT tasks, residents,
               COALESCE(sum(residents) OVER (ORDER BY tasks ROWS BETWEEN UNBOUNDED PRECEDING
                                                         AND 1 PRECEDING), 0) AS before,
               sum(residents) OVER () AS n, sum(tasks * residents) OVER () AS total
        FROM hist),
    counted AS (
        SELECT *, greatest(0, least(residents,
                   before + residents - (n - ceil(round($top * n * 1e6) / 1e6)))) AS in_top
        FROM ranked)
    SELECT COALESCE(sum(residents), 0)::BIGINT AS participants,
           COALESCE(sum(tasks * residents), 0)::BIGINT AS tasks,
           sum(tasks * in_top) FILTER (WHERE in_top > 0)::DOUBLE / NULLIF(any_value(total), 0) AS top_share,
           sum(tasks * (2 * (residents * before + residents * (residents + 1) // 2)
                        - residents * (n + 1)))::DOUBLE
               / NULLIF(any_value(n) * any_value(total), 0) AS gini
    FROM counted
"""
CONCENTRATION_SQL = sql("""
    WITH in_period AS (
        SELECT p.resident_pseudonym,
               CASE WHEN ($date_from IS NULL OR p.first_on >= $date_from) AND p.last_on < $as_of_excl
                    THEN p.tasks
                    ELSE len(list_filter(p.task_days, lambda d: ($date_from IS NULL OR d >= $date_from)
                                                                AND d < $as_of_excl)) END AS tasks
        FROM {participation_residents} p
        WHERE {where} AND ($date_from IS NULL OR p.last_on >= $date_from) AND p.first_on < $as_of_excl),
    per AS (
        SELECT resident_pseudonym, sum(tasks) AS tasks FROM in_period WHERE tasks > 0
        GROUP BY resident_pseudonym),
    {tail}""", where=_where('p', None), tail=_CONCENTRATION_OF_PER)
CONCENTRATION_RECORDS_SQL = sql("""
    WITH per AS (
        SELECT p.resident_pseudonym, count(*) AS tasks
        FROM {participation_points} p WHERE {where}
        GROUP BY ALL),
    {tail}""", where=_where('p', 'occurred_on'), tail=_CONCENTRATION_OF_PER)
HOUSEHOLDS_SQL = sql("""
    SELECT c.community, c.households FROM {communities} c WHERE {where} ORDER BY c.community
""", where=_where('c', None))
RULE_VALUES_SQL = RULES

USAGE_SQL = sql("""
    SELECT p.community, date_trunc('month', p.occurred_on)::DATE AS month_on,
           count(DISTINCT p.resident_pseudonym) AS active_residents, any_value(c.households) AS households,
           1000.0 * count(DISTINCT p.resident_pseudonym) / any_value(c.households) AS per_1000_households
    FROM {participation} p LEFT JOIN {communities} c USING (community)
    WHERE {where}
    GROUP BY ALL ORDER BY month_on, community
""", where=_where('p', 'occurred_on'))

REDEEMED_SQL = sql("""
    SELECT COALESCE(sum(points), 0) AS points_redeemed, count(*) AS redemptions
    FROM {redemptions} d WHERE {where}
""", where=_where('d', 'redeemed_on'))


def resident_tasks(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """One row per (community, resident pseudonym) with a task in the period: tasks, points, hours."""
    return _run(con, f, RESIDENT_TASKS_SQL)


def households(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """One row per community in the filters: households (the denominator of the usage rate)."""
    return _run(con, f, HOUSEHOLDS_SQL)


def rule_values(con: duckdb.DuckDBPyConnection, f: Filters | None = None) -> pd.DataFrame:
    """One row: the participation rules in force (participation_rules, from etl/rules.toml)."""
    return fetch(con, RULE_VALUES_SQL)


def usage_monthly(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """One row per (community, month): active residents and per 1,000 households (usage rate)."""
    return _run(con, f, USAGE_SQL)


def usage(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """One row per community for the period: active residents, per 1,000 households, tasks, hours, points."""
    return usage_of(resident_tasks(con, f), households(con, f))


def redeemed(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """One row: points redeemed and redemptions in the period."""
    return _run(con, f, REDEEMED_SQL)


LEADERBOARD_SQL = sql("""
    WITH per AS (SELECT p.community, p.resident_pseudonym, count(*) AS tasks, sum(p.points) AS points,
                        COALESCE(sum(p.hours), 0) AS hours
                 FROM {participation_points} p WHERE {where} GROUP BY ALL)
    SELECT resident_pseudonym, first(community ORDER BY tasks DESC, community) AS community,
           sum(tasks) AS tasks, sum(points) AS points, sum(hours) AS hours
    FROM per GROUP BY resident_pseudonym
    ORDER BY points DESC, tasks DESC, resident_pseudonym LIMIT $limit
""", where=_where('p', 'occurred_on'))


def leaderboard(con: duckdb.DuckDBPyConnection, f: Filters, limit: int = 20) -> pd.DataFrame:
    """The `limit` residents with most points in the period: pseudonyms only, never identities;
    community = where they did most tasks."""
    return fetch(con, LEADERBOARD_SQL, period_params(con, f, limit=limit))


# --- concentration -----------------------------------------------------------------------------
def concentration(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """One row per community plus one for the whole selection ('全街道', or the filtered community):
    participants, tasks, the top-10% share of tasks and the Gini of tasks per participant."""
    rules = rule_values(con, f).iloc[0]
    return concentration_of(resident_tasks(con, f), float(rules["top_share"]), f.community or STREET_SCOPE)


CONCENTRATION_MONTHLY_SQL = sql("""
    WITH r AS ({rules}),
    per AS (SELECT date_trunc('month', p.occurred_on)::DATE AS scope, p.resident_pseudonym, count(*) AS tasks
            FROM {participation} p WHERE {where} GROUP BY ALL),
    ranked AS (SELECT per.*, row_number() OVER (PARTITION BY scope ORDER BY tasks, resident_pseudonym DESC) AS rank_asc,
                      count(*) OVER (PARTITION BY scope) AS n, sum(tasks) OVER (PARTITION BY scope) AS total
               FROM per)
    SELECT scope, any_value(n) AS participants, any_value(total)::BIGINT AS tasks,
           sum(tasks) FILTER (WHERE rank_asc > n - ceil(round(r.top_share * n, 6))) / any_value(total) AS top_share,
           sum((2 * rank_asc - n - 1) * tasks) / (any_value(n) * any_value(total)) AS gini
    FROM ranked, r GROUP BY scope ORDER BY scope
""", rules=RULES, where=_where('p', 'occurred_on'))


def concentration_monthly(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """One row per month (scope = month start): top-10% share and Gini over the filters' communities."""
    return _run(con, f, CONCENTRATION_MONTHLY_SQL)


YOUNG_SQL = sql("""
    WITH r AS ({rules}),
    d AS (SELECT p.community, p.occurred_on,
                 bool_or(list_contains(r.young_bands, p.age_band)) AS with_young,
                 bool_or(p.age_band IS NOT NULL) AS banded
          FROM {participation} p, r
          WHERE list_contains(r.decision_activities, p.activity) AND {where}
          GROUP BY ALL)
    SELECT community, count(*) AS decisions, count(*) FILTER (WHERE with_young) AS with_young,
           CASE WHEN bool_or(banded) THEN count(*) FILTER (WHERE with_young) / count(*) END AS young_share
    FROM d GROUP BY community ORDER BY community
""", rules=RULES, where=_where('p', 'occurred_on'))


def young_share(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """One row per community: decisions (decision-activity days), those with a participant under 35
    and their share (NULL where no age band is given)."""
    return _run(con, f, YOUNG_SQL)


# --- evaluations -------------------------------------------------------------------------------
# counted per project before the join: the evaluations are Parquet parts, which DuckDB estimates
# at a few thousand rows, so a join first built its hash table on every evaluation (1M at 10M
# reports) instead of the projects
EVALUATIONS_SQL = sql("""
    WITH r AS ({rules}),
    rated AS (SELECT e.project_id, count(*) AS ratings, avg(e.rating) AS avg_rating
              FROM {evaluations} e WHERE e.submitted_at < $as_of_excl GROUP BY e.project_id)
    SELECT e.project_id, p.name, p.community, e.ratings, e.avg_rating,
           e.ratings >= r.min_ratings AND e.avg_rating < r.low_rating AS low_rated
    FROM rated e JOIN {projects} p USING (project_id), r
    WHERE {where}
    ORDER BY low_rated DESC, avg_rating, e.project_id
""", rules=RULES, where=_where('p', None))


def evaluations(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """One row per evaluated project (up to the as-of day): ratings, average and the low-rating flag."""
    return _run(con, f, EVALUATIONS_SQL)


PROJECT_EVALUATIONS_SQL = """
    SELECT e.submitted_at, e.rating, e.comment, e.resident_pseudonym
    FROM {evaluations} e
    WHERE e.project_id = $project_id AND e.submitted_at < $as_of_excl
    ORDER BY e.submitted_at DESC, e.evaluation_id
"""


def project_evaluations(con: duckdb.DuckDBPyConnection, f: Filters, project_id: str) -> pd.DataFrame:
    """One row per evaluation of one project up to the as-of day, newest first (comments PII-masked at
    load; residents as pseudonyms)."""
    return fetch(con, PROJECT_EVALUATIONS_SQL, period_params(con, f, project_id=project_id))


def low_rated(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """The projects the evaluation rule flags (the early warning on the project page and overview)."""
    ev = evaluations(con, f)
    return ev[ev["low_rated"]].reset_index(drop=True)


# --- headline figures (the page's cards, the overview and the weekly briefing) -----------------
VOTE_COUNTS_SQL = sql("""
    SELECT count(*) AS votes, count(*) FILTER (WHERE v.valid) AS valid_votes
    FROM {vote_results} v WHERE {where}
""", where=_where('v', 'closed_on'))


def vote_counts(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """One row: votes closed in the period and the valid ones."""
    return _run(con, f, VOTE_COUNTS_SQL)


HAS_TABLES_SQL = ("SELECT count(*) FILTER (WHERE table_name <> 'participation_residents') = 2 AS ready, "
                  "count(*) FILTER (WHERE table_name = 'participation_residents') = 1 AS summary "
                  "FROM information_schema.tables WHERE table_schema = 'main' "
                  "AND table_name IN ('vote_results', 'participation_rules', 'participation_residents')")
# the concentration reads the per-resident summary for periods of at least this many days; a
# shorter period's records (its months' Parquet parts only) are fewer than the summary's rows
# (10M reports: 30 days 0.05 s CPU from the records vs 0.14 s from the summary; two years 1.05
# vs 0.20 s). Both give the same numbers.
SUMMARY_FROM_DAYS = 120
KPI_COLUMNS = ("active_residents", "households", "usage_rate", "votes", "valid_votes", "valid_vote_share",
               "overdue_resolutions", "undisclosed_resolutions", "top_share", "gini")


def kpis(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """One row with the participation KPIs for the filters' period (see kpis_of); all empty for a
    database file written before these tables existed (until its next load), so the overview and
    the weekly briefing keep working."""
    has = fetch(con, HAS_TABLES_SQL).iloc[0]
    if not bool(has["ready"]):
        return pd.DataFrame([dict.fromkeys(KPI_COLUMNS)])
    top = float(rule_values(con, f).iloc[0]["top_share"])
    whole = f.community or STREET_SCOPE
    params = period_params(con, f, top=top)
    long = f.date_from is None or (params["as_of"] - f.date_from).days >= SUMMARY_FROM_DAYS
    query = CONCENTRATION_SQL if bool(has["summary"]) and long else CONCENTRATION_RECORDS_SQL
    conc = fetch(con, query, params).assign(scope=whole)
    return kpis_of(int(conc["participants"].iloc[0]), households(con, f), vote_counts(con, f),
                   resolutions(con, f), conc, whole)


