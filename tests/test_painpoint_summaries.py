"""The pain-point summaries (etl/painpoints/summaries.py) give what the page's own queries over
every message give: each summary-backed read of dashboard/queries/painpoints.py against the same
query over feedback_enriched, under the whole street and a community's row-level scope, with
and without filters; a feedback load makes them stale (the page then counts the messages) and
the next pain-point run makes them fresh again."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from pages_fixture import read_only
from test_painpoints_db import build_db, write_feedback

from dashboard.filters import Filters
from dashboard.queries import painpoint_counts as counts
from dashboard.queries import painpoints as q
from dashboard.queries.base import Scope, fetch, use_scope
from etl import painpoints
from etl.painpoints import summaries
from etl.painpoints.synthetic import corpus

pytestmark = pytest.mark.slow   # the demo build (conftest demo_build)


def _raw(con, f: Filters, name: str, *args) -> pd.DataFrame:
    """The page read `name` counted from the messages themselves (the queries used when the
    summaries are stale)."""
    if name == "trend":
        ids, month = args
        return fetch(con, q.TREND, q.params_of(f, ids=list(ids), month=month, n=q.TREND_MONTHS),
                     min_group="messages")
    if name == "message_count":
        return fetch(con, q.MESSAGE_COUNT, q.params_of(f, pid=args[0]), min_group="messages")
    if name == "messages":
        pid, limit, offset = args
        return fetch(con, q.MESSAGES, q.params_of(f, pid=pid, limit=limit, offset=offset,
                                                  since_on=None))
    month = args[0]
    extra = {"month": month, "month_end": q._month_end(month)}
    if name == "places":
        return fetch(con, q.PLACES, q.params_of(f, pid=args[1], limit=8, **extra),
                     min_group="messages")
    if name == "hot_spot_message_count":
        return fetch(con, q.HOT_SPOT_MESSAGE_COUNT, q.params_of(f, place=args[1], pid=args[2],
                                                                **extra), min_group="messages")
    if name == "keyword_counts":
        return fetch(con, q.KEYWORD_COUNTS, q.params_of(f, scope=q.scope_of(f), **extra),
                     min_group="messages")
    raise ValueError(name)


def _cases(con, f: Filters) -> list[tuple[str, tuple]]:
    """Every summary-backed read for the latest month with a ranking under `f`."""
    months = q.months(con, f)
    assert not months.empty
    month = pd.Timestamp(months["month_on"].iloc[0]).date()
    top = q.top3(con, f, month)
    assert not top.empty
    pid = top["pain_point_id"].iloc[0]
    cases = [("trend", (tuple(top["pain_point_id"]), month)), ("message_count", (pid,)),
             ("messages", (pid, 50, 0)), ("messages", (pid, 7, 20)),
             ("places", (month, pid)), ("keyword_counts", (month,))]
    places = q.places(con, f, month, pid)
    for place in places["place"].head(2):
        cases.append(("hot_spot_message_count", (month, place, pid)))
    return cases


def _same(got: pd.DataFrame, want: pd.DataFrame) -> bool:
    return (list(got.columns) == list(want.columns) and len(got) == len(want)
            and got.reset_index(drop=True).astype(str).equals(want.reset_index(drop=True).astype(str)))


@pytest.fixture
def demo_con(demo_db):
    con = read_only(demo_db)
    yield con
    con.close()


def _community(con) -> str:
    return con.execute("SELECT community FROM feedback GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
                       ).fetchone()[0]


def _filters(con) -> list[Filters]:
    c = _community(con)
    grid = con.execute("SELECT grid_id FROM feedback WHERE community = $c GROUP BY 1"
                       " ORDER BY count(*) DESC LIMIT 1", {"c": c}).fetchone()[0]
    return [Filters(),                                                     # everything
            Filters(date_from=date(2026, 8, 1), date_to=date(2026, 11, 22)),   # whole months
            Filters(date_from=date(2026, 9, 12), date_to=date(2026, 11, 20)),  # cut months
            Filters(date_from=date(2026, 6, 1), date_to=date(2026, 11, 22), community=c),
            Filters(community=c, grid_id=grid)]


@pytest.mark.parametrize("role", ["leader", "community"])
def test_summary_reads_equal_the_counts_over_the_messages(demo_con, role):
    c = _community(demo_con)
    scope = Scope() if role == "leader" else Scope(role="community", communities=(c,))
    checked = 0
    with use_scope(scope):
        assert q.summaries_fresh(demo_con)          # else both sides are the raw queries
        for f in _filters(demo_con):
            for name, args in _cases(demo_con, f):
                got = getattr(q, name)(demo_con, f, *args)
                want = _raw(demo_con, f, name, *args)
                assert _same(got, want), (role, f, name, args, got, want)
                checked += int(len(want) > 0 and want.select_dtypes("number").to_numpy().sum() > 0
                               if name != "messages" else len(want) > 0)
    assert checked >= 15           # not vacuous: most reads found messages


def test_summary_tables_hold_every_clustered_message(demo_con):
    total = demo_con.execute("SELECT count(*) FROM feedback_enriched WHERE pain_point_id IS NOT NULL"
                             ).fetchone()[0]
    assert demo_con.execute("SELECT sum(messages) FROM pain_point_daily").fetchone()[0] == total > 0
    named = demo_con.execute("""SELECT count(*) FROM feedback_enriched e
        JOIN feedback_places fp USING (feedback_id), unnest(fp.places)
        WHERE e.pain_point_id IS NOT NULL""").fetchone()[0]
    assert demo_con.execute("SELECT sum(messages) FROM pain_point_places").fetchone()[0] == named > 0
    assert demo_con.execute("SELECT count(*) FROM pain_point_keywords").fetchone()[0] > 0


def test_the_keyword_chart_reads_the_messages_when_the_period_cuts_the_month(demo_con):
    """A period ending inside the month: the month-grain summary cannot say which of the
    month's messages it holds, so the chart counts the messages (and still gets them right)."""
    months = q.months(demo_con, Filters())
    month = pd.Timestamp(months["month_on"].iloc[1]).date()          # a full month of data
    cut = Filters(date_from=month, date_to=month.replace(day=10))
    whole = Filters(date_from=month, date_to=q._month_end(month))
    got, want = q.keyword_counts(demo_con, cut, month), _raw(demo_con, cut, "keyword_counts", month)
    assert _same(got, want)
    assert int(got["messages"].sum()) < int(q.keyword_counts(demo_con, whole, month)["messages"].sum())


