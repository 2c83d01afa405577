"""民意痛点 page (AppTest): cards equal the pain_points rows; filters, drill-down, re-clustering."""
from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pytest

from dashboard import cache
from dashboard.filters import Filters
from dashboard.i18n import t
from pages_fixture import full_tables, open_drill_downs, previews

PAGE = str(Path(__file__).resolve().parents[1] / "pages" / "painpoints.py")


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()
    yield
    cache.clear()


def page(filters: Filters | None = None):
    from streamlit.testing.v1 import AppTest
    at = AppTest.from_file(PAGE, default_timeout=120)
    if filters is not None:
        at.session_state["filters"] = filters
    at.run()
    assert not at.exception, at.exception
    return at


def reader(db: Path) -> duckdb.DuckDBPyConnection:
    """Same configuration as the page's cached connection (DuckDB refuses a different one)."""
    from dashboard.db import READ_CONFIG
    return duckdb.connect(str(db), read_only=True, config=dict(READ_CONFIG))


def stored(db: Path, scope: str) -> pd.DataFrame:
    con = reader(db)
    try:
        return con.execute("""SELECT * FROM pain_points WHERE scope = $s AND month_on =
                              (SELECT max(month_on) FROM pain_points WHERE scope = $s) ORDER BY rank""",
                           {"s": scope}).df()
    finally:
        con.close()


def stored_month(db: Path, scope: str, month) -> pd.DataFrame:
    con = reader(db)
    try:
        return con.execute("SELECT * FROM pain_points WHERE scope = $s AND month_on = $m ORDER BY rank",
                           {"s": scope, "m": month}).df()
    finally:
        con.close()


def cards(at) -> list[tuple[str, str]]:
    return [(m.label, m.value) for m in at.metric]


@pytest.mark.slow
def test_cards_equal_the_stored_top3(demo_db, use_db):
    use_db(demo_db)
    at = page()
    rows = stored(demo_db, "全街道")
    assert cards(at) == [(f"#{r.rank} {r.label}", f"{r.size:,}") for r in rows.itertuples()]
    captions = [c.value for c in at.caption]
    for r in rows.itertuples():
        assert (t("painpoints.card.streak_first", "zh") if r.months_in_top3 == 1 else
                t("painpoints.card.streak", "zh", n=r.months_in_top3)) in captions
        assert all(f"“{q}”" in captions for q in r.representative_texts)
    assert not at.error
    # the trend first; the keyword bars and the money chart one click away
    charts = at.get("plotly_chart")
    assert len(charts) == 1 and "painpoints_trend" in charts[0].proto.id
    assert at.segmented_control(key="painpoints_view").value == "trend"


@pytest.mark.slow
def test_keywords_and_money_chart_when_chosen(demo_db, use_db):
    import json
    use_db(demo_db)
    at = page()
    labels = set(stored(demo_db, "全街道")["label"])
    full_tables(at)
    projects = next(d.value for d in at.dataframe if "project_id" in d.value.columns)
    at.segmented_control(key="painpoints_view").set_value("keywords").run()
    assert not at.exception and not at.error
    charts = at.get("plotly_chart")
    assert len(charts) == 1 and "painpoints_keywords" in charts[0].proto.id
    bars = json.loads(charts[0].proto.spec)["data"]
    assert bars and {b["name"] for b in bars} <= labels
    at.toggle(key="painpoints_funding_chart").set_value(True).run()
    assert not at.exception and not at.error
    charts = at.get("plotly_chart")
    assert len(charts) == 2 and "painpoints_funding" in charts[1].proto.id
    money = json.loads(charts[1].proto.spec)["data"]
    assert [b["type"] for b in money] == ["bar"] * 3
    # the project list stays under the chart, unchanged
    again = next(d.value for d in at.dataframe if "project_id" in d.value.columns)
    pd.testing.assert_frame_equal(again.reset_index(drop=True), projects.reset_index(drop=True))


@pytest.mark.slow
def test_card_trend_arrow_follows_growth(demo_db, use_db):
    """Growth beyond ±5 % gets a red up / green down arrow; new or flat ones none and grey."""
    from streamlit.proto.Metric_pb2 import Metric
    use_db(demo_db)
    con = reader(demo_db)
    month = con.execute("""SELECT month_on FROM pain_points WHERE scope = '全街道' GROUP BY 1
                           HAVING bool_or(growth < -0.05) AND bool_or(growth > 0.05)
                           ORDER BY 1 DESC LIMIT 1""").fetchall()[0][0]
    con.close()
    at = page(Filters(date_from=month, date_to=month))
    rows = stored_month(demo_db, "全街道", month)
    assert len(at.metric) == len(rows) == 3
    for m, r in zip(at.metric, rows.itertuples()):
        if pd.isna(r.growth):
            want = (t("painpoints.card.new", "zh"), Metric.NONE, Metric.GRAY)
        elif abs(r.growth) <= 0.05:
            want = (t("painpoints.card.growth", "zh", pct=f"{100 * r.growth:+.0f}%"), Metric.NONE, Metric.GRAY)
        else:
            want = (t("painpoints.card.growth", "zh", pct=f"{100 * r.growth:+.0f}%"),
                    Metric.UP if r.growth > 0 else Metric.DOWN,
                    Metric.RED if r.growth > 0 else Metric.GREEN)
        assert (m.proto.delta, m.proto.direction, m.proto.color) == want, r.label


