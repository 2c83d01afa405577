"""Participation queries on a tiny hand-built database: Gini, top-10% share and Lorenz against a
hand-computed case, usage per 1,000 households, joint-meeting gaps, resolution flags, the
evaluation rule, and the row-level scope."""
from __future__ import annotations

from datetime import date, datetime

import duckdb
import pandas as pd
import pytest

from dashboard.filters import Filters
from dashboard.queries import participation as q
from dashboard.queries.base import Scope, use_scope
from etl.dbfile import ensure_schema

F = Filters(date_from=date(2026, 1, 1), date_to=date(2026, 6, 30))


def _insert(con, table: str, rows: list[dict]) -> None:
    df = pd.DataFrame(rows).assign(source_load_id=1)  # noqa: F841 - read by DuckDB
    con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM df")


@pytest.fixture(scope="module")
def con():
    c = duckdb.connect()
    ensure_schema(c)
    _insert(c, "communities", [{"community": "甲社区", "street": "梧桐街道", "households": 2000},
                               {"community": "乙社区", "street": "梧桐街道", "households": 500}])
    # 甲: residents a, b, c, d carry 1, 1, 2, 6 tasks; 乙: one resident, 3 tasks
    tasks = [("a", 1), ("b", 1), ("c", 2), ("d", 6)]
    rows, n = [], 0
    for who, k in tasks:
        for i in range(k):
            n += 1
            rows.append({"record_id": f"r{n}", "resident_pseudonym": who, "community": "甲社区",
                         "activity": "议事会" if i == 0 else "志愿服务", "occurred_on": date(2026, 3, 1 + i),
                         "hours": 1.0, "age_band": "18-34" if who == "a" else "50-64"})
    for i in range(3):
        rows.append({"record_id": f"y{i}", "resident_pseudonym": "e", "community": "乙社区", "activity": "组织活动",
                     "occurred_on": date(2026, 4, 1 + i), "hours": 2.0, "age_band": None})
    _insert(c, "participation", rows)
    _insert(c, "meetings", [
        {"meeting_id": "M1", "held_on": date(2026, 1, 10), "community": "甲社区", "kind": "联席会议",
         "parties": "甲党委(社区党委)、甲居委会(居委会)、甲业委会(业委会)、某公司(驻区单位)、A会(社会组织)、B会(社会组织)、C会(社会组织)"},
        {"meeting_id": "M2", "held_on": date(2026, 2, 10), "community": "甲社区", "kind": "联席会议",
         "parties": "甲党委(社区党委)、甲居委会(居委会)、某公司(驻区单位)、A会(社会组织)、B会(社会组织)"},
        {"meeting_id": "M3", "held_on": date(2026, 5, 10), "community": "乙社区", "kind": "居民议事会", "parties": None}])
    _insert(c, "resolutions", [
        # due before the as-of day and still running: overdue; Q1 meeting disclosed in time
        {"resolution_id": "J1", "meeting_id": "M1", "community": "甲社区", "text": "x", "due_on": date(2026, 3, 1),
         "status": "执行中", "disclosed_on": date(2026, 3, 20)},
        # done, but disclosed after its quarter (Q1 ends 03-31): undisclosed
        {"resolution_id": "J2", "meeting_id": "M2", "community": "甲社区", "text": "y", "due_on": date(2026, 3, 1),
         "status": "已完成", "disclosed_on": date(2026, 4, 2)},
        # Q2 meeting: its quarter has not ended by 06-30 minus nothing -> not flagged; due later
        {"resolution_id": "J3", "meeting_id": "M3", "community": "乙社区", "text": "z", "due_on": date(2026, 9, 1),
         "status": "待执行", "disclosed_on": None}])
    _insert(c, "projects", [{"project_id": p, "name": p, "community": cm, "category": "养老", "lead_party": "x",
                             "lead_party_type": "社区", "stage": "实施"} for p, cm in (("P1", "甲社区"), ("P2", "乙社区"))])
    ev = [{"evaluation_id": f"e{i}", "project_id": "P1", "submitted_at": datetime(2026, 2, 1, 9), "rating": r}
          for i, r in enumerate((1, 2, 3, 2, 4))]                        # 5 ratings averaging 2.4
    ev += [{"evaluation_id": f"f{i}", "project_id": "P2", "submitted_at": datetime(2026, 2, 1, 9), "rating": 1}
           for i in range(4)]                                           # only 4: not enough to flag
    _insert(c, "evaluations", ev)
    yield c
    c.close()


