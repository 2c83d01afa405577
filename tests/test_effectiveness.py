"""平台成效 Platform effectiveness (issue 15): residents' ease-of-use ratings of the platform through
the real ETL (aliases, staging rule, rejects, masking), the demo load, and the panel on the 协商与参与
page, whose numbers are recomputed here from the raw demo tables with pandas."""
from __future__ import annotations

import hashlib
import html
import json
import math
from datetime import datetime, timedelta

import duckdb
import pandas as pd
import pytest
from pages_fixture import CJK, app, data_values, full_tables, metrics, page_strings, read_only

from dashboard import ui
from dashboard.filters import Filters
from dashboard.queries import effectiveness as eq
from dashboard.queries.base import MIN_GROUP, Scope, use_scope
from etl import aliases, rules
from etl.stage import stage
from tests.conftest import DEMO_END
from sweep import left_to_full_run

SALT = "test-salt"
PERIOD = {"from": "2024-12-01", "to": DEMO_END.isoformat()}   # the demo's whole two years
WHOLE = Filters(date_from=datetime.fromisoformat(PERIOD["from"]).date(), date_to=DEMO_END)


def rating(i, score, **over):
    return {"rating_id": f"U{i}", "submitted_at": "2026-05-01 10:00:00", "community": "春晖社区",
            "channel": "小程序", "ease_score": score, "comment": "挺好用", "resident_id": f"张三#{i}", **over}


# --- the source kind: aliases and staging -----------------------------------------------------
def test_headers_in_chinese_and_english_are_recognised_as_usability_ratings():
    zh = ["评分编号", "提交时间", "社区", "使用渠道", "易用性评分", "意见建议", "评分人"]
    en = ["rating_id", "submitted_at", "community", "channel", "ease_score", "comment", "resident_id"]
    for headers in (zh, en):
        kind, _ = aliases.detect_kind(headers)
        assert kind == "usability_ratings"
        assert set(aliases.map_headers(kind, headers).values()) == set(en)


def test_scores_outside_one_to_five_are_rejected_with_the_reason():
    df = pd.DataFrame([rating(1, "5"), rating(2, "0"), rating(3, "6"), rating(4, "满意"), rating(5, "-1"),
                       rating(6, ""), rating(7, "1")])
    clean, rejects = stage("usability_ratings", df, salt=SALT)
    assert sorted(clean["rating_id"]) == ["U1", "U4", "U7"]
    assert dict(zip(clean["rating_id"], clean["ease_score"])) == {"U1": 5, "U4": 4, "U7": 1}
    got = {(int(r._1), r.column_name, r.reason) for r in rejects.itertuples()}
    # sheet rows: header = 1, so U2 is row 3
    assert got == {(3, "ease_score", "rating must be 1-5"), (4, "ease_score", "rating must be 1-5"),
                   (6, "ease_score", "rating must be 1-5"), (7, "ease_score", "missing value")}


def test_residents_are_pseudonymised_comments_masked_and_ids_stable():
    df = pd.DataFrame([rating(1, "4", comment="找不到入口，电话13812345678"),
                       rating(2, "2", rating_id=None), rating(3, "3", rating_id="")])
    clean, rejects = stage("usability_ratings", df, salt=SALT)
    assert rejects.empty and len(clean) == 3
    expected = "R" + hashlib.sha256((SALT + "张三#1").encode()).hexdigest()[:12]
    assert clean.loc[clean.rating_id == "U1", "resident_pseudonym"].iloc[0] == expected
    assert "13812345678" not in " ".join(clean["comment"].dropna())
    assert "resident_id" not in clean.columns
    hashed = sorted(i for i in clean["rating_id"] if i != "U1")
    assert len(hashed) == 2 and all(i.startswith("H") for i in hashed)
    again, _ = stage("usability_ratings", df, salt=SALT)     # the same rows get the same ids
    assert sorted(again["rating_id"]) == sorted(clean["rating_id"])


def test_the_minimum_number_of_ratings_comes_from_the_rules_file():
    assert rules.load()["usability"] == {"min_ratings": 5}


# --- the demo load ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def raw(demo_build):
    """The loaded tables the panel reads, as plain pandas frames (read with bare SQL, no query code)."""
    con = read_only(demo_build.db)
    try:
        ratings = con.execute("SELECT * FROM usability_ratings").df()
        reports = con.execute("SELECT community, reported_at, resolved_at FROM grid_reports").df()
        rejects = con.execute("SELECT r.row_number, r.column_name, r.reason, l.path FROM etl_rejects r "
                              "JOIN etl_loads l USING (load_id)").df()
    finally:
        con.close()
    return ratings, reports, rejects


@pytest.fixture(scope="module")
def truth(demo_build) -> dict:
    return json.loads((demo_build.truth_dir / "usability_truth.json").read_text(encoding="utf-8"))


