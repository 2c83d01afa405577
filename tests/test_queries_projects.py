"""Early-warning rules: each fires on the project built to trigger it and on no other."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import duckdb

import pandas as pd
import pytest
from pages_fixture import AS_OF, raw

from dashboard.filters import Filters
from dashboard.queries import projects as q
from etl import marts
from etl.dbfile import ensure_schema
from sweep import left_to_full_run

JUNE = Filters(date_from=date(2026, 6, 1), date_to=AS_OF)
EXPECTED = {("P02", "behind_schedule"), ("P03", "overdue_milestones"), ("P04", "stalled"),
            ("P05", "spending_ahead"), ("P06", "over_budget")}


def test_each_rule_fires_on_its_project_only(con):
    w = q.warnings(con, JUNE)
    assert set(zip(w["project_id"], w["rule"])) == EXPECTED
    assert set(w["rule"]) == set(q.RULES)


def test_rule_measures(con):
    w = q.warnings(con, JUNE).set_index("rule")["value"]
    elapsed = 100 * 180 / 364                       # 2026-01-01 -> 2026-06-30 of a 364-day plan
    assert w["behind_schedule"] == pytest.approx(round(elapsed - 20, 1))
    assert w["overdue_milestones"] == 1
    assert w["stalled"] == 60                       # last update 2026-05-01
    assert w["spending_ahead"] == pytest.approx(30.0)
    assert w["over_budget"] == pytest.approx(10000.0)


def test_as_of_is_the_filter_end_not_the_clock(con):
    # on 2026-03-31 P04 had been updated "in the future" (negative days): not stalled;
    # the P03 milestone due 2026-05-01 was not yet late
    w = q.warnings(con, Filters(date_from=date(2026, 3, 1), date_to=date(2026, 3, 31)))
    assert ("P04", "stalled") not in set(zip(w["project_id"], w["rule"]))
    assert ("P03", "overdue_milestones") not in set(zip(w["project_id"], w["rule"]))


# --- each rule on a hand-built project, through the project_status mart ------------------------
# A 364-day plan measured on its 182nd day: 50% of the time elapsed. The healthy project is at
# 50% progress, spent 40 of 100 yuan, updated 3 days before, with no late milestone.
RULE_AS_OF = date(2026, 7, 2)


def _row(**over) -> dict:
    base = dict(project_id="X", stage="实施", progress_pct=50.0, spent_yuan=40.0, budget_yuan=100.0,
                overdue_milestones=0, days_since_update=3)
    return {**base, **over}


def _warnings(rows: list[dict], tmp_path) -> pd.DataFrame:
    """early_warnings over the mart's project_status for hand-built projects (one DB each)."""
    path = tmp_path / f"rules{len(list(tmp_path.iterdir()))}.duckdb"
    c = duckdb.connect(str(path))
    try:
        ensure_schema(c)
        for r in rows:
            c.execute("""INSERT INTO projects (project_id, name, community, category, lead_party,
                         lead_party_type, stage, planned_start_on, planned_end_on, actual_start_on,
                         budget_yuan, progress_pct, last_updated_at, archived, source_load_id)
                         VALUES ($id, 'n', 'c', 'k', 'p', '社区', $stage, DATE '2026-01-01',
                         DATE '2026-12-31', DATE '2026-01-01', $budget, $progress,
                         $updated, TRUE, 1)""",
                      {"id": r["project_id"], "stage": r["stage"], "budget": r["budget_yuan"],
                       "progress": r["progress_pct"],
                       "updated": datetime.combine(RULE_AS_OF - timedelta(days=r["days_since_update"]),
                                                   datetime.min.time())})
            c.execute("""INSERT INTO fund_transactions (txn_id, project_id, txn_on, direction,
                         amount_yuan, in_kind, source_load_id)
                         VALUES ($id || '-out', $id, DATE '2026-03-01', 'out', $spent, FALSE, 1)""",
                      {"id": r["project_id"], "spent": r["spent_yuan"]})
            for i in range(r["overdue_milestones"]):
                c.execute("""INSERT INTO project_milestones (project_id, milestone, planned_on,
                             source_load_id) VALUES ($id, $m, DATE '2026-05-01', 1)""",
                          {"id": r["project_id"], "m": f"m{i}"})
        marts.build(c)
        status = c.execute("SELECT * FROM project_status($as_of) ORDER BY project_id",
                           {"as_of": RULE_AS_OF}).df()
    finally:
        c.close()
    return q.early_warnings(status)


