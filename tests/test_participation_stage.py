"""Staging rules of the participation kinds: typed rows in, rejects with reasons out (pure)."""
from __future__ import annotations

import hashlib

import duckdb
import pandas as pd
import pytest

from etl import rules
from etl.dbfile import ensure_schema
from etl.stage import stage

SALT = "test-salt"


def pseudo(resident: str) -> str:
    """The loader's pseudonym of a resident identifier (R + 12 hex of sha256(salt + id))."""
    return "R" + hashlib.sha256((SALT + resident).encode()).hexdigest()[:12]


def reasons(rejects: pd.DataFrame) -> dict[int, set[str]]:
    out: dict[int, set[str]] = {}
    for r in rejects.itertuples():
        out.setdefault(int(r._1), set()).add(f"{r.column_name}: {r.reason}")
    return out


def vote(i, eligible, cast, yes, no, abstain="0", **over):
    return {"vote_id": f"V{i}", "community": "春晖社区", "topic": "加装电梯方案", "opened_on": "2026-05-01",
            "closed_on": "2026-05-10", "eligible_voters": eligible, "ballots_cast": cast,
            "yes_votes": yes, "no_votes": no, "abstain_votes": abstain, **over}


def test_votes_cast_above_eligible_and_counts_above_cast_are_rejected():
    df = pd.DataFrame([vote(1, "200", "80", "50", "20", "10"),          # fine
                       vote(2, "200", "201", "100", "50", "0"),          # cast > eligible
                       vote(3, "200", "60", "40", "20", "1"),            # yes+no+abstain > cast
                       vote(4, "0", "0", "0", "0"),                      # nobody eligible
                       vote(5, "100", "40", "20", "10", closed_on="2026-04-01")])  # closed before opened
    clean, rejects = stage("votes", df)
    assert clean["vote_id"].tolist() == ["V1"]
    got = reasons(rejects)
    assert got[3] == {"ballots_cast: ballots cast exceed eligible voters"}
    assert got[4] == {"yes_votes: yes + no + abstain exceed ballots cast"}
    assert got[5] == {"eligible_voters: eligible voters must be positive"}
    assert got[6] == {"closed_on: closed before opened"}


def _vote_results(frame: pd.DataFrame) -> pd.DataFrame:
    con = duckdb.connect()
    ensure_schema(con)
    frame = frame.assign(source_load_id=1)
    con.execute("INSERT INTO votes BY NAME SELECT * FROM frame")
    return con.execute("SELECT vote_id, participation_share, valid, passed FROM vote_results ORDER BY vote_id").df()


def test_validity_threshold_and_pass_rule_come_from_the_rules_file():
    assert rules.load()["votes"] == {"valid_share": 0.30, "pass_share": 0.5}
    clean, rejects = stage("votes", pd.DataFrame([
        vote(1, "100", "30", "16", "14"),    # exactly 30%: valid; 16 > 15: passed
        vote(2, "100", "29", "29", "0"),     # 29%: invalid, so not passed although all said yes
        vote(3, "100", "40", "20", "10", "10"),  # valid; 20 is not more than half of 40
        vote(4, "100", "60", "31", "29")]))
    assert rejects.empty
    res = _vote_results(clean).set_index("vote_id")
    assert res["participation_share"].tolist() == pytest.approx([0.30, 0.29, 0.40, 0.60])
    assert res["valid"].tolist() == [True, False, True, True]
    assert res["passed"].tolist() == [True, False, False, True]


def test_resolution_for_unknown_meeting_is_rejected_and_community_comes_from_the_meeting():
    df = pd.DataFrame([
        {"resolution_id": "J1", "meeting_id": "M1", "text": "增设充电桩，联系电话13812345678", "status": "落实中",
         "due_on": "2026/6/30"},
        {"resolution_id": "J2", "meeting_id": "M9", "text": "修缮凉亭", "status": "已完成"},
        {"resolution_id": "J3", "meeting_id": "M1", "text": "清理楼道", "status": "不知道"}])
    clean, rejects = stage("resolutions", df, context={"meetings": {"M1": "春晖社区"}})
    assert clean["resolution_id"].tolist() == ["J1"]
    row = clean.iloc[0]
    assert (row["community"], row["status"], str(row["due_on"])[:10]) == ("春晖社区", "执行中", "2026-06-30")
    assert "13812345678" not in row["text"] and "138****5678" in row["text"]
    got = reasons(rejects)
    assert got[3] == {"meeting_id: unknown meeting id"}
    assert got[4] == {"status: unknown status value"}


def test_points_come_from_the_rule_table():
    assert rules.load()["points"] == {"议事会": 10, "组织活动": 20, "调解矛盾": 15}
    con = duckdb.connect()
    ensure_schema(con)
    clean, rejects = stage("participation", pd.DataFrame([
        {"resident_id": "张三", "community": "春晖社区", "activity": a, "occurred_on": "2026-05-02", "hours": "1.5"}
        for a in ("议事会", "组织活动", "调解矛盾", "志愿服务", "议事会")]))
    assert rejects.empty and len(clean) == 4   # the two identical 议事会 rows are one record
    clean = clean.assign(source_load_id=1)
    con.execute("INSERT INTO participation BY NAME SELECT * FROM clean")
    got = dict(con.execute("SELECT activity, points FROM participation_points").fetchall())
    assert got == {"议事会": 10, "组织活动": 20, "调解矛盾": 15, "志愿服务": 0}
    assert set(clean["resident_pseudonym"]) == {pseudo("张三")}
    assert clean["hours"].tolist() == [1.5] * 4
    # the table is editable: a changed rule changes the points
    con.execute("UPDATE points_rules SET points = 12 WHERE activity = '议事会'")
    assert con.execute("SELECT sum(points) FROM participation_points").fetchall()[0][0] == 12 + 20 + 15