def test_the_demo_ratings_load_with_the_bad_score_rejected(demo_build, raw, truth):
    ratings, _, rejects = raw
    assert len(ratings) == demo_build.manifest["counts"]["usability_ratings"] - 1
    bad = [b for b in demo_build.manifest["bad_rows"] if b["kind"] == "usability_ratings"]
    assert len(bad) == 1
    mine = rejects[rejects["path"].str.endswith(bad[0]["file"])]
    assert mine[["row_number", "reason"]].values.tolist() == [[bad[0]["row_number"], "rating must be 1-5"]]
    assert ratings["ease_score"].between(1, 5).all()
    assert ratings["resident_pseudonym"].str.fullmatch(r"R[0-9a-f]{12}").all()
    exported = (demo_build.inbox / bad[0]["file"]).read_text(encoding="utf-8-sig")
    assert not any(p in exported for p in ratings["resident_pseudonym"])
    assert not ratings["comment"].dropna().str.contains(r"1[3-9]\d{9}").any()     # phone numbers masked
    counts = ratings.groupby("community").size().to_dict()
    assert counts == {c: v["count"] for c, v in truth["communities"].items()}
    assert counts[truth["planted_sparse_community"]] == truth["sparse_ratings"] < MIN_GROUP


def test_the_demo_is_deterministic_and_leaves_the_older_exports_alone(demo_build, tmp_path):
    from etl.demo import usability
    from etl.demo.world import Ctx, calendar
    import numpy as np

    def build(seed):
        ctx = Ctx(np.random.default_rng(0), 0.1, DEMO_END, tmp_path, calendar(DEMO_END))
        return usability.build_ratings(np.random.default_rng([seed, 15, 2]), ctx)
    pd.testing.assert_frame_equal(build(7), build(7))
    assert not build(7).equals(build(8))
    assert (demo_build.inbox / usability.FILE).exists()


# --- the panel's numbers, recomputed from the raw tables ---------------------------------------
def expected_ease(ratings: pd.DataFrame, key) -> pd.DataFrame:
    g = ratings.groupby(key)["ease_score"].agg(["count", "mean"])
    g["mean"] = g["mean"].where(g["count"] >= 5)
    return g


def expected_resolution(reports: pd.DataFrame, key) -> pd.DataFrame:
    start = pd.Timestamp(PERIOD["from"])
    end = pd.Timestamp(DEMO_END) + timedelta(days=1)
    done = reports[reports["resolved_at"].notna() & (reports["resolved_at"] >= start)
                   & (reports["resolved_at"] < end)]
    done = done.assign(hours=(done["resolved_at"] - done["reported_at"]).dt.total_seconds() / 3600)
    return done.groupby(key)["hours"].agg(["count", "median"])


def _month(col: pd.Series) -> pd.Series:
    return col.dt.to_period("M").dt.to_timestamp()


@pytest.fixture(scope="module")
def panel(demo_build):
    import os
    old = os.environ.get("COCKPIT_DB")
    os.environ["COCKPIT_DB"] = str(demo_build.db)
    try:
        # the tables open as static previews: switched to their grids (same database)
        return full_tables(app("participation", section="effectiveness", **PERIOD), required=False)
    finally:
        if old is None:
            os.environ.pop("COCKPIT_DB", None)
        else:
            os.environ["COCKPIT_DB"] = old


def _frame(at, key: str) -> pd.DataFrame:
    """The panel's table keyed by `key` (community or month_on)."""
    return next(d.value for d in at.dataframe if {key, "avg_ease", "cases_resolved"} <= set(d.value.columns))


def _num(v) -> float:
    return math.nan if v in (ui.MISSING, "", None) else float(str(v).replace(",", ""))


def test_the_panel_per_community_matches_pandas_over_the_raw_tables(panel, raw, truth):
    ratings, reports, _ = raw
    assert not panel.exception
    table = _frame(panel, "community").set_index("community")
    ease = expected_ease(ratings, "community")
    res = expected_resolution(reports, "community")
    assert set(table.index) == set(ease.index) | set(res.index)
    for comm, row in table.iterrows():
        assert int(row["ratings"]) == int(ease["count"].get(comm, 0))
        want = ease["mean"].get(comm, math.nan)
        got = _num(row["avg_ease"])
        assert (math.isnan(got) and math.isnan(want)) or got == pytest.approx(want, abs=0.005), comm
        assert int(row["cases_resolved"]) == int(res.loc[comm, "count"])
        assert _num(row["median_resolution_hours"]) == pytest.approx(res.loc[comm, "median"], abs=0.05)
    # the community with 3 ratings shows "—"; the planted low one is the lowest mean
    assert table.loc[truth["planted_sparse_community"], "avg_ease"] == ui.MISSING
    means = table["avg_ease"].map(_num).dropna()
    assert means.idxmin() == truth["planted_low_community"]


