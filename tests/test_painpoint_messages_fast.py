"""painpoints.messages and hot_spot_messages, while the summaries are fresh, read feedback and
feedback_pain_points directly (MESSAGES_SINCE_MONTH, HOT_SPOT_MESSAGES_OF_MONTH: bounded by the
assignments' month) instead of the feedback_enriched mart: the same page of messages as the
mart's query, for several months, pain points, places, pages, filters and row-level scopes, on
the demo database."""
from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
from pages_fixture import read_only

from dashboard.filters import Filters
from dashboard.queries import painpoints as q
from dashboard.queries.base import Scope, fetch, use_scope

pytestmark = pytest.mark.slow   # the demo build (conftest demo_build)


@pytest.fixture
def demo_con(demo_db):
    con = read_only(demo_db)
    yield con
    con.close()


def _mart_page(con, f: Filters, pid: str, limit: int, offset: int) -> pd.DataFrame:
    """The page from the mart, no summary involved (the query of a stale file)."""
    return fetch(con, q.MESSAGES, q.params_of(f, pid=pid, limit=limit, offset=offset, since_on=None))


def test_the_assignment_month_is_the_submitted_month(demo_con):
    """What the month bound rests on, while the summaries are fresh."""
    assert q.summaries_fresh(demo_con)
    bad, n = demo_con.execute("""
        SELECT count(*) FILTER (WHERE a.month_on <> date_trunc('month', m.submitted_at)::DATE),
               count(*)
        FROM feedback_pain_points a JOIN feedback m USING (feedback_id)""").fetchone()
    assert bad == 0 and n > 1000
    assert demo_con.execute("SELECT count(*) - count(DISTINCT feedback_id) FROM feedback_pain_points"
                            ).fetchone()[0] == 0


@pytest.mark.parametrize("scope", ["leader", "community", "analyst-narrowed"])
def test_messages_equal_the_marts_page(demo_con, scope):
    c, grid = demo_con.execute("""SELECT community, any_value(grid_id) FROM feedback
                                  GROUP BY 1 ORDER BY count(*) DESC LIMIT 1""").fetchone()
    role = {"leader": Scope(), "community": Scope(role="community", communities=(c,)),
            "analyst-narrowed": Scope(role="analyst", communities=(c,))}[scope]
    filters = [Filters(), Filters(date_from=date(2026, 9, 12), date_to=date(2026, 11, 20)),
               Filters(community=c), Filters(grid_id=grid, date_to=date(2026, 10, 3))]
    compared = found = 0
    with use_scope(role):
        assert q.summaries_fresh(demo_con)          # the fast path is the one under test
        for f in filters:
            for month in q.months(demo_con, Filters(community=f.community))["month_on"].head(3):
                for pid in q.top3(demo_con, f, pd.Timestamp(month).date())["pain_point_id"]:
                    for limit, offset in ((50, 0), (7, 20), (50, 400)):
                        got = q.messages(demo_con, f, pid, limit, offset)
                        want = _mart_page(demo_con, f, pid, limit, offset)
                        pd.testing.assert_frame_equal(got, want)
                        compared += 1
                        found += len(want)
    assert compared >= 30 and found > 100            # not vacuous


@pytest.mark.parametrize("scope", ["leader", "community"])
def test_hot_spot_messages_equal_the_marts_page(demo_con, scope):
    c = demo_con.execute("SELECT community FROM feedback GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
                         ).fetchone()[0]
    role = Scope() if scope == "leader" else Scope(role="community", communities=(c,))
    compared = found = 0
    with use_scope(role):
        assert q.summaries_fresh(demo_con)
        for f in (Filters(), Filters(community=c)):
            for month in q.months(demo_con, f)["month_on"].head(4):
                month = pd.Timestamp(month).date()
                for pid in q.top3(demo_con, f, month)["pain_point_id"]:
                    for place in q.places(demo_con, f, month, pid)["place"].head(3):
                        for limit, offset in ((50, 0), (5, 3)):
                            got = q.hot_spot_messages(demo_con, f, month, place, pid, limit, offset)
                            want = fetch(demo_con, q.HOT_SPOT_MESSAGES, q.params_of(
                                f, pid=pid, month=month, month_end=q._month_end(month),
                                place=place, limit=limit, offset=offset))
                            pd.testing.assert_frame_equal(got, want)
                            compared += 1
                            found += len(want)
    assert compared >= 10 and found > 10             # not vacuous