def test_participation_rejects_unknown_project_and_bad_hours():
    df = pd.DataFrame([
        {"record_id": "A1", "resident_id": "r1", "community": "c", "activity": "志愿服务", "occurred_on": "2026-01-01",
         "project_id": "P01", "age_band": "18-34岁"},
        {"record_id": "A2", "resident_id": "r1", "community": "c", "activity": "志愿服务", "occurred_on": "2026-01-01",
         "project_id": "P99"},
        {"record_id": "A3", "resident_id": "r2", "community": "c", "activity": "志愿服务", "occurred_on": "2026-01-01",
         "hours": "30"},
        {"record_id": "A4", "resident_id": "", "community": "c", "activity": "志愿服务", "occurred_on": "2026-01-01"}])
    clean, rejects = stage("participation", df, known_projects=["P01"])
    assert clean["record_id"].tolist() == ["A1"] and clean["age_band"].tolist() == ["18-34"]
    got = reasons(rejects)
    assert got[3] == {"project_id: unknown project id"}
    assert got[4] == {"hours: hours must be 0-24"}
    assert got[5] == {"resident_id: missing value"}


def test_redemption_above_the_balance_is_rejected_with_its_reason():
    earned = {pseudo("王五"): 50, pseudo("赵六"): 10}
    already = [("X0", pseudo("王五"), 15)]          # loaded before: 35 left
    df = pd.DataFrame([
        {"redemption_id": "X1", "resident_id": "王五", "redeemed_on": "2026-03-01", "item": "鸡蛋", "points": "20"},
        {"redemption_id": "X2", "resident_id": "王五", "redeemed_on": "2026-04-01", "item": "理发", "points": "20"},
        {"redemption_id": "X3", "resident_id": "王五", "redeemed_on": "2026-02-01", "item": "挂面", "points": "10"},
        {"redemption_id": "X4", "resident_id": "赵六", "redeemed_on": "2026-02-01", "item": "大米", "points": "11"},
        {"redemption_id": "X5", "resident_id": "钱七", "redeemed_on": "2026-02-01", "item": "毛巾", "points": "1"}])
    clean, rejects = stage("redemptions", df, context={"earned": earned, "redeemed": already})
    # in date order: X3 (35 -> 25), X1 (25 -> 5), X2 would go to -15
    assert sorted(clean["redemption_id"]) == ["X1", "X3"]
    got = reasons(rejects)
    assert got[3] == {"points: redemption above the points balance"}     # X2
    assert got[5] == {"points: redemption above the points balance"}     # X4: 11 > 10
    assert got[6] == {"points: redemption above the points balance"}     # X5: no points at all
    # a newer export of an already loaded redemption does not count it twice
    again = pd.DataFrame([{"redemption_id": "X0", "resident_id": "王五", "redeemed_on": "2026-01-05",
                           "item": "鸡蛋", "points": "50"}])
    clean, rejects = stage("redemptions", again, context={"earned": earned, "redeemed": already})
    assert clean["redemption_id"].tolist() == ["X0"] and rejects.empty


def test_evaluations_mask_comments_pseudonymise_and_check_projects():
    df = pd.DataFrame([
        {"project_id": "P01", "submitted_at": "2026-05-01 10:00", "rating": "2", "comment": "电话13912345678没人接",
         "resident_id": "李四"},
        {"project_id": "P01", "submitted_at": "2026-05-01 11:00", "rating": "6", "resident_id": "李四"},
        {"project_id": "P77", "submitted_at": "2026-05-01 12:00", "rating": "满意", "resident_id": "李四"}])
    clean, rejects = stage("evaluations", df, known_projects=["P01"])
    assert len(clean) == 1
    row = clean.iloc[0]
    assert row["comment"] == "电话139****5678没人接" and row["resident_pseudonym"] == pseudo("李四")
    assert row["evaluation_id"].startswith("H")
    got = reasons(rejects)
    assert got[3] == {"rating: rating must be 1-5"}
    assert got[4] == {"project_id: unknown project id"}


def test_communities_need_positive_households():
    clean, rejects = stage("communities", pd.DataFrame([
        {"community": "春晖社区", "households": "3,200", "residents": "8100", "grids": "6"},
        {"community": "秋实社区", "households": "0"}]))
    assert clean["households"].tolist() == [3200]
    assert reasons(rejects) == {3: {"households: households must be positive"}}


def test_meetings_keep_parties_and_reject_negative_attendance():
    clean, rejects = stage("meetings", pd.DataFrame([
        {"meeting_id": "M1", "held_on": "2026年5月8日", "community": "春晖社区", "kind": "联席会议",
         "parties": "春晖社区党委(社区党委)、春晖居委会(居委会)", "attendees": "12"},
        {"meeting_id": "M2", "held_on": "2026-05-09", "community": "春晖社区", "kind": "居民议事会", "attendees": "-1"}]))
    assert clean["meeting_id"].tolist() == ["M1"] and str(clean["held_on"].iloc[0])[:10] == "2026-05-08"
    assert reasons(rejects) == {3: {"attendees: negative count"}}