@pytest.mark.parametrize("rule,over", [
    ("behind_schedule", {"progress_pct": 34.0}),
    ("overdue_milestones", {"overdue_milestones": 2}),
    ("stalled", {"days_since_update": q.STALLED_DAYS + 1}),
    ("spending_ahead", {"spent_yuan": 71.0}),
    ("over_budget", {"spent_yuan": 101.0, "progress_pct": 90.0}),
])
def test_rules_on_hand_built_projects(rule, over, tmp_path):
    w = _warnings([_row(project_id="healthy"), _row(project_id="sick", **over)], tmp_path)
    assert list(zip(w["project_id"], w["rule"])) == [("sick", rule)]


@left_to_full_run
def test_thresholds_are_strict(tmp_path):
    w = _warnings([_row(project_id="a", progress_pct=35.0),                   # exactly 15 behind
                   _row(project_id="b", days_since_update=q.STALLED_DAYS),    # exactly 30 days
                   _row(project_id="c", spent_yuan=70.0),                     # exactly 20 ahead
                   _row(project_id="d", spent_yuan=100.0, progress_pct=90.0)], tmp_path)
    assert w.empty


@left_to_full_run
def test_finished_projects_only_warn_about_money(tmp_path):
    w = _warnings([_row(stage="结项", progress_pct=10.0, days_since_update=400,
                        overdue_milestones=3, spent_yuan=150.0)], tmp_path)
    assert list(w["rule"]) == ["over_budget"]


def test_project_table_matches_raw(con):
    table = q.project_table(con, JUNE).set_index("project_id")
    prj = raw(cockpit_db_path(con), "projects").set_index("project_id")
    assert set(table.index) == set(prj.index)
    assert table.loc["P08", "stage"] == "立项"    # pipeline projects stay in view
    assert (table["progress_pct"] == prj.loc[table.index, "progress_pct"]).all()
    s = q.summary(con, JUNE).iloc[0]
    assert s["archive_rate"] == pytest.approx(prj["archived"].mean())


def cockpit_db_path(con):
    return con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
                       ).fetchone()[0]


def test_community_and_category_filters(con):
    t = q.project_table(con, Filters(date_to=AS_OF, community="秋实社区"))
    assert sorted(t["project_id"]) == ["P02", "P04"]
    t = q.project_table(con, Filters(date_to=AS_OF, category="养老"))
    assert sorted(t["project_id"]) == ["P01", "P07", "P08"]


def test_drill_down_reads(con):
    ms = q.milestones(con, JUNE, "P03")
    assert ms["overdue"].sum() == 1
    ledger = q.ledger(con, JUNE, "P07")
    assert ledger.loc[ledger["direction"] == "out", "amount_yuan"].sum() == pytest.approx(30000)
    fb = q.related_feedback(con, JUNE, "P01")      # keywords 养老、助餐 in 春晖社区
    assert len(fb) and fb["text"].str.contains("养老|助餐").all()


def test_matching_projects_lists_a_bounded_search():
    table = pd.DataFrame({"project_id": [f"P{i:04d}" for i in range(120, 0, -1)],
                          "name": [f"加装电梯{i}" if i % 10 == 0 else f"楼道照明{i}"
                                   for i in range(120, 0, -1)]})
    first = q.matching_projects(table, "")
    assert list(first) == [f"P{i:04d}" for i in range(1, q.PICK_LIMIT + 1)]     # by ID
    lifts = q.matching_projects(table, " 加装电梯 ")
    assert list(lifts) == [f"P{i:04d}" for i in range(10, 121, 10)]
    assert lifts["P0010"] == "加装电梯10"
    assert list(q.matching_projects(table, "p011")) == [f"P{i:04d}" for i in range(110, 120)]
    # the chosen project stays listed whatever is searched; an unknown one is not invented
    assert list(q.matching_projects(table, "加装电梯", limit=2, keep="P0007")) == ["P0010", "P0020", "P0007"]
    assert list(q.matching_projects(table, "照明", limit=1, keep="P9999")) == ["P0001"]
    assert q.matching_projects(table, "no such") == {}
    # a search is text, never a pattern
    assert q.matching_projects(table, ".*") == {}
