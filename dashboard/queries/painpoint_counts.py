"""The pain-point page's counts from the summaries the pain-point run writes
(etl/painpoints/summaries.py): the same numbers as dashboard/queries/painpoints.py's queries over
feedback_enriched (tests/test_painpoint_summaries.py), read from a few hundred thousand rows
instead of every message, its tokens and its places.

painpoints.py uses them while `FRESH` holds: no feedback the reader may see was loaded after the
summaries were built (source_load_id only grows; a later load of a message, which could move it
to another grid, day or month, makes them stale until the next run). Aliases: d, p, k for the
three summaries; their filter columns are feedback's (street, community, grid_id), and day_on is
the day of submitted_at, so `day_on >= $date_from AND day_on < $date_to_excl` selects the same
messages as the date filter on submitted_at. Query constants follow dashboard/queries/base.py.
"""
from __future__ import annotations

from dashboard.queries.base import filter_sql, sql

_DAILY = filter_sql("d", "day_on", grid=True)
_DAILY_NO_DATE = filter_sql("d", None, grid=True)

FRESH = """
    SELECT coalesce((SELECT max(source_load_id) FROM {feedback}), 0)
           <= coalesce((SELECT max(built_at_load) FROM {pain_point_summaries}), -1) AS fresh"""

# the trend's months x pain points frame; `counts` (one row per month_on, pain_point_id with
# messages) comes from the summary here and from feedback_enriched in painpoints.py
TREND_FRAME = """
    WITH m AS (
        SELECT unnest(range($month::DATE - to_months($n - 1), $month::DATE + INTERVAL 1 MONTH,
                            INTERVAL 1 MONTH))::DATE AS month_on),
    ids AS (SELECT pain_point_id, label FROM {pain_point_clusters}    -- labelled as on the cards
            WHERE month_on = $month AND pain_point_id IN (SELECT unnest($ids))),
    counts AS ({counts})
    SELECT m.month_on, ids.pain_point_id, ids.label, coalesce(c.messages, 0) AS messages
    FROM m CROSS JOIN ids
    LEFT JOIN counts c ON c.month_on = m.month_on AND c.pain_point_id = ids.pain_point_id
    ORDER BY list_position($ids, ids.pain_point_id), m.month_on"""

TREND = sql(TREND_FRAME, counts=sql("""
        SELECT d.month_on, d.pain_point_id, sum(d.messages)::BIGINT AS messages
        FROM {pain_point_daily} d
        WHERE d.pain_point_id IN (SELECT unnest($ids)) AND {where}
          AND d.month_on >= $month::DATE - to_months($n - 1) AND d.month_on <= $month::DATE
        GROUP BY ALL""", where=_DAILY_NO_DATE))

MESSAGE_COUNT = sql("""
    SELECT coalesce(sum(d.messages), 0)::BIGINT AS messages
    FROM {pain_point_daily} d
    WHERE d.pain_point_id = $pid AND {where}""", where=_DAILY)

# the newest day whose messages, with the later ones, make at least $wanted under the filters
# (the oldest day when there are fewer): a page of the newest messages lies on or after it
MESSAGES_SINCE = sql("""
    WITH days AS (
        SELECT d.day_on, sum(d.messages) AS messages
        FROM {pain_point_daily} d
        WHERE d.pain_point_id = $pid AND {where}
        GROUP BY d.day_on),
    newer AS (
        SELECT day_on, sum(messages) OVER (ORDER BY day_on DESC ROWS UNBOUNDED PRECEDING) AS n
        FROM days)
    SELECT coalesce(max(day_on) FILTER (WHERE n >= $wanted), min(day_on)) AS since_on
    FROM newer""", where=_DAILY)

# messages of the month's pain points (in $ids) outside the date filter: 0 = the period holds
# the whole month for them, so a month-grain summary gives what the dated query gives
OUTSIDE_PERIOD = sql("""
    SELECT coalesce(sum(d.messages), 0)::BIGINT AS messages
    FROM {pain_point_daily} d
    WHERE d.month_on = $month AND d.pain_point_id IN (SELECT unnest($ids)) AND {where}
      AND NOT (($date_from IS NULL OR d.day_on >= $date_from)
               AND ($date_to_excl IS NULL OR d.day_on < $date_to_excl))""",
    where=_DAILY_NO_DATE)

PLACES = sql("""
    SELECT p.place, sum(p.messages)::BIGINT AS messages
    FROM {pain_point_places} p
    WHERE p.pain_point_id = $pid AND p.month_on = $month AND {where}
    GROUP BY p.place ORDER BY messages DESC, p.place LIMIT $limit""",
    where=filter_sql("p", None, grid=True))

HOT_SPOT_MESSAGE_COUNT = sql("""
    SELECT coalesce(sum(p.messages), 0)::BIGINT AS messages
    FROM {pain_point_places} p
    WHERE p.pain_point_id = $pid AND p.month_on = $month AND p.place = $place AND {where}""",
    where=filter_sql("p", None, grid=True))

KEYWORD_COUNTS = sql("""
    WITH kw AS (
        SELECT rank, pain_point_id, label, unnest(keywords[1:8]) AS keyword
        FROM {pain_points} WHERE scope = $scope AND month_on = $month),
    used AS (
        SELECT k.pain_point_id, k.keyword, sum(k.messages) AS messages
        FROM {pain_point_keywords} k
        WHERE k.month_on = $month AND {where}
        GROUP BY ALL)
    SELECT kw.rank, kw.label, kw.keyword, coalesce(sum(u.messages), 0)::BIGINT AS messages
    FROM kw LEFT JOIN used u ON u.pain_point_id = kw.pain_point_id AND u.keyword = kw.keyword
    GROUP BY ALL ORDER BY kw.rank, messages DESC, kw.keyword""",
    where=filter_sql("k", None, grid=True))
