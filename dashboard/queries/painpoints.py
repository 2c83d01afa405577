"""民意痛点 page reads: fn(con, filters, *args) -> DataFrame, every value bound, no streamlit.

The scope of a pain-point ranking is the filters' community, or '全街道' when none is set.
Message-level reads (trend, drill-down, keyword counts, re-clustering) read the
feedback_enriched mart (each message with its pain point) and also honour the date, street and
grid filters through `filter_sql`. The counts among them (trend, totals, places, keywords) read
the summaries the pain-point run writes instead (dashboard/queries/painpoint_counts.py: the
same numbers from a few hundred thousand rows) while those are fresh, and a drill-down page of
the newest messages starts its scan at the day the summary says it needs; a read of one month
bounds submitted_at to that month, so the scan skips the other months' Parquet files. Queries
are module constants (see dashboard/queries/base.py).
"""
from __future__ import annotations

from datetime import date, timedelta

import duckdb
import pandas as pd

from dashboard.filters import Filters
from dashboard.queries import painpoint_counts as counts
from dashboard.queries.base import fetch, fetch_shared, filter_sql, params_of, sql
from etl import codes

STREET_SCOPE = codes.WHOLE_STREET
RECLUSTER_LIMIT = 20_000      # newest messages re-clustered on demand (keeps it interactive)
PAGE_SIZE = 50                # messages per page of a drill-down list (one page is read at a time)
TREND_MONTHS = 12

# message reads go through the feedback_enriched mart (each message with its pain point), alias e
_FB = filter_sql("e", "submitted_at", grid=True)
_FB_NO_DATE = filter_sql("e", None, grid=True)
# e.month_on = $month, restated on the stored column: the scan reads that month's files only
_IN_MONTH = "e.submitted_at >= $month AND e.submitted_at < $month_end"

MONTHS = """
    SELECT DISTINCT month_on FROM {pain_points}
    WHERE scope = $scope
      AND ($date_from IS NULL OR month_on >= date_trunc('month', $date_from::DATE))
      AND ($date_to_excl IS NULL OR month_on < $date_to_excl)
    ORDER BY month_on DESC"""

TOP_IDS = """
    SELECT DISTINCT pain_point_id FROM {pain_points} WHERE scope = $scope AND month_on = $month"""

TOP3 = """
    SELECT rank, pain_point_id, label, keywords, size, share, growth, heat, unresolved_share,
           avg_rating, likes, months_in_top3, representative_ids, representative_texts
    FROM {pain_points} WHERE scope = $scope AND month_on = $month ORDER BY rank"""

TREND = sql(counts.TREND_FRAME, counts=sql("""
        SELECT e.month_on, e.pain_point_id, count(*) AS messages
        FROM {feedback_enriched} e
        WHERE e.pain_point_id IN (SELECT unnest($ids)) AND {where}
          AND e.month_on >= $month::DATE - to_months($n - 1) AND e.month_on <= $month::DATE
        GROUP BY ALL""", where=_FB_NO_DATE))

HOT_SPOTS = """
    SELECT rank, place, pain_point_id, label, size, baseline, growth, share, burst, likes,
           unreplied_share, representative_ids, representative_texts
    FROM {hot_spots} WHERE scope = $scope AND month_on = $month AND rank <= $limit
    ORDER BY rank"""

# the pain point's messages of the month first, their places unnested after: unnesting before
# the filter expanded every message's places (3-5 s at 5M messages, 0.5 s this way)
PLACES = sql("""
    SELECT place, count(*) AS messages FROM (
        SELECT fp.places
        FROM {feedback_enriched} e JOIN {feedback_places} fp USING (feedback_id)
        WHERE e.pain_point_id = $pid AND e.month_on = $month AND {in_month} AND {where}) m,
        unnest(m.places) AS u(place)
    GROUP BY place ORDER BY messages DESC, place LIMIT $limit""", where=_FB_NO_DATE, in_month=_IN_MONTH)

