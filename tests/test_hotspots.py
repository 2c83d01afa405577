"""Hot spots (热点事件): the burst ranking on hand-made months, the planted bursts of the demo,
and the three places they are shown (pain-point page, overview, briefing)."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from dashboard import cache
from dashboard.filters import Filters
from dashboard.i18n import t
from pages_fixture import full_tables, open_drill_downs
from etl.painpoints.hotspots import COLUMNS, HotSpotRanker, burst
from etl.painpoints.places import clean
from sweep import left_to_full_run

REPO = Path(__file__).resolve().parents[1]
STREET = "全街道"
M0, M1, M2, M3 = date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1), date(2026, 4, 1)


# --- the ranking, on hand-made months -----------------------------------------------------------
def messages(rows: list[tuple]) -> pd.DataFrame:
    """rows: (month, community, pain point, [places], how many, likes, replied)."""
    out, i = [], 0
    for month, community, pid, places, n, likes, replied in rows:
        for _ in range(n):
            i += 1
            out.append({"feedback_id": f"F{i:05d}", "month_on": month, "community": community,
                        "pain_point_id": pid, "likes": likes, "replied": replied,
                        "quote": f"{pid} at {'/'.join(places)} #{i}", "places": list(places)})
    return pd.DataFrame(out)


def totals_of(msgs: pd.DataFrame, extra: list[tuple] = ()) -> pd.DataFrame:
    """Every message per (month, community, pain point); `extra` adds messages naming no place."""
    t = msgs.groupby(["month_on", "community", "pain_point_id"], dropna=False).agg(
        n=("feedback_id", "size"), likes=("likes", "sum")).reset_index()
    more = pd.DataFrame(list(extra), columns=["month_on", "community", "pain_point_id", "n", "likes"])
    return pd.concat([t, more], ignore_index=True).groupby(
        ["month_on", "community", "pain_point_id"], dropna=False)[["n", "likes"]].sum().reset_index()


def labels_of(msgs: pd.DataFrame) -> pd.DataFrame:
    pairs = msgs[["month_on", "pain_point_id"]].drop_duplicates()
    return pairs.assign(label=pairs["pain_point_id"].str.lower())


def rank(rows, extra=(), **kw) -> pd.DataFrame:
    msgs = messages(rows)
    return HotSpotRanker(**kw).rank(msgs, labels_of(msgs), totals_of(msgs, extra))


def test_a_concentrated_burst_beats_a_bigger_theme_spread_over_many_places():
    broad = [(M3, "东社区", "BUS", [f"{name}路"], 3, 2, False)
             for name in ("东一", "东二", "东三", "东四", "东五", "东六", "东七", "东八", "东九", "东十",
                          "西一", "西二", "西三", "西四", "西五", "西六", "西七", "西八", "西九", "西十")]
    burst_rows = [(M3, "西社区", "NOISE", ["伊景园滨河苑"], 10, 2, False),
                  (M3, "西社区", "NOISE", ["别处花园"], 1, 2, False)]
    out = rank(broad + burst_rows)
    street = out[out["scope"] == STREET].reset_index(drop=True)
    assert (street.loc[0, "place"], street.loc[0, "pain_point_id"]) == ("伊景园滨河苑", "NOISE")
    assert street.loc[0, "size"] == 10 and street.loc[0, "share"] == pytest.approx(10 / 11, abs=1e-6)
    spread = street[street["pain_point_id"] == "BUS"]
    assert len(spread) == 9                                   # top 10 per scope: the rest are BUS
    assert spread["share"].max() == pytest.approx(0.05)       # 3 of 60 each
    assert spread["burst"].max() < street.loc[0, "burst"] / 4
    # the same 60 messages at one place would have been the hot spot
    one_place = rank([(M3, "东社区", "BUS", ["东一路"], 60, 2, False)] + burst_rows)
    assert one_place[one_place["scope"] == STREET].iloc[0]["pain_point_id"] == "BUS"


@left_to_full_run
def test_suddenness_counts_against_the_place_own_baseline():
    steady = [(m, "东社区", "PARK", ["金泰小区"], 8, 1, False) for m in (M0, M1, M2, M3)]
    rising = [(M0, "东社区", "LEAK", ["樱园"], 1, 1, False), (M3, "东社区", "LEAK", ["樱园"], 8, 1, False)]
    out = rank(steady + rising)
    april = out[(out["month_on"] == M3) & (out["scope"] == STREET)].set_index("pain_point_id")
    assert april.loc["PARK", "baseline"] == 8 and april.loc["PARK", "growth"] == 0
    # the mean of the three months before: M0 (1 message), M1 and M2 (none)
    assert april.loc["LEAK", "baseline"] == pytest.approx(1 / 3, abs=1e-6)
    assert april.loc["LEAK", "growth"] == pytest.approx(23, abs=1e-4)
    assert april.loc["LEAK", "rank"] == 1 and april.loc["PARK", "rank"] == 2
    later = rank([(M0, "东社区", "LEAK", ["樱园"], 9, 1, False), (date(2026, 5, 1), "东社区", "LEAK", ["樱园"], 4, 1, False)])
    may = later[later["month_on"] == date(2026, 5, 1)]
    assert may["baseline"].iloc[0] == 0 and pd.isna(may["growth"].iloc[0])   # M0 is 4 months back


@left_to_full_run
def test_min_size_scopes_likes_unreplied_and_quotes():
    out = rank([(M3, "东社区", "A", ["甲小区"], 2, 0, False),
                (M3, "东社区", "B", ["乙苑"], 4, 9, False), (M3, "西社区", "B", ["乙苑"], 1, 0, True)])
    assert "甲小区" not in set(out["place"])                      # 2 < min_size 3
    assert set(out["scope"]) == {STREET, "东社区"}                 # 西社区 has 1: below min_size
    row = out[out["scope"] == STREET].iloc[0]
    assert (row["size"], row["likes"], row["unreplied_share"]) == (5, 36, 0.8)
    assert row["label"] == "b" and list(out.columns) == COLUMNS
    assert len(row["representative_ids"]) == 3 and row["representative_texts"][0].startswith("B at 乙苑")
    assert rank([(M3, "东社区", "A", ["甲小区"], 2, 0, False)], min_size=2)["size"].tolist() == [2, 2]


def test_the_formula():
    # n (0.2 + C) (1 + G + 0.2 U + 0.15 L), G = min(1, (n - b) / (b + 1) / 3)
    assert burst([31], [19 / 3], [1.0], [0.5], [0.4])[0] == pytest.approx(31 * 1.2 * (1 + 1 + 0.1 + 0.06))
    assert burst([10], [4], [0.5], [0.0], [0.0])[0] == pytest.approx(10 * 0.7 * (1 + 6 / 5 / 3))
    assert burst([4], [8], [0.5], [0], [0])[0] == pytest.approx(4 * 0.7)          # falling: G = 0


# --- the demo: planted place-bound bursts --------------------------------------------------------
def read(db: Path, sql: str, params: dict | None = None) -> pd.DataFrame:
    from dashboard.db import READ_CONFIG
    con = duckdb.connect(str(db), read_only=True, config=dict(READ_CONFIG))
    try:
        return con.execute(sql, params or {}).df()
    finally:
        con.close()


@pytest.fixture(scope="module")
def planted(demo_build) -> pd.DataFrame:
    p = pd.read_csv(demo_build.truth_dir / "planted_hot_spots.csv")
    p["month_on"] = pd.to_datetime(p["month"]).dt.date
    return p


def test_demo_plants_three_place_bound_bursts(planted):
    assert len(planted) == 3 and planted["place"].nunique() == 3
    assert (planted["n"] >= 8).all()


def test_planted_bursts_come_out_on_top_in_their_months(demo_db, planted):
    spots = read(demo_db, "SELECT * FROM hot_spots")
    spots["month_on"] = pd.to_datetime(spots["month_on"]).dt.date
    for p in planted.itertuples():
        for scope in (STREET, p.community):
            top = spots[(spots["month_on"] == p.month_on) & (spots["scope"] == scope)].sort_values("rank")
            assert not top.empty, (p.place, scope)
            first = top.iloc[0]
            assert first["place"] == clean(p.place), (p.month_on, scope, top[["place", "burst"]])
            assert first["size"] >= 0.75 * p.n
            texts = " ".join(first["representative_texts"])
            assert clean(p.place)[-3:] in texts.replace("·", "")      # its messages name the place


def test_broad_themes_of_the_demo_make_no_hot_spot_as_strong_as_a_planted_one(demo_db, planted):
    """Every month's planted top-3 themes are spread over the street's roads and buildings:
    outside the planted months nothing reaches the burst of the weakest planted hot spot."""
    spots = read(demo_db, "SELECT * FROM hot_spots WHERE scope = '全街道'")
    spots["month_on"] = pd.to_datetime(spots["month_on"]).dt.date
    planted_rows = spots.merge(planted.assign(place=planted["place"].map(clean))[["month_on", "place"]])
    assert len(planted_rows) == 3
    others = spots[~spots["month_on"].isin(set(planted["month_on"]))]
    assert len(others) >= 1 and others["burst"].max() < planted_rows["burst"].min()
    roads = read(demo_db, """SELECT count(DISTINCT u.place) AS n FROM feedback_places fp,
                             unnest(fp.places) AS u(place) WHERE u.place LIKE '%路' OR u.place LIKE '%街'""")
    assert roads["n"].iloc[0] >= 8                                  # the roads are there, spread out


def test_every_hot_spot_row_carries_its_scope(demo_db):
    rows = read(demo_db, "SELECT scope, count(*) AS n FROM hot_spots GROUP BY 1")
    communities = set(read(demo_db, "SELECT DISTINCT community FROM feedback")["community"])
    assert set(rows["scope"]) <= communities | {STREET} and STREET in set(rows["scope"])


def test_community_scope_sees_only_its_own_hot_spots(demo_db, planted):
    from dashboard.queries import base
    from dashboard.queries import painpoints as q
    p = planted.iloc[0]
    con = duckdb.connect(str(demo_db), read_only=True)
    try:
        with base.use_scope(base.Scope(communities=(p.community,), role="community")):
            own = q.hot_spots(con, Filters(community=p.community), p.month_on)
            street = q.hot_spots(con, Filters(), p.month_on)
    finally:
        con.close()
    assert own.iloc[0]["place"] == clean(p.place)
    # the street-wide ranking stays visible as aggregates (place, label, counts), but its quotes
    # come only from the community's own messages (issue 11: "quotes only from its own rows")
    con = duckdb.connect(str(demo_db), read_only=True)
    try:
        mine = {r[0] for r in con.execute("SELECT feedback_id FROM feedback WHERE community = $c",
                                          {"c": p.community}).fetchall()}
    finally:
        con.close()
    assert not street.empty
    shown = {i for ids in street["representative_ids"] for i in ids}
    assert shown <= mine


# --- the pages ----------------------------------------------------------------------------------
@pytest.fixture
def demo_pages(demo_db, use_db):
    use_db(demo_db)
    cache.clear()
    yield demo_db
    cache.clear()


def apptest(page: str, filters: Filters, **query):
    from streamlit.testing.v1 import AppTest
    at = AppTest.from_file(str(REPO / "pages" / f"{page}.py"), default_timeout=120)
    at.session_state["filters"] = filters
    for k, v in query.items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, at.exception
    return at


def texts(at) -> str:
    return "\n".join([m.value for m in at.markdown] + [c.value for c in at.caption])


def test_painpoints_page_shows_hot_spots_where_list_and_drill_down(demo_pages, planted):
    p = planted.iloc[-1]
    month = p.month_on
    at = apptest("painpoints", Filters(date_from=month, date_to=month))
    body = texts(at)
    # the message lists are one click away: no picker before the switch
    assert at.toggle(key="hotspots_drill_show").value is False
    assert not [s for s in at.selectbox if s.key in ("hotspots_pick", "painpoints_pick")]
    open_drill_downs(at)
    full_tables(at)                                   # ... and as grids
    place = clean(p.place)
    assert t("hotspots.title", "zh") in [s.value for s in at.subheader]
    assert f"**#1 {place}**" in body                              # the rank 1 card
    drill = at.selectbox(key="hotspots_pick")
    assert drill.options[0].startswith(place)
    spot = read(demo_pages, "SELECT * FROM hot_spots WHERE scope = '全街道' AND month_on = $m AND rank = 1",
                {"m": month}).iloc[0]
    drilled = [d.value for d in at.dataframe if "feedback_id" in d.value.columns
               and set(spot["representative_ids"]) <= set(d.value["feedback_id"])
               and (d.value["subject"].fillna("") + d.value["text"]).str.contains(place[-3:]).all()]
    assert [len(d) for d in drilled] == [spot["size"]]
    # the "where" list of the hot spot's pain point (one of the month's top 3) names the place
    assert spot["label"] in at.selectbox(key="painpoints_pick").options       # shown by label
    at.selectbox(key="painpoints_pick").set_value(spot["pain_point_id"]).run()
    lines = [m.value for m in at.markdown]
    where = lines.index(f"**{t('hotspots.where', 'zh')}**")
    assert lines[where + 1].startswith(f"- {place}：")          # the most messages first


@left_to_full_run
def test_trend_shows_twelve_months_whatever_the_date_filter(demo_pages):
    month = date(2026, 9, 1)
    at = apptest("painpoints", Filters(date_from=month, date_to=date(2026, 9, 30)))
    fig = at.get("plotly_chart")[0].proto.spec
    import json
    spec = json.loads(fig)
    lines = spec["data"]
    assert len(lines) == 3
    for line in lines:
        xs = [x[:7] for x in line["x"]]
        assert xs == [f"{y}-{m:02d}" for y, m in [(2025, 10), (2025, 11), (2025, 12)]
                      + [(2026, m) for m in range(1, 10)]]
    cards = read(demo_pages, "SELECT label FROM pain_points WHERE scope = '全街道' AND month_on = $m "
                             "ORDER BY rank", {"m": month})["label"].tolist()
    assert [line["name"] for line in lines] == cards                 # named as on the cards
    layout = spec["layout"]
    assert layout["title"]["text"] == t("painpoints.trend", "zh")
    assert layout["legend"]["y"] < 0                     # under the plot: not on the title


def test_overview_and_briefing_show_the_month_hot_spots(demo_pages, planted):
    p = planted.iloc[-1]
    place = clean(p.place)
    end = (pd.Timestamp(p.month_on) + pd.offsets.MonthEnd(0)).date()
    at = apptest("overview", Filters(date_from=p.month_on, date_to=end))
    assert f"**#1 {place}**" in texts(at)
    monday = pd.Timestamp(end) - pd.Timedelta(days=pd.Timestamp(end).weekday() + 7)
    week = f"{monday.isocalendar().year}-W{monday.isocalendar().week:02d}"
    at = apptest("briefing", Filters(), week=week)
    assert f"**1. {place}**" in texts(at)
    en = apptest("overview", Filters(date_from=p.month_on, date_to=end, lang="en"))
    assert t("hotspots.title", "en") in [s.value for s in en.subheader]
