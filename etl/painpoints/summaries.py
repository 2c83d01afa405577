"""Pain-point summaries: the counts the pain-point page reads instead of every message.

Written whole by every pain-point run that writes (etl/painpoints/pipeline.py, step 9), after
the pain points, places and hot spots, from the same tables the page would otherwise scan:

- pain_point_daily: messages per (day, street, community, grid, pain point) - the trend, a
  drill-down's total and where its newest page starts;
- pain_point_places: messages per (month, pain point, street, community, grid, place) - the
  "where" list and a hot spot's total (a message names a place at most once:
  PlaceNormaliser.canonical keeps them distinct);
- pain_point_keywords: messages per (month, pain point, street, community, grid, keyword), for
  the first eight keywords of any of the month's rankings of the pain point - the keyword chart;
- pain_point_summaries: one row, the newest feedback load (max source_load_id) they were built
  from. A later feedback load makes them stale (a moved or re-dated message would be counted
  where it was): the page then reads the messages themselves until the next run
  (dashboard/queries/painpoints.py). Each count equals the page's own query over
  feedback_enriched (tests/test_painpoint_summaries.py).
"""
from __future__ import annotations

import duckdb

TABLES = ("pain_point_daily", "pain_point_places", "pain_point_keywords")

# the clustered messages, once: (feedback_id, its month, its pain point and where it came from)
_CLUSTERED = """
    SELECT m.feedback_id, date_trunc('month', m.submitted_at)::DATE AS month_on,
           m.submitted_at::DATE AS day_on, m.street, m.community, m.grid_id, a.pain_point_id
    FROM feedback m JOIN feedback_pain_points a USING (feedback_id)
    WHERE a.pain_point_id IS NOT NULL"""

_BUILD = {
    "pain_point_daily": f"""
        INSERT INTO pain_point_daily
        SELECT month_on, day_on, street, community, grid_id, pain_point_id, count(*) AS messages
        FROM ({_CLUSTERED}) GROUP BY ALL""",
    "pain_point_places": f"""
        INSERT INTO pain_point_places
        SELECT c.month_on, c.pain_point_id, c.street, c.community, c.grid_id, u.place,
               count(*) AS messages
        FROM ({_CLUSTERED}) c JOIN feedback_places fp USING (feedback_id),
             unnest(fp.places) AS u(place)
        GROUP BY ALL""",
    # each message's tokens joined to its pain point's keywords that month by equality, once
    # per (message, keyword) (2.4x less work than intersecting every message's token list)
    "pain_point_keywords": f"""
        INSERT INTO pain_point_keywords
        WITH kw AS (
            SELECT DISTINCT month_on, pain_point_id, unnest(keywords[1:8]) AS keyword
            FROM pain_points),
        tokens AS (
            SELECT c.month_on, c.pain_point_id, c.street, c.community, c.grid_id, c.feedback_id,
                   u.token
            FROM ({_CLUSTERED}) c JOIN feedback_tokens t USING (feedback_id),
                 unnest(t.tokens) AS u(token)),
        hits AS (
            SELECT DISTINCT t.month_on, t.pain_point_id, t.street, t.community, t.grid_id,
                   t.feedback_id, kw.keyword
            FROM tokens t JOIN kw ON kw.month_on = t.month_on
                                 AND kw.pain_point_id = t.pain_point_id AND kw.keyword = t.token)
        SELECT month_on, pain_point_id, street, community, grid_id, keyword, count(*) AS messages
        FROM hits GROUP BY ALL""",
}
_CLEAR = {t: f"DELETE FROM {t}" for t in (*TABLES, "pain_point_summaries")}
_NEWEST_LOAD = "SELECT coalesce(max(source_load_id), 0) FROM feedback"
_STATE = "SELECT max(built_at_load) FROM pain_point_summaries"


def newest_load(con: duckdb.DuckDBPyConnection) -> int:
    """The newest feedback load in the file (0 when there is no feedback)."""
    return int(con.execute(_NEWEST_LOAD).fetchone()[0])


def stale(con: duckdb.DuckDBPyConnection) -> bool:
    """True when the summaries were not built from the feedback now in the file (never built
    counts as up to date while there is no feedback: there is nothing to count)."""
    built = con.execute(_STATE).fetchone()[0]
    return int(built if built is not None else 0) != newest_load(con)


def rebuild(con: duckdb.DuckDBPyConnection) -> int:
    """Every summary table rebuilt from the stored pain points; returns pain_point_daily's rows."""
    load = newest_load(con)
    for statement in _CLEAR.values():
        con.execute(statement)
    for table in TABLES:
        con.execute(_BUILD[table])
    con.execute("INSERT INTO pain_point_summaries VALUES ($load)", {"load": load})
    return con.execute("SELECT count(*) FROM pain_point_daily").fetchone()[0]