_HOT_SPOT_ROWS = sql("""
    FROM {feedback_enriched} e
    JOIN {feedback_places} fp USING (feedback_id)
    WHERE e.pain_point_id = $pid AND e.month_on = $month AND {in_month}
      AND list_contains(fp.places, $place) AND {where}""", where=_FB_NO_DATE, in_month=_IN_MONTH)

HOT_SPOT_MESSAGES = sql("""
    SELECT e.submitted_at, e.community, e.channel, e.subject, e.text, e.likes, e.replied,
           e.feedback_id
    {rows}
    ORDER BY e.likes DESC NULLS LAST, e.submitted_at DESC, e.feedback_id
    LIMIT $limit OFFSET $offset""", rows=_HOT_SPOT_ROWS)

HOT_SPOT_MESSAGE_COUNT = sql("SELECT count(*) AS messages {rows}", rows=_HOT_SPOT_ROWS)

# a message counts as replied as etl/marts/feedback_enriched.sql defines it (the two reads below
# skip that mart's join; tests/test_painpoint_messages_fast.py compares them with it)
_REPLIED = "(m.reply IS NOT NULL OR m.replied_at IS NOT NULL)"

# HOT_SPOT_MESSAGES from the tables while the summaries are fresh: the month's assignments only
# (see MESSAGES_SINCE_MONTH below: the same rows), not the mart's join of all 5M; the places of
# the messages are still read whole (feedback_places is kept in feedback_id order)
HOT_SPOT_MESSAGES_OF_MONTH = sql("""
    SELECT m.submitted_at, m.community, m.channel, m.subject, m.text, m.likes,
           {replied} AS replied, m.feedback_id
    FROM {feedback} m JOIN {feedback_pain_points} a USING (feedback_id)
    JOIN {feedback_places} fp USING (feedback_id)
    WHERE a.pain_point_id = $pid AND a.month_on = $month
      AND m.submitted_at >= $month AND m.submitted_at < $month_end
      AND list_contains(fp.places, $place) AND {where}
    ORDER BY m.likes DESC NULLS LAST, m.submitted_at DESC, m.feedback_id
    LIMIT $limit OFFSET $offset""", where=filter_sql("m", None, grid=True), replied=_REPLIED)

# the month's messages of the top-3 first, then their tokens once (one row per message and
# token), joined to the keywords by equality: testing every keyword against every message's
# token list read the whole tokens table per keyword (10M demo: 1.1-1.3 s -> 0.5 s)
KEYWORD_COUNTS = sql("""
    WITH kw AS (
        SELECT rank, pain_point_id, label, unnest(keywords[1:8]) AS keyword
        FROM {pain_points} WHERE scope = $scope AND month_on = $month),
    msgs AS (
        SELECT e.feedback_id, e.pain_point_id
        FROM {feedback_enriched} e
        WHERE e.month_on = $month AND {in_month}
          AND e.pain_point_id IN (SELECT pain_point_id FROM kw) AND {where}),
    used AS (
        SELECT DISTINCT m.pain_point_id, m.feedback_id, u.token
        FROM msgs m JOIN {feedback_tokens} t USING (feedback_id), unnest(t.tokens) AS u(token))
    SELECT kw.rank, kw.label, kw.keyword, count(u.feedback_id) AS messages
    FROM kw LEFT JOIN used u ON u.pain_point_id = kw.pain_point_id AND u.token = kw.keyword
    GROUP BY ALL ORDER BY kw.rank, messages DESC, kw.keyword""", where=_FB, in_month=_IN_MONTH)

_MESSAGE_ROWS = sql("""
    FROM {feedback_enriched} e
    WHERE e.pain_point_id = $pid AND {where}""", where=_FB)

# $since_on: NULL, or a day before which no message of the page lies (counts.MESSAGES_SINCE)
MESSAGES = sql("""
    SELECT e.submitted_at, e.community, e.channel, e.subject, e.text, e.rating, e.likes,
           e.replied, e.feedback_id
    {rows} AND ($since_on IS NULL OR e.submitted_at >= $since_on)
    ORDER BY e.submitted_at DESC, e.feedback_id
    LIMIT $limit OFFSET $offset""", rows=_MESSAGE_ROWS)

