"""The 协商与参与 page on the real demo (generator -> ETL -> page): it finds every planted fact,
in Chinese and in English."""
from __future__ import annotations

import html
import json
import re

import pytest
from pages_fixture import CJK, app, data_values, full_tables, metrics, page_strings, read_only
from sweep import case, left_to_full_run

from tests.conftest import DEMO_END
from dashboard import ui

PERIOD = {"from": "2024-12-01", "to": DEMO_END.isoformat()}   # the demo's whole two years


@pytest.fixture
def demo(demo_build, monkeypatch):
    monkeypatch.setenv("COCKPIT_DB", str(demo_build.db))
    return demo_build


@pytest.fixture(scope="module")
def truth(demo_build) -> dict:
    return json.loads((demo_build.truth_dir / "participation_truth.json").read_text(encoding="utf-8"))


def by_columns(at, *cols):
    """The first dataframe on the page holding all these columns (previewed tables switched to
    their grids: a page opened outside `zh` reruns on the test's own database)."""
    full_tables(at, required=False)
    return next(d.value for d in at.dataframe if set(cols) <= set(d.value.columns))


@pytest.fixture(scope="module")
def zh(demo_build):
    """section -> the page opened on it (Chinese, whole two years), built once per section."""
    import os
    opened: dict = {}

    def open_(section: str):
        if section not in opened:
            old = os.environ.get("COCKPIT_DB")
            os.environ["COCKPIT_DB"] = str(demo_build.db)
            try:
                # the tables open as static previews: switched to their grids (same database)
                opened[section] = full_tables(app("participation", section=section, **PERIOD),
                                              required=False)
            finally:
                if old is None:
                    os.environ.pop("COCKPIT_DB", None)
                else:
                    os.environ["COCKPIT_DB"] = old
        return opened[section]
    return open_


# the fast loop opens each section once across the two per-section sweeps (EN_FAST in English,
# the rest in Chinese); the full run opens every section in both
EN_FAST = ("concentration", "evaluations")


@pytest.mark.parametrize("section,charts", [
    case(s, n, fast=s not in (*EN_FAST, "votes"), id=f"{s}-{n}")   # votes: tests/sweep.py left_to_full_run
    for s, n in (("votes", 1), ("meetings", 2), ("usage", 1), ("concentration", 4), ("evaluations", 1))])
def test_every_section_runs_under_the_cards(zh, section, charts):
    at = zh(section)
    assert not at.exception
    assert at.title[0].value == "协商与参与"
    assert at.radio(key="participation_section").value == section
    assert at.query_params["section"] == section
    assert len(at.get("plotly_chart")) == charts
    assert {"参与率（每千户）", "有效投票占比", "逾期决议", "前10%骨干承担任务"} <= set(metrics(at))


@left_to_full_run
def test_switching_section_keeps_the_filters(demo):
    at = app("participation", **PERIOD)
    assert at.radio(key="participation_section").value == "votes"
    at.radio(key="participation_section").set_value("evaluations").run()
    assert not at.exception and at.query_params["section"] == "evaluations"
    assert at.query_params["from"] == PERIOD["from"]
    assert any("project_id" in d.value.columns for d in full_tables(at).dataframe)


def test_votes_under_the_line_are_marked_invalid(zh, truth):
    zh = zh("votes")
    votes = by_columns(zh, "vote_id", "participation_share", "valid", "passed")
    assert sorted(votes.loc[~votes["valid"], "vote_id"]) == truth["invalid_votes"]
    assert sorted(votes.loc[votes["passed"], "vote_id"]) == truth["passed_votes"]
    assert (votes.loc[~votes["valid"], "participation_share"] < 0.30).all()
    warning = next(w.value for w in zh.warning if "参与线" in w.value)
    assert all(v.replace("-", "\\-") in warning for v in truth["invalid_votes"])
    cards = metrics(zh)
    assert cards["有效投票占比"] == ui.fmt_pct(1 - len(truth["invalid_votes"]) / len(votes))


def test_joint_meetings_missing_parties_are_flagged(zh, truth):
    zh = zh("meetings")
    gaps = by_columns(zh, "meeting_id", "missing_types", "social_orgs")
    planted = truth["joint_meetings_missing"]
    assert sorted(gaps["meeting_id"]) == sorted(planted)
    for row in gaps.itertuples():
        if planted[row.meeting_id] == ["业委会"]:
            assert row.missing_types == "业委会" and row.social_orgs >= 3
        else:
            assert row.missing_types == "" and row.social_orgs == 2


def test_overdue_and_undisclosed_resolutions_are_warned(zh, truth):
    zh = zh("meetings")
    tables = [d.value for d in zh.dataframe if "disclose_by" in d.value.columns]
    overdue, undisclosed = tables
    assert sorted(overdue["resolution_id"]) == truth["overdue_resolutions"]
    assert sorted(undisclosed["resolution_id"]) == truth["undisclosed_resolutions"]
    assert metrics(zh)["逾期决议"] == str(len(truth["overdue_resolutions"]))
    texts = [w.value for w in zh.warning]
    assert f"{len(truth['overdue_resolutions'])} 项决议逾期未完成" in texts
    assert f"{len(truth['undisclosed_resolutions'])} 项决议未在会议所在季度内公示" in texts


