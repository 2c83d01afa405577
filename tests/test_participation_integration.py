"""Participation beyond its page, on the real demo: the evaluation early warning on the project page
and in the overview's alerts, the participation cards on the overview and in the weekly briefing."""
from __future__ import annotations

import json

import pytest
from pages_fixture import app, full_tables, metrics, page_strings, read_only

from tests.conftest import DEMO_END
from dashboard import ui
from dashboard.filters import Filters
from dashboard.queries import briefing as bq
from dashboard.queries import participation as pq
from dashboard.queries import projects as prq
from sweep import left_to_full_run

PERIOD = {"from": "2024-12-01", "to": DEMO_END.isoformat()}


@pytest.fixture
def demo(demo_build, monkeypatch):
    monkeypatch.setenv("COCKPIT_DB", str(demo_build.db))
    return demo_build


@pytest.fixture(scope="module")
def truth(demo_build) -> dict:
    return json.loads((demo_build.truth_dir / "participation_truth.json").read_text(encoding="utf-8"))


@left_to_full_run
def test_low_rated_project_is_an_early_warning_on_the_project_page(demo, truth):
    at = app("projects", **PERIOD)
    assert not at.exception
    assert metrics(at)["居民评价低"] == "1"
    table = next(d.value for d in full_tables(at).dataframe if "rule" in d.value.columns)
    low = table[table["rule"] == "居民评价低"]
    pid = truth["planted_low_rated_project"]
    avg = truth["low_rated_projects"][0]["avg_rating"]
    assert low["project_id"].tolist() == [pid]
    assert low["value"].tolist() == [f"居民平均评分 {avg:.1f}"]


def test_overview_alerts_and_participation_cards(demo, truth):
    at = app("overview", **PERIOD)
    assert not at.exception
    pid = truth["planted_low_rated_project"]
    # alert texts are Markdown with the data escaped: compare without the backslashes
    alerts = [s.replace("\\", "") for s in page_strings(at) if s.startswith("⚠")]
    alerts = [a for a in alerts if pid in a]
    assert any("居民平均评分" in a for a in alerts)
    con = read_only(demo.db)
    try:
        k = pq.kpis(con, Filters(date_from=DEMO_END.replace(year=2024, month=12, day=1), date_to=DEMO_END)).iloc[0]
        households = con.execute("SELECT sum(households) FROM communities").fetchall()[0][0]
        active = con.execute("SELECT count(DISTINCT resident_pseudonym) FROM participation").fetchall()[0][0]
    finally:
        con.close()
    cards = metrics(at)
    assert cards["参与率（每千户）"] == ui.fmt_num(1000 * active / households)
    assert cards["有效投票占比"] == ui.fmt_pct(1 - len(truth["invalid_votes"]) / 30)
    assert cards["逾期决议"] == str(len(truth["overdue_resolutions"])) == ui.fmt_int(k["overdue_resolutions"])
    assert cards["前10%骨干承担任务"] == ui.fmt_pct(k["top_share"])


@left_to_full_run
def test_weekly_briefing_carries_the_participation_kpis(demo, truth):
    con = read_only(demo.db)
    try:
        week = bq.week_label(DEMO_END)
        f = bq.week_filters(week, None)
        head = bq.headline(con, f).set_index("key")
        direct = pq.kpis(con, f).iloc[0]
        warnings = prq.warnings(con, f)
    finally:
        con.close()
    assert {"usage_rate", "valid_vote_share", "overdue_resolutions", "top_share"} <= set(head.index)
    assert head.loc["usage_rate", "value"] == pytest.approx(direct["usage_rate"])
    assert head.loc["overdue_resolutions", "value"] == len(truth["overdue_resolutions"])
    assert head.loc["overdue_resolutions", "rise_is_bad"]
    assert truth["planted_low_rated_project"] in set(warnings.loc[warnings["rule"] == "low_rating", "project_id"])


def test_project_drill_down_lists_its_evaluations_with_masked_comments(demo, truth):
    pid = truth["planted_low_rated_project"]
    at = app("projects", project=pid, **PERIOD)
    assert not at.exception
    ev = next(d.value for d in at.dataframe if "comment" in d.value.columns and "resident_pseudonym" in d.value.columns)
    expected = next(r for r in truth["low_rated_projects"] if r["project_id"] == pid)
    assert len(ev) == expected["ratings"] and ev["rating"].mean() == pytest.approx(expected["avg_rating"])
    assert not ev["comment"].str.contains(r"1[3-9][0-9]{9}", regex=True).any()   # phone numbers masked
