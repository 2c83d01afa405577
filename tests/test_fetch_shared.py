"""base.fetch_shared: a read several query functions repeat within a page run is asked once per
database file version, scope and parameters (dashboard/cache.py gives it RESULTS as its store),
and returns what fetch returns."""
from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from dashboard.filters import Filters
from dashboard.queries import base
from dashboard.queries import painpoint_counts as counts
from dashboard.queries import painpoints as q
from dashboard.queries.base import Scope, fetch, fetch_shared, use_scope, use_store
from sweep import left_to_full_run

DAYS = ("SELECT count(*) AS n FROM {grid_daily} g"
        " WHERE g.day_on >= $since AND g.community IN (SELECT unnest($names))")


class CountingStore:
    """A dict store that counts how often it had to compute."""
    def __init__(self):
        self.kept: dict = {}
        self.computed = 0

    def __call__(self, key, compute):
        if key not in self.kept:
            self.computed += 1
            self.kept[key] = compute()
        return self.kept[key]


def _community(con) -> str:
    return con.execute("SELECT min(community) FROM grid_daily").fetchone()[0]


def test_without_a_store_it_is_fetch(con):
    params = {"since": date(2000, 1, 1), "names": [_community(con)]}
    pd.testing.assert_frame_equal(fetch_shared(con, DAYS, params), fetch(con, DAYS, params))


def test_one_read_per_scope_and_parameters(con):
    c = _community(con)
    store = CountingStore()
    scopes = [Scope(), Scope(role="community", communities=(c,)),
              Scope(role="community", communities=("no such community",))]
    seen = []
    with use_store(store):
        for scope in scopes:
            with use_scope(scope):
                for since in (date(2000, 1, 1), date(2100, 1, 1)):
                    params = {"since": since, "names": [c]}     # a list: keyed by its value
                    first = fetch_shared(con, DAYS, params)
                    again = fetch_shared(con, DAYS, dict(params))
                    pd.testing.assert_frame_equal(first, again)
                    pd.testing.assert_frame_equal(first, fetch(con, DAYS, params))
                    seen.append(int(first["n"].iloc[0]))
    assert store.computed == len(scopes) * 2          # never one scope's result for another
    assert seen[0] > 0 and seen[1] == 0 and seen[4] == 0   # the scope and the date matter


@pytest.fixture
def executed(monkeypatch):
    """(SQL, scope) of every read base.fetch really runs."""
    runs: list[tuple[str, Scope]] = []
    real = base.fetch

    def counted(con, sql, params=None, **kw):
        runs.append((sql, base.current_scope()))
        return real(con, sql, params, **kw)
    monkeypatch.setattr(base, "fetch", counted)
    return runs


@pytest.fixture
def fresh_reads(executed):
    """The scopes under which the pain-point summaries' freshness check really ran."""
    class Runs:
        def _all(self):
            return [scope for sql, scope in executed if sql == counts.FRESH]

        def count(self, scope):
            return self._all().count(scope)

        def __len__(self):
            return len(self._all())
    return Runs()


@left_to_full_run
def test_the_page_reads_ask_freshness_once_per_scope(demo_db, use_db, fresh_reads):
    from dashboard import cache

    use_db(demo_db)                  # built by the real ETL and pain-point run: summaries fresh

    cache.clear()
    f = Filters()
    con = cache.connection()
    month = q.months(con, f)["month_on"].iloc[0]
    pid = q.top3(con, f, month)["pain_point_id"].iloc[0]
    c = con.execute("SELECT community FROM feedback GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
                    ).fetchone()[0]
    results = {}
    for scope in (Scope(), Scope(role="community", communities=(c,))):
        with use_scope(scope):
            results[scope] = [cache.run(q.trend, f, (pid,), month), cache.run(q.places, f, month, pid),
                              cache.run(q.message_count, f, pid), cache.run(q.messages, f, pid),
                              cache.run(q.keyword_counts, f, month)]
            # the same reads without the store (straight to the connection): the same frames
            for got, want in zip(results[scope], [q.trend(con, f, (pid,), month),
                                                  q.places(con, f, month, pid),
                                                  q.message_count(con, f, pid),
                                                  q.messages(con, f, pid),
                                                  q.keyword_counts(con, f, month)]):
                pd.testing.assert_frame_equal(got, want)
    # five cached functions asked it in each scope; with the store, once per scope (the
    # direct calls above ask it each time: five more per scope)
    assert fresh_reads.count(Scope()) == 1 + 5
    assert len(fresh_reads) == 2 * (1 + 5)
    assert q.summaries_fresh(con)        # the summaries path (else the check reads the messages)
    assert sum(len(r) for r in results[Scope()]) > 0
    cache.clear()


def test_funding_and_the_latest_date_are_read_once_per_run(demo_db, use_db, executed):
    from dashboard import cache
    from dashboard.queries import common

    use_db(demo_db)
    cache.clear()
    f = Filters()
    con = cache.connection()
    month = q.months(con, f)["month_on"].iloc[0]
    executed.clear()
    rows = cache.run(q.funding, f, month)
    summary = cache.run(q.funding_summary, f, month)     # reads funding again: shared
    assert [sql for sql, _ in executed].count(q.FUNDING) == 1
    pd.testing.assert_frame_equal(summary, q.funding_summary(con, f, month))
    pd.testing.assert_frame_equal(rows, q.funding(con, f, month))
    assert len(rows) > 0 and len(summary) > 0
    executed.clear()
    first = cache.run(common.as_of, f)                    # date_to open: the latest date
    cache.run(common.period_params, f)                    # asks for the latest date again
    assert [sql for sql, _ in executed].count(common.LATEST) == 1
    assert first == common.latest_data_date(con) is not None
    cache.clear()