def test_the_panel_per_month_matches_pandas_over_the_raw_tables(panel, raw):
    ratings, reports, _ = raw
    table = _frame(panel, "month_on")
    table = table.assign(month_on=pd.to_datetime(table["month_on"])).set_index("month_on")
    ease = expected_ease(ratings.assign(m=_month(ratings["submitted_at"])), "m")
    res = expected_resolution(reports.assign(m=_month(reports["resolved_at"])), "m")
    assert set(table.index) == set(ease.index) | set(res.index)
    assert (ease["count"] < 5).any() and (ease["count"] >= 5).any()    # both cases are exercised
    for month, row in table.iterrows():
        n = int(ease["count"].get(month, 0))
        assert int(row["ratings"]) == n
        if n < 5:
            assert row["avg_ease"] == ui.MISSING or (n == 0 and pd.isna(row["avg_ease"]))
        else:
            assert _num(row["avg_ease"]) == pytest.approx(ease.loc[month, "mean"], abs=0.005)
        assert int(row["cases_resolved"]) == int(res["count"].get(month, 0))
        if month in res.index:
            assert _num(row["median_resolution_hours"]) == pytest.approx(res.loc[month, "median"], abs=0.05)


def test_the_panel_cards_match_pandas_over_the_raw_tables(panel, raw):
    ratings, reports, _ = raw
    cards = metrics(panel)
    all_res = expected_resolution(reports.assign(k=1), "k").iloc[0]
    assert cards["易用性评分"] == ui.fmt_num(ratings["ease_score"].mean(), 2)
    assert cards["问题解决时长（小时）"] == ui.fmt_num(all_res["median"])
    assert "参与率（每千户）" in cards
    assert len(panel.get("plotly_chart")) == 1


def test_the_query_functions_give_the_same_totals(demo_build, raw):
    ratings, reports, _ = raw
    con = read_only(demo_build.db)
    try:
        tot = eq.totals(con, WHOLE).iloc[0]
        sparse = eq.ease_by_community(con, Filters(date_from=WHOLE.date_from, date_to=WHOLE.date_to, community="朱房村社区"))
    finally:
        con.close()
    assert int(tot["ratings"]) == len(ratings)
    assert tot["avg_ease"] == pytest.approx(ratings["ease_score"].mean())
    assert tot["median_resolution_hours"] == pytest.approx(expected_resolution(reports.assign(k=1), "k")
                                                           .iloc[0]["median"])
    assert len(sparse) == 1 and pd.isna(sparse["avg_ease"].iloc[0]) and sparse["ratings"].iloc[0] == 3


# --- scope --------------------------------------------------------------------------------------
def test_each_role_reads_what_its_rule_allows(demo_build):
    con = read_only(demo_build.db)
    sql = ("SELECT count(*) AS n, count(comment) AS comments, count(DISTINCT community) AS communities, "
           "bool_and(resident_pseudonym LIKE 'R%') AS raw_pseudonyms FROM {usability_ratings}")
    from dashboard.queries.base import fetch
    try:
        full = con.execute("SELECT count(*), count(comment) FROM usability_ratings").fetchone()
        with use_scope(Scope(communities=("清河一社区",), role="community")):
            own = fetch(con, sql).iloc[0]
        with use_scope(Scope(role="public")):
            public = fetch(con, sql, min_group=()).iloc[0]
            with pytest.raises(PermissionError):
                fetch(con, "SELECT * FROM {usability_ratings} LIMIT 1")
    finally:
        con.close()
    assert own["communities"] == 1 and 0 < own["n"] < full[0]
    assert public["n"] == full[0] and full[1] > 0 and public["comments"] == 0 and not public["raw_pseudonyms"]


# --- both languages -----------------------------------------------------------------------------
@left_to_full_run
def test_the_english_panel_has_no_chinese_but_data(demo_build, monkeypatch):
    monkeypatch.setenv("COCKPIT_DB", str(demo_build.db))
    at = app("participation", lang="en", section="effectiveness", **PERIOD)
    assert not at.exception
    cards = metrics(at)
    assert {"Usage per 1,000 households", "Ease-of-use score", "Resolution time (median h)"} <= set(cards)
    assert any(s.value == "Platform effectiveness" for s in at.subheader)
    data = data_values(demo_build.db) | {"中文"}
    ordered = [(v, html.escape(v)) for v in sorted(data, key=len, reverse=True)]   # as stored, escaped
    leftovers = []
    for s in (s for s in page_strings(at) if CJK.search(s)):
        rest = s
        for v, escaped in ordered:
            rest = rest.replace(v, "").replace(escaped, "")
        if CJK.search(rest):
            leftovers.append(s)
    assert leftovers == [], leftovers