@pytest.mark.slow
def test_community_filter_shows_that_scope(demo_db, use_db):
    use_db(demo_db)
    con = reader(demo_db)
    community = con.execute("SELECT scope FROM pain_points WHERE scope <> '全街道' "
                            "GROUP BY scope ORDER BY count(*) DESC, scope LIMIT 1").fetchall()[0][0]
    con.close()
    at = page(Filters(community=community))
    rows = stored(demo_db, community)
    assert cards(at) == [(f"#{r.rank} {r.label}", f"{r.size:,}") for r in rows.itertuples()]


def every_message(db: Path, pid: str) -> pd.DataFrame:
    """All of a pain point's messages in the drill-down's order, sorted by pandas."""
    con = reader(db)
    try:
        rows = con.execute("""SELECT f.feedback_id, f.submitted_at FROM feedback_pain_points p
                              JOIN feedback f USING (feedback_id) WHERE p.pain_point_id = $p""",
                           {"p": pid}).df()
    finally:
        con.close()
    return rows.sort_values(["submitted_at", "feedback_id"], ascending=[False, True],
                            ignore_index=True)


@pytest.mark.slow
def test_drill_down_pages_through_every_message_of_the_pain_point(demo_db, use_db):
    from dashboard.queries.painpoints import PAGE_SIZE
    use_db(demo_db)
    at = open_drill_downs(page())
    pid = at.selectbox(key="painpoints_pick").value
    every = every_message(demo_db, pid)
    n, pages = len(every), -(-len(every) // PAGE_SIZE)
    assert n > PAGE_SIZE                              # the demo's top pain point spans pages
    captions = [c.value for c in at.caption]
    assert t("painpoints.drill_count", "zh", n=f"{n:,}") in captions      # the total, not the page
    assert t("common.page_of", "zh", page="1", pages=f"{pages:,}") in captions
    # the page of messages opens as a static table holding all of it (no grid code loaded)
    assert not at.dataframe
    listed = previews(at)[0]
    ids = listed[0].index(t("common.col.feedback_id", "zh"))
    assert [r[ids] for r in listed[1:]] == every["feedback_id"][:PAGE_SIZE].tolist()
    full_tables(at)                                   # the grid: sort, search, download
    shown = at.dataframe[0].value                     # the drill-down table comes first
    assert shown["feedback_id"].tolist() == every["feedback_id"][:PAGE_SIZE].tolist()

    at.number_input(key="painpoints_messages_page").set_value(2).run()
    assert not at.exception
    shown = at.dataframe[0].value
    assert shown["feedback_id"].tolist() == every["feedback_id"][PAGE_SIZE:2 * PAGE_SIZE].tolist()
    assert t("common.page_of", "zh", page="2", pages=f"{pages:,}") in [c.value for c in at.caption]

    at.number_input(key="painpoints_messages_page").set_value(pages).run()
    last = at.dataframe[0].value
    assert last["feedback_id"].tolist() == every["feedback_id"][(pages - 1) * PAGE_SIZE:].tolist()


@pytest.mark.slow
def test_message_lists_are_one_click_away(demo_db, use_db):
    """The page opens with its message list behind a switch (no picker, pager or message table
    drawn, nothing read); switched on, it shows its picker and list (the hot spots' list:
    tests/test_hotspots.py)."""
    use_db(demo_db)
    at = page()
    switch = at.toggle(key="painpoints_drill_show")
    assert switch.value is False and switch.label == t("painpoints.drill_show", "zh")
    assert {s.key for s in at.selectbox} == {"painpoints_month"}         # the month picker stays
    assert not at.number_input
    ids = t("common.col.feedback_id", "zh")
    assert not [p for p in previews(at) if ids in p[0]]                   # no message list yet
    drilled = open_drill_downs(at)
    assert not drilled.exception
    assert "painpoints_pick" in {s.key for s in drilled.selectbox}
    assert drilled.number_input(key="painpoints_messages_page").value == 1
    assert [p for p in previews(drilled) if ids in p[0]]


@pytest.mark.slow
def test_picking_another_pain_point_starts_at_page_one(demo_db, use_db):
    use_db(demo_db)
    at = open_drill_downs(page())
    full_tables(at)
    at.number_input(key="painpoints_messages_page").set_value(2).run()
    at.selectbox(key="painpoints_pick").select_index(1).run()
    assert not at.exception
    pid = at.selectbox(key="painpoints_pick").value
    every = every_message(demo_db, pid)
    assert at.dataframe[0].value["feedback_id"].tolist() == every["feedback_id"][:50].tolist()


def test_message_pages_and_counts_match_pandas(demo_db):
    """The queries themselves: consecutive pages tile the whole list; the counts equal pandas'."""
    from dashboard.queries import painpoints as q
    con = reader(demo_db)
    try:
        f = Filters()
        pid = con.execute("SELECT pain_point_id FROM pain_points WHERE scope = '全街道' "
                          "ORDER BY month_on DESC, rank LIMIT 1").fetchone()[0]
        every = every_message(demo_db, pid)
        assert int(q.message_count(con, f, pid)["messages"].iloc[0]) == len(every)
        tiles = [q.messages(con, f, pid, 7, off)["feedback_id"] for off in range(0, len(every), 7)]
        assert pd.concat(tiles).tolist() == every["feedback_id"].tolist()

        month, place, spot_pid = con.execute("""SELECT month_on, place, pain_point_id FROM hot_spots
            WHERE scope = '全街道' ORDER BY size DESC, month_on DESC, rank LIMIT 1""").fetchone()
        raw = con.execute("""SELECT f.feedback_id, f.likes, f.submitted_at
            FROM feedback_pain_points p JOIN feedback f USING (feedback_id)
            JOIN feedback_places fp USING (feedback_id)
            WHERE p.pain_point_id = $p AND p.month_on = $m""", {"p": spot_pid, "m": month}).df()
        places = con.execute("SELECT feedback_id, places FROM feedback_places").df()
    finally:
        con.close()
    named = set(places[places["places"].map(lambda ps: place in list(ps))]["feedback_id"])
    want = raw[raw["feedback_id"].isin(named)].sort_values(
        ["likes", "submitted_at", "feedback_id"], ascending=[False, False, True],
        na_position="last", ignore_index=True)
    assert len(want) > 3
    con = reader(demo_db)
    try:
        total = int(q.hot_spot_message_count(con, f, month, place, spot_pid)["messages"].iloc[0])
        second = q.hot_spot_messages(con, f, month, place, spot_pid, 3, 3)
    finally:
        con.close()
    assert total == len(want)
    assert second["feedback_id"].tolist() == want["feedback_id"][3:6].tolist()


def test_keyword_counts_match_pandas(demo_db):
    """For each keyword of the month's top-3: the pain point's messages whose tokens hold it,
    counted in pandas from the raw tables (the query counts each message once)."""
    from dashboard.queries import painpoints as q
    con = reader(demo_db)
    try:
        f = Filters()
        month = con.execute("SELECT max(month_on) FROM pain_points WHERE scope = '全街道'").fetchone()[0]
        got = q.keyword_counts(con, f, month)
        top = con.execute("""SELECT rank, pain_point_id, keywords[1:8] AS kws FROM pain_points
            WHERE scope = '全街道' AND month_on = $m""", {"m": month}).df()
        msgs = con.execute("""SELECT p.pain_point_id, t.tokens FROM feedback_pain_points p
            JOIN feedback_tokens t USING (feedback_id) WHERE p.month_on = $m""", {"m": month}).df()
    finally:
        con.close()
    want = {}
    for _, row in top.iterrows():
        own = msgs[msgs["pain_point_id"] == row["pain_point_id"]]["tokens"].map(set)
        for kw in row["kws"]:
            want[(row["rank"], kw)] = int(sum(kw in toks for toks in own))
    seen = {(r.rank, r.keyword): int(r.messages) for r in got.itertuples()}
    assert seen == want and len(want) >= 3 and max(want.values()) > 0


@pytest.mark.slow
def test_recluster_on_demand(demo_db, use_db):
    use_db(demo_db)
    at = page()
    at.button(key="painpoints_recluster").click().run()
    assert not at.exception and not at.error
    charts = at.get("plotly_chart")          # the trend and the re-clustering's bars
    assert len(charts) == 2 and "painpoints_recluster_chart" in charts[1].proto.id


def test_empty_database_state(tmp_path, use_db):
    use_db(tmp_path / "missing.duckdb")
    at = page()
    assert t("common.empty_db", "zh") in [i.value for i in at.info]


def test_english_ui(demo_db, use_db):
    use_db(demo_db)
    at = page(Filters(lang="en"))
    assert at.title[0].value == "Resident pain points"
    assert at.toggle(key="painpoints_drill_show").label == t("painpoints.drill_show", "en")
    open_drill_downs(at)
    assert any(c.value.startswith("Page 1 of ") for c in at.caption)
