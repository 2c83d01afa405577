"""The briefing's community list (dashboard.queries.briefing.communities) reads grid reports and
messages from the daily summaries; it must be the list the records give - under every role -
after loads that add communities and after an update that moves every report of a community to
another one (the summary then holds that community's appended rows summing to nothing)."""
from __future__ import annotations

import random
from datetime import datetime, timedelta

import duckdb

from dashboard.queries import briefing as bq
from dashboard.queries.base import Scope, fetch, use_scope
from tests.test_marts_delta import FEEDBACK_HEADER, GRID_HEADER, load, write

# the same list read from the records themselves (what the briefing read until session 10)
FROM_RECORDS = """
    SELECT DISTINCT community FROM (
        SELECT community FROM {projects} UNION ALL SELECT community FROM {grid_reports}
        UNION ALL SELECT community FROM {feedback})
    WHERE community IS NOT NULL ORDER BY community
"""
SCOPES = (Scope(), Scope(role="analyst"), Scope(communities=("美和园社区",), role="community"),
          Scope(communities=("清河一社区", "毛纺北社区"), role="community"),
          Scope(role="partner", party="清河社工站"), Scope(role="public"))
START = datetime(2026, 3, 1)


def _report(key: str, community: str, minutes: int) -> str:
    at = (START + timedelta(minutes=minutes)).strftime("%Y-%m-%d %H:%M:%S")
    return f"{key},{at},清河街道,{community},QH-01-01,噪音扰民,描述,处置中,,"


def _message(key: str, community: str, minutes: int) -> str:
    at = (START + timedelta(minutes=minutes)).strftime("%Y-%m-%d %H:%M:%S")
    return f"{key},{at},清河街道,{community},QH-01-01,公众号,楼道灯坏了,,,"


def _lists(db) -> list[tuple[list[str], list[str]]]:
    with duckdb.connect(str(db), read_only=True) as con:
        out = []
        for scope in SCOPES:
            with use_scope(scope):
                out.append((bq.communities(con),
                            fetch(con, FROM_RECORDS, min_group=())["community"].tolist()))
        return out


def test_the_list_from_the_summaries_is_the_records_list_after_each_load(tmp_path):
    rng = random.Random(4)
    db = tmp_path / "cockpit.duckdb"
    reports = [_report(f"R{i:04d}", rng.choice(("清河一社区", "美和园社区")), rng.randrange(0, 60 * 24 * 60))
               for i in range(200)]
    moved = [f"M{i:03d}" for i in range(30)]    # the only reports of 毛纺北社区
    reports += [_report(k, "毛纺北社区", rng.randrange(0, 60 * 24 * 60)) for k in moved]
    messages = [_message(f"F{i:04d}", "清河一社区", rng.randrange(0, 60 * 24 * 60)) for i in range(50)]
    assert load(db, write(tmp_path, "g1.csv", GRID_HEADER, reports),
                write(tmp_path, "f1.csv", FEEDBACK_HEADER, messages)) == ["loaded", "loaded"]
    lists = _lists(db)
    assert all(summary == records for summary, records in lists), lists
    assert lists[0][0] == sorted(["清河一社区", "毛纺北社区", "美和园社区"])
    assert lists[2][0] == ["美和园社区"]

    # every report of 毛纺北社区 sent again under 美和园社区: the community leaves the list, a
    # community with messages only (新社区) joins it
    again = [_report(k, "美和园社区", 10 + i) for i, k in enumerate(moved)]
    assert load(db, write(tmp_path, "g2.csv", GRID_HEADER, again),
                write(tmp_path, "f2.csv", FEEDBACK_HEADER, [_message("F9999", "新社区", 5)])) == ["loaded", "loaded"]
    with duckdb.connect(str(db), read_only=True) as con:   # the summary still holds its rows
        assert con.execute("SELECT count(*) FROM grid_daily WHERE community = '毛纺北社区'").fetchone()[0] > 0
    lists = _lists(db)
    assert all(summary == records for summary, records in lists), lists
    assert lists[0][0] == sorted(["新社区", "清河一社区", "美和园社区"])
    assert lists[3][0] == ["清河一社区"]