def test_concentration_finds_the_planted_community(zh, truth):
    zh = zh("concentration")
    conc = by_columns(zh, "scope", "top_share", "gini").set_index("scope")
    for c in truth["concentration"]:
        assert conc.loc[c["community"], "top_share"] == pytest.approx(c["top_share"], abs=1e-9)
        assert conc.loc[c["community"], "gini"] == pytest.approx(c["gini"], abs=1e-9)
    planted = truth["planted_community"]
    assert conc.loc[planted, "top_share"] == pytest.approx(0.63, abs=0.01)
    assert conc["top_share"].drop(["全街道"]).idxmax() == planted
    young = by_columns(zh, "community", "young_share").set_index("community")
    for c in truth["concentration"]:
        assert young.loc[c["community"], "young_share"] == pytest.approx(c["young_decision_share"])
    assert metrics(zh)["前10%骨干承担任务"] == ui.fmt_pct(conc.loc["全街道", "top_share"])


def test_usage_points_and_a_pseudonymous_leaderboard(zh, truth, demo_build):
    zh = zh("usage")
    cards = metrics(zh)
    assert cards["获得积分"] == ui.fmt_int(truth["points_earned"])
    assert cards["兑换积分"] == ui.fmt_int(truth["points_redeemed"])
    usage = by_columns(zh, "community", "per_1000_households")
    participants = {c["community"]: c["participants"] for c in truth["concentration"]}
    for row in usage.itertuples():
        assert row.active_residents == participants[row.community]
        assert row.per_1000_households == pytest.approx(1000 * row.active_residents / row.households)
    board = by_columns(zh, "resident_pseudonym", "points")
    assert len(board) == 20 and board["points"].is_monotonic_decreasing
    raw_ids = (demo_build.inbox / "居民参与积分台账.csv").read_text(encoding="utf-8-sig")
    assert all(p.startswith("R") and p not in raw_ids for p in board["resident_pseudonym"])
    # resident identifiers look like 张伟#10012: none reaches the page
    assert not re.search(r"[\u4e00-\u9fff]#[0-9]{5}", " ".join(page_strings(zh)))


def test_the_badly_rated_project_is_an_early_warning(zh, truth):
    zh = zh("evaluations")
    pid = truth["planted_low_rated_project"]
    errors = [e.value for e in zh.error]
    assert len(errors) == 1 and pid.replace("-", "\\-") in errors[0]
    ev = by_columns(zh, "project_id", "avg_rating", "low_rated")
    assert ev.loc[ev["low_rated"], "project_id"].tolist() == [pid]


@pytest.mark.parametrize("section", [case(s, fast=s in EN_FAST, id=s) for s in
                                     ("votes", "meetings", "usage", "concentration", "evaluations")])
@left_to_full_run
def test_english_page(demo, section):
    at = app("participation", lang="en", section=section, **PERIOD)
    assert not at.exception
    cards = metrics(at)
    assert {"Usage per 1,000 households", "Valid votes", "Overdue resolutions",
            "Tasks carried by the top 10%"} <= set(cards)
    assert at.title[0].value == "Deliberation and participation"
    labels = [s for s in page_strings(at) if CJK.search(s)]
    # Chinese left on the English page is data only (communities, topics, kinds, party types, names)
    con = read_only(demo.db)   # the dashboard's configuration: its cached connection is open
    try:
        data = set()
        for sql in ("SELECT DISTINCT community FROM participation", "SELECT DISTINCT kind FROM meetings",
                    "SELECT DISTINCT topic FROM votes", "SELECT DISTINCT name FROM projects",
                    "SELECT DISTINCT text FROM resolutions", "SELECT DISTINCT responsible_party FROM resolutions",
                    "SELECT DISTINCT status FROM resolutions", "SELECT DISTINCT missing FROM (SELECT '业委会' AS missing)"):
            data |= {r[0] for r in con.execute(sql).fetchall() if r[0]}
    finally:
        con.close()
    data |= data_values(demo.db) | {"中文"}    # the sidebar: streets, categories, the language switch
    # each value as it may appear: as stored, HTML-escaped, with its quotes escaped (in order)
    ordered = [(v, html.escape(v), v.replace("'", "\\'")) for v in sorted(data, key=len, reverse=True)]
    leftovers = []
    for s in labels:
        rest = s
        for v, escaped, quoted in ordered:
            rest = rest.replace(v, "").replace(escaped, "").replace(quoted, "")
        if CJK.search(rest):
            leftovers.append(s)
    assert leftovers == [], leftovers


@left_to_full_run
def test_community_filter_narrows_the_page(demo, truth):
    planted = truth["planted_community"]
    at = app("participation", community=planted, section="concentration", **PERIOD)
    assert not at.exception
    conc = by_columns(at, "scope", "top_share").set_index("scope")
    assert set(conc.index) == {planted}
    expected = next(c for c in truth["concentration"] if c["community"] == planted)
    assert metrics(at)["前10%骨干承担任务"] == ui.fmt_pct(expected["top_share"])
    at.radio(key="participation_section").set_value("votes").run()
    votes = by_columns(at, "vote_id", "valid")
    assert set(votes["community"]) <= {planted}