MESSAGE_COUNT = sql("SELECT count(*) AS messages {rows}", rows=_MESSAGE_ROWS)

# MESSAGES' page from its two tables while the summaries are fresh: the mart joins every row of
# feedback_pain_points (5M at 10M reports, 0.15-0.2 s CPU) before the pain point's filter; the
# assignments are stored by month, so bounding a.month_on by $since_on's month reads one or two
# of their row groups. The same rows: while fresh, each message's assignment month is the month
# it was submitted in (the run clusters a month's messages; no later load moved one), one
# assignment per message, `replied` as the mart defines it (tests/test_painpoint_messages_fast.py).
MESSAGES_SINCE_MONTH = sql("""
    SELECT m.submitted_at, m.community, m.channel, m.subject, m.text, m.rating, m.likes,
           {replied} AS replied, m.feedback_id
    FROM {feedback} m JOIN {feedback_pain_points} a USING (feedback_id)
    WHERE a.pain_point_id = $pid AND a.month_on >= date_trunc('month', $since_on::DATE)::DATE
      AND m.submitted_at >= $since_on AND {where}
    ORDER BY m.submitted_at DESC, m.feedback_id
    LIMIT $limit OFFSET $offset""", where=filter_sql("m", "submitted_at", grid=True), replied=_REPLIED)

FUNDING = """
        WITH pp AS (
            SELECT rank, pain_point_id, label, keywords[1:8] AS kws, size
            FROM {pain_points} WHERE scope = $scope AND month_on = $month),
        pr AS (
            SELECT project_id, name, community, category, stage, budget_yuan,
                   concat_ws(' ', category, keywords, name) AS haystack,
                   list_filter(string_split_regex(concat_ws('、', category, keywords), '[、,，;；\\s]+'),
                               lambda w: length(w) >= 2) AS needles
            FROM {projects} p
            WHERE stage <> $finished AND ($community IS NULL OR community = $community)
              AND ($street IS NULL OR street = $street)),
        money AS (
            SELECT project_id,
                   sum(amount_yuan) FILTER (WHERE direction = 'in') AS received_yuan,
                   sum(amount_yuan) FILTER (WHERE direction = 'out') AS spent_yuan
            FROM {fund_transactions} GROUP BY project_id),
        matched AS (
            SELECT pp.rank, pp.pain_point_id, pr.*
            FROM pp JOIN pr ON len(list_filter(pp.kws, lambda k: strpos(pr.haystack, k) > 0)) > 0
                            OR len(list_filter(pr.needles, lambda w: len(list_filter(pp.kws,
                                   lambda k: strpos(k, w) > 0)) > 0)) > 0)
        SELECT pp.rank, pp.label, pp.size, m.project_id, m.name, m.community, m.category, m.stage,
               m.budget_yuan::DOUBLE AS budget_yuan, coalesce(money.received_yuan, 0)::DOUBLE AS received_yuan,
               coalesce(money.spent_yuan, 0)::DOUBLE AS spent_yuan
        FROM pp LEFT JOIN matched m USING (pain_point_id)
        LEFT JOIN money USING (project_id)
        ORDER BY pp.rank, m.budget_yuan DESC NULLS LAST, m.project_id"""

RECLUSTER = sql("""
    SELECT e.feedback_id, e.subject, e.text, array_to_string(t.tokens, ' ') AS tokens
    FROM {feedback_enriched} e JOIN {feedback_tokens} t USING (feedback_id)
    WHERE {where}
    ORDER BY e.submitted_at DESC, e.feedback_id LIMIT $limit""", where=_FB)


def scope_of(f: Filters) -> str:
    return f.community or STREET_SCOPE


def _month_end(month: date) -> date:
    """The first day of the month after `month` (a first of month)."""
    return (month.replace(day=1) + timedelta(days=32)).replace(day=1)