# --- freshness: a feedback load makes them stale, the next run fresh -------------------------
@pytest.fixture(scope="module")
def engine_db(tmp_path_factory) -> Path:
    fb, _ = corpus(n_months=3, per_month=200, seed=5)
    db = build_db(tmp_path_factory.mktemp("summ") / "c.duckdb", fb.drop(columns=["topic"]))
    painpoints.run(db_path=db)
    return db


def _state(db: Path) -> tuple[bool, pd.DataFrame, pd.DataFrame]:
    con = read_only(db)
    try:
        fresh = q.summaries_fresh(con)
        table = con.execute("SELECT grid_id, pain_point_id, sum(messages) AS n FROM pain_point_daily"
                            " GROUP BY ALL ORDER BY ALL").df()
        raw = con.execute("SELECT grid_id, pain_point_id, count(*) AS n FROM feedback_enriched"
                          " WHERE pain_point_id IS NOT NULL GROUP BY ALL ORDER BY ALL").df()
        return fresh, table, raw
    finally:
        con.close()


def test_a_feedback_load_makes_the_summaries_stale_until_the_next_run(engine_db):
    fresh, table, raw = _state(engine_db)
    assert fresh and _same(table.astype({"n": "int64"}), raw.astype({"n": "int64"}))
    con = duckdb.connect(str(engine_db), read_only=True)
    moved = con.execute("""SELECT f.* EXCLUDE (source_load_id) FROM feedback f
        JOIN feedback_pain_points p USING (feedback_id) WHERE p.pain_point_id IS NOT NULL
        ORDER BY feedback_id LIMIT 5""").df()
    con.close()
    write_feedback(engine_db, moved.assign(grid_id="MOVED-01"))        # same texts, another grid
    fresh, table, raw = _state(engine_db)
    assert not fresh and "MOVED-01" in set(raw["grid_id"]) and "MOVED-01" not in set(table["grid_id"])
    con = read_only(engine_db)
    try:       # stale: the page counts the messages, so it shows the move at once
        pid = moved.merge(con.execute("SELECT * FROM feedback_pain_points").df(),
                          on="feedback_id")["pain_point_id"].iloc[0]
        f = Filters(grid_id="MOVED-01")
        assert int(q.message_count(con, f, pid)["messages"].iloc[0]) >= 1
    finally:
        con.close()
    painpoints.run(db_path=engine_db)               # nothing to re-cluster, summaries rebuilt
    fresh, table, raw = _state(engine_db)
    assert fresh and _same(table.astype({"n": "int64"}), raw.astype({"n": "int64"}))
    assert "MOVED-01" in set(table["grid_id"])


def test_fresh_compares_against_the_newest_load_the_reader_sees(engine_db):
    con = read_only(engine_db)
    try:
        built = con.execute("SELECT built_at_load FROM pain_point_summaries").fetchall()
        assert built == [(summaries.newest_load(con),)]
        assert bool(fetch(con, counts.FRESH, min_group=())["fresh"].iloc[0])
    finally:
        con.close()


def test_a_file_from_before_the_summaries_reads_the_messages(engine_db, tmp_path):
    import shutil
    old = Path(shutil.copy(engine_db, tmp_path / "old.duckdb"))
    con = duckdb.connect(str(old))
    for table in ("pain_point_summaries", *summaries.TABLES):
        con.execute(f"DROP TABLE {table}")
    pid = con.execute("SELECT pain_point_id FROM pain_points ORDER BY month_on DESC, rank LIMIT 1"
                      ).fetchone()[0]
    con.close()
    con = read_only(old)
    try:
        assert not q.summaries_fresh(con)
        got = q.message_count(con, Filters(), pid)
        assert _same(got, _raw(con, Filters(), "message_count", pid))
        assert int(got["messages"].iloc[0]) > 0
    finally:
        con.close()