def test_gini_top_share_and_lorenz_match_the_hand_computed_case(con):
    conc = q.concentration(con, F).set_index("scope")
    jia = conc.loc["甲社区"]
    # tasks 1, 1, 2, 6: sum |xi - xj| over ordered pairs = 32; G = 32 / (2 * 4^2 * 2.5) = 0.4
    assert jia["gini"] == pytest.approx(0.4)
    assert jia["top_share"] == pytest.approx(0.6)        # ceil(10% of 4) = 1 resident with 6 of 10 tasks
    assert (jia["participants"], jia["tasks"]) == (4, 10)
    assert conc.loc["乙社区", "gini"] == pytest.approx(0.0)
    street = conc.loc["全街道"]                            # 1, 1, 2, 3, 6 over 13 tasks; ceil(0.5) = 1
    assert street["top_share"] == pytest.approx(6 / 13)
    lor = q.lorenz_of(q.resident_tasks(con, Filters(date_from=F.date_from, date_to=F.date_to,
                                                    community="甲社区")))
    assert lor["participants_share"].tolist() == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert lor["tasks_share"].tolist() == pytest.approx([0.1, 0.2, 0.4, 1.0])


@pytest.mark.parametrize("community", [None, "甲社区", "乙社区"])
def test_kpis_concentration_in_sql_equals_the_pure_measure(con, community):
    """The cards' top share and Gini come from one SQL aggregate; they must equal the page's
    pure measure over the per-resident tasks for the same filters."""
    f = Filters(date_from=F.date_from, date_to=F.date_to, community=community)
    k = q.kpis(con, f).iloc[0]
    whole = community or "全街道"
    pure = q.concentration_of(q.resident_tasks(con, f), 0.1, whole).iloc[-1]   # the whole row
    assert k["top_share"] == pytest.approx(pure["top_share"])
    assert k["gini"] == pytest.approx(pure["gini"])
    assert k["active_residents"] == pure["participants"] > 0


def test_usage_per_1000_households_and_young_decisions(con):
    use = q.usage(con, F).set_index("community")
    assert use.loc["甲社区", "per_1000_households"] == pytest.approx(4 / 2000 * 1000)
    assert use.loc["乙社区", "per_1000_households"] == pytest.approx(2.0)
    assert use.loc["乙社区", "points"] == 60                       # 3 x 组织活动 at 20 points
    young = q.young_share(con, F).set_index("community")
    # 议事会 on 03-01 for everybody (a is 18-34): one decision day, with a young participant
    assert (young.loc["甲社区", "decisions"], young.loc["甲社区", "young_share"]) == (1, 1.0)
    k = q.kpis(con, F).iloc[0]
    assert k["usage_rate"] == pytest.approx(5 / 2500 * 1000)
    assert (k["overdue_resolutions"], k["undisclosed_resolutions"]) == (1, 1)


def test_joint_meeting_gaps_and_resolution_flags(con):
    gaps = q.joint_meeting_gaps(con, F)
    assert gaps[["meeting_id", "missing_types", "social_orgs"]].values.tolist() == [["M2", "业委会", 2]]
    res = q.resolutions(con, F).set_index("resolution_id")
    assert res["overdue"].to_dict() == {"J1": True, "J2": False, "J3": False}
    assert res["undisclosed"].to_dict() == {"J1": False, "J2": True, "J3": False}
    assert str(res.loc["J1", "disclose_by"])[:10] == "2026-03-31"
    # as of mid-February, J1 was not yet overdue and no quarter had ended
    early = q.resolutions(con, Filters(date_to=date(2026, 2, 15)))
    assert early["resolution_id"].tolist() == ["J1", "J2"] and not early[["overdue", "undisclosed"]].any().any()


def test_evaluation_rule_needs_five_ratings_below_three(con):
    ev = q.evaluations(con, F).set_index("project_id")
    assert ev.loc["P1", "avg_rating"] == pytest.approx(2.4) and ev.loc["P1", "low_rated"]
    assert not ev.loc["P2", "low_rated"]                         # 1.0 but from 4 residents only
    assert q.low_rated(con, F)["project_id"].tolist() == ["P1"]


def test_scope_limits_every_participation_read(con):
    with use_scope(Scope(communities=("乙社区",), role="community")):
        assert set(q.usage(con, F)["community"]) == {"乙社区"}
        assert q.joint_meeting_gaps(con, F).empty
        assert q.resolutions(con, F)["resolution_id"].tolist() == ["J3"]
        assert q.evaluations(con, F)["project_id"].tolist() == ["P2"]
        assert set(q.leaderboard(con, F)["resident_pseudonym"]) == {"e"}


def test_months_without_a_joint_meeting(con):
    monthly = q.meetings_monthly(con, F)
    got = q.meetings_by_community(monthly).set_index("community")
    # months with data: 2026-01, 02 (甲's joint meetings) and 05 (乙's council only)
    assert got.loc["甲社区"].tolist() == [2, 2, 1]
    assert got.loc["乙社区"].tolist() == [1, 0, 3]


def test_kpis_are_empty_on_a_database_from_before_these_tables(tmp_path):
    old = duckdb.connect(str(tmp_path / "old.duckdb"))
    old.execute("CREATE TABLE projects (project_id VARCHAR)")   # a file the new schema never touched
    k = q.kpis(old, F).iloc[0]
    assert k.isna().all() and "usage_rate" in k.index
    old.close()