def summaries_fresh(con: duckdb.DuckDBPyConnection) -> bool:
    """True when the pain-point summaries count the feedback this reader sees (counts.FRESH);
    False in a file written before they existed (until its next write). Asked once per file
    version and scope (base.fetch_shared): five of the page's reads ask it."""
    try:
        return bool(fetch_shared(con, counts.FRESH, min_group=())["fresh"].iloc[0])
    except duckdb.CatalogException:
        return False


def months(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """One row per month with a ranking for the scope inside the date filter, newest first."""
    return fetch(con, MONTHS, params_of(f, scope=scope_of(f)))


def top3(con: duckdb.DuckDBPyConnection, f: Filters, month: date) -> pd.DataFrame:
    """The scope's top-3 of `month` (one row per rank), as stored by the engine."""
    return fetch(con, TOP3, params_of(f, scope=scope_of(f), month=month))


def trend(con: duckdb.DuckDBPyConnection, f: Filters, ids: tuple[str, ...], month: date) -> pd.DataFrame:
    """Messages per month of each pain point in `ids` over the TREND_MONTHS months up to
    `month` - whatever the date filter (one dot for one month says nothing); the other
    filters apply. One row per (month, pain point), 0 for a month without messages; each
    pain point labelled as in `month` (ids come from that month's ranking)."""
    query = counts.TREND if summaries_fresh(con) else TREND
    return fetch(con, query, params_of(f, ids=list(ids), month=month, n=TREND_MONTHS),
                 min_group="messages")


# --- hot spots (热点事件): (place, pain point) pairs, see docs/PAINPOINTS.md#hot-spots --------
def hot_spots(con: duckdb.DuckDBPyConnection, f: Filters, month: date, limit: int = 3) -> pd.DataFrame:
    """The scope's top hot spots of `month` (one row per rank), as stored by the engine."""
    return fetch(con, HOT_SPOTS, params_of(f, scope=scope_of(f), month=month, limit=limit))


def places(con: duckdb.DuckDBPyConnection, f: Filters, month: date, pain_point_id: str,
           limit: int = 8) -> pd.DataFrame:
    """Where a pain point's messages of `month` come from: one row per place named, most
    messages first (the map-less "where" list), under the filters but the date."""
    query = counts.PLACES if summaries_fresh(con) else PLACES
    return fetch(con, query, params_of(f, pid=pain_point_id, month=month,
                                       month_end=_month_end(month), limit=limit),
                 min_group="messages")


def hot_spot_messages(con: duckdb.DuckDBPyConnection, f: Filters, month: date, place: str,
                      pain_point_id: str, limit: int = PAGE_SIZE, offset: int = 0) -> pd.DataFrame:
    """One page of the messages behind one hot spot (its pain point, its month, naming its
    place): most liked first, then newest, ties by feedback_id; `limit` rows from `offset`."""
    query = HOT_SPOT_MESSAGES_OF_MONTH if summaries_fresh(con) else HOT_SPOT_MESSAGES
    return fetch(con, query, params_of(f, pid=pain_point_id, month=month,
                                                   month_end=_month_end(month), place=place,
                                                   limit=limit, offset=offset))


def hot_spot_message_count(con: duckdb.DuckDBPyConnection, f: Filters, month: date, place: str,
                           pain_point_id: str) -> pd.DataFrame:
    """One row: how many messages `hot_spot_messages` pages through (column `messages`)."""
    query = counts.HOT_SPOT_MESSAGE_COUNT if summaries_fresh(con) else HOT_SPOT_MESSAGE_COUNT
    return fetch(con, query, params_of(f, pid=pain_point_id, month=month,
                                       month_end=_month_end(month), place=place),
                 min_group="messages")


def keyword_counts(con: duckdb.DuckDBPyConnection, f: Filters, month: date) -> pd.DataFrame:
    """For each keyword of the month's top-3: how many of the pain point's messages use it.

    From the month-grain summary when it is fresh and the date filter holds every message of
    the month of these pain points (else the messages' tokens are read)."""
    params = params_of(f, scope=scope_of(f), month=month, month_end=_month_end(month))
    query = KEYWORD_COUNTS
    if summaries_fresh(con):
        ids = fetch(con, TOP_IDS, params)["pain_point_id"].tolist()
        outside = fetch(con, counts.OUTSIDE_PERIOD, {**params, "ids": ids}, min_group=())
        if int(outside["messages"].iloc[0]) == 0:
            query = counts.KEYWORD_COUNTS
    return fetch(con, query, params, min_group="messages")


def messages(con: duckdb.DuckDBPyConnection, f: Filters, pain_point_id: str,
             limit: int = PAGE_SIZE, offset: int = 0) -> pd.DataFrame:
    """One page of the messages of one pain point (all months) under the global filters:
    newest first, ties by feedback_id; `limit` rows from `offset` (see message_count)."""
    since, query = None, MESSAGES
    if summaries_fresh(con):
        found = fetch(con, counts.MESSAGES_SINCE,
                      params_of(f, pid=pain_point_id, wanted=offset + limit), min_group=())
        day = found["since_on"].iloc[0]
        # no day: the pain point has no message under the filters; date.max reads no file
        since = date.max if pd.isna(day) else pd.Timestamp(day).date()
        query = MESSAGES_SINCE_MONTH
    return fetch(con, query, params_of(f, pid=pain_point_id, limit=limit, offset=offset,
                                       since_on=since))


def message_count(con: duckdb.DuckDBPyConnection, f: Filters, pain_point_id: str) -> pd.DataFrame:
    """One row: how many messages `messages` pages through (column `messages`)."""
    query = counts.MESSAGE_COUNT if summaries_fresh(con) else MESSAGE_COUNT
    return fetch(con, query, params_of(f, pid=pain_point_id), min_group="messages")


def funding(con: duckdb.DuckDBPyConnection, f: Filters, month: date) -> pd.DataFrame:
    """Open projects (not 结项) addressing each of the month's top pain points, with money.

    A project addresses a pain point when one of the pain point's first eight keywords occurs
    in the project's category, keywords or name, or one of the project's keywords (split on
    、,; or spaces, two characters or more) occurs in a pain-point keyword. One row per
    (pain point, project); pain points without a project keep one row with project NULL.
    Read once per run (base.fetch_shared): the page asks for it and for funding_summary.
    """
    return fetch_shared(con, FUNDING, params_of(f, scope=scope_of(f), month=month,
                                                finished=codes.FINISHED_STAGE))


def funding_summary(con: duckdb.DuckDBPyConnection, f: Filters, month: date) -> pd.DataFrame:
    """One row per top pain point: open projects addressing it and their money (yuan)."""
    rows = funding(con, f, month)
    g = rows.groupby(["rank", "label", "size"], sort=True)
    return g.agg(projects=("project_id", "count"), budget_yuan=("budget_yuan", "sum"),
                 received_yuan=("received_yuan", "sum"), spent_yuan=("spent_yuan", "sum")).reset_index()


def recluster(con: duckdb.DuckDBPyConnection, f: Filters, max_messages: int = RECLUSTER_LIMIT) -> pd.DataFrame:
    """Re-cluster the messages under the current filters from their stored tokens (no
    segmentation): one row per pain point with label, keywords, size, share and 3 quotes."""
    from etl.painpoints.month import quote
    from etl.painpoints.pipeline import PainPointModel

    rows = fetch(con, RECLUSTER, params_of(f, limit=max_messages))
    rows = rows.sort_values("feedback_id", ignore_index=True)
    fitted = PainPointModel().fit([t.split() for t in rows["tokens"]])
    out = [{"label": tp.label, "keywords": tp.keywords[:8], "size": tp.size,
            "share": tp.size / len(rows),
            "quotes": [quote(rows.at[i, "subject"], rows.at[i, "text"]) for i in tp.representatives]}
           for tp in fitted.topics]
    columns = ["label", "keywords", "size", "share", "quotes"]
    return pd.DataFrame(out, columns=columns).assign(messages=len(rows), k=fitted.clusters.k)
