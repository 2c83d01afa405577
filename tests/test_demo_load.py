"""The demo loads end to end through the real ETL: counts, unique keys, no orphans, planted rejects."""
from __future__ import annotations

import csv
from pathlib import Path

import duckdb
import pytest

from etl.load import load_paths
from etl.stage import STATUS

pytestmark = pytest.mark.slow   # every test here needs the demo build (conftest demo_build)


@pytest.fixture(scope="module")
def con(demo_build):
    c = duckdb.connect(str(demo_build.db), read_only=True)
    yield c
    c.close()


def scalar(con, sql):
    return con.execute(sql).fetchall()[0][0]


def test_every_demo_file_loads_and_only_planted_rows_are_rejected(demo_build, con):
    assert {r.status for r in demo_build.results} == {"loaded"}
    got = {(Path(p).name, row, col, why) for p, row, col, why in con.execute(
        "SELECT path, row_number, column_name, reason FROM etl_rejects").fetchall()}
    planted = {(b["file"].split("[")[0], b["row_number"], b["column"], b["reason"])
               for b in demo_build.manifest["bad_rows"]}
    assert got == planted and len(planted) >= 6


def test_volumes_match_the_manifest(demo_build, con):
    counts = demo_build.manifest["counts"]
    rejected = {}
    for b in demo_build.manifest["bad_rows"]:
        rejected[b["kind"]] = rejected.get(b["kind"], 0) + 1
    assert scalar(con, "SELECT count(*) FROM projects") == counts["projects"] - rejected.get("projects", 0)
    assert scalar(con, "SELECT count(*) FROM project_milestones") == \
        counts["project_milestones"] - rejected.get("project_milestones", 0)
    for table in ("grid_reports", "fund_transactions", "feedback"):
        n = scalar(con, f"SELECT count(*) FROM {table}")
        assert counts[table] * 0.9 <= n <= counts[table], table


@pytest.mark.parametrize("table,key", [("grid_reports", "report_id"), ("fund_transactions", "txn_id"),
                                       ("feedback", "feedback_id"), ("projects", "project_id"),
                                       ("project_milestones", "project_id, milestone")])
def test_keys_are_unique(con, table, key):
    assert scalar(con, f"SELECT count(*) - count(DISTINCT ({key})) FROM {table}") == 0


def test_no_orphan_transactions_or_milestones(con):
    for table in ("fund_transactions", "project_milestones"):
        assert scalar(con, f"SELECT count(*) FROM {table} WHERE project_id NOT IN "
                           "(SELECT project_id FROM projects)") == 0


def test_newer_export_moved_statuses_forward(demo_build, con):
    [update] = [f for f in demo_build.inbox.iterdir() if "更新" in f.name]
    with open(update, encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    expected = {r["事件编号"]: STATUS[r["处置状态"]] for r in rows}
    assert len(expected) > 10 and sum(s in ("已办结", "已关闭") for s in expected.values()) > len(expected) / 2
    got = dict(con.execute("SELECT report_id, status FROM grid_reports WHERE list_contains($ids, report_id)",
                           {"ids": list(expected)}).fetchall())
    assert got == expected   # the later export wins for every one of its records


def test_demo_text_is_masked_and_residents_pseudonymised(con):
    assert scalar(con, r"SELECT count(*) FROM feedback WHERE regexp_matches(text, '(^|\D)1[3-9]\d{9}(\D|$)')") == 0
    assert scalar(con, r"SELECT count(*) FROM grid_reports WHERE regexp_matches(description, '(^|\D)1[3-9]\d{9}(\D|$)')") == 0
    assert scalar(con, "SELECT count(*) FROM feedback WHERE text LIKE '%****%'") > 0
    assert scalar(con, "SELECT count(*) FROM feedback WHERE resident_pseudonym NOT LIKE 'R%'") == 0


def test_reloading_the_demo_inbox_changes_nothing(demo_build, tmp_path):
    copy = tmp_path / "again.duckdb"
    copy.write_bytes(demo_build.db.read_bytes())
    before = copy.read_bytes()
    results = load_paths([demo_build.inbox], copy, progress=None)
    assert {r.status for r in results} == {"skipped"}
    assert copy.read_bytes() == before
