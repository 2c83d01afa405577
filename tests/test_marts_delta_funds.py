"""fund_daily kept by delta (etl/marts/delta.py): after every load of a sequence of ledger files
(new entries, updates of stored entries that move them to another project, month, direction,
source or amount, repeated keys within a file, a refused file in the same command, compaction,
an undo) and after a projects load that renames a project and moves it to another community,
fund_daily equals a full rebuild of the same catalog, whole table against whole table (EXCEPT
ALL both ways); the loads' deltas - not month rebuilds - produced the ledger changes."""
from __future__ import annotations

import random
import shutil
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from etl import marts, storage, versions
from etl.marts import delta
from shared_readers import reading
from tests.test_marts_delta import load

PROJECTS_HEADER = "项目编号,项目名称,社区,项目类别,牵头单位,主体类型,项目阶段,预算(元),进度\n"
LEDGER_HEADER = "流水号,日期,项目编号,收支,资金来源类型,来源方,支出类别,金额\n"
PROJECTS = {"XM-1": ("长者食堂", "清河一社区", "养老"), "XM-2": ("儿童之家", "美和园社区", "儿童"),
            "XM-3": ("楼道微更新", "毛纺北社区", "环境"), "XM-4": ("助残驿站", "清河一社区", "助残")}
SOURCES = (("财政拨款", "区民政局"), ("企业社会责任", "清河商会"), ("商户公益·实物折价", "好邻居超市"),
           ("公众小额捐赠", "居民"), ("", ""))
EXPENSES = ("人员", "物资", "场地", "转拨")
START = date(2026, 3, 1)


def projects_file(folder: Path, name: str, projects: dict, progress: int = 40) -> Path:
    rows = [f"{pid},{n},{c},{cat},清河社工站,社会工作者,实施,10万,{progress}%" for pid, (n, c, cat) in projects.items()]
    path = folder / name
    path.write_text(PROJECTS_HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def entry(rng: random.Random, key: str, on: date | None = None) -> str:
    on = on or START + timedelta(days=rng.randrange(0, 90))
    pid = rng.choice(sorted(PROJECTS))
    amount = f"{rng.randrange(1, 5000)}.{rng.randrange(0, 100):02d}"
    if rng.random() < 0.4:
        source_type, source_name = rng.choice(SOURCES)
        return ",".join((key, on.isoformat(), pid, "收入", source_type, source_name, "", amount))
    return ",".join((key, on.isoformat(), pid, "支出", "", rng.choice(("清河商会", "物业", "")),
                     rng.choice(EXPENSES), amount))


def ledger_file(folder: Path, name: str, rows: list[str]) -> Path:
    path = folder / name
    path.write_text(LEDGER_HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def differences(db: Path) -> tuple[int, int]:
    """(rows of fund_daily that differ from a full rebuild of a copy of `db`, rows it holds)."""
    ref = db.with_name("reference.duckdb")
    shutil.copyfile(db, ref)
    try:
        with duckdb.connect(str(ref)) as con:
            marts.build(con)
            con.execute("ATTACH $p AS live (READ_ONLY)", {"p": str(db)})
            differ = con.execute(
                "SELECT (SELECT count(*) FROM (SELECT * FROM main.fund_daily EXCEPT ALL SELECT * FROM live.fund_daily))"
                " + (SELECT count(*) FROM (SELECT * FROM live.fund_daily EXCEPT ALL SELECT * FROM main.fund_daily))"
            ).fetchone()[0]
            rows = con.execute("SELECT count(*) FROM live.fund_daily").fetchone()[0]
    finally:
        ref.unlink()
    return differ, rows


# project_status' spent/received (read from fund_daily) against the ledger's own entries
_MONEY_FROM_LEDGER = """
    SELECT p.project_id,
           COALESCE(sum(t.amount_yuan) FILTER (WHERE t.direction = 'out'), 0)::DOUBLE,
           COALESCE(sum(t.amount_yuan) FILTER (WHERE t.direction = 'in'), 0)::DOUBLE
    FROM projects p LEFT JOIN fund_transactions t ON t.project_id = p.project_id AND t.txn_on <= $d
    GROUP BY p.project_id ORDER BY 1"""
_MONEY_OF_STATUS = "SELECT project_id, spent_yuan, received_yuan FROM project_status($d) ORDER BY 1"


def assert_same_as_rebuild(db: Path) -> None:
    differ, rows = differences(db)
    assert differ == 0 and rows > 20, (differ, rows)
    # and the project measures summed from it are the ledger's, to the cent, at several as-of days
    for day in (START + timedelta(days=20), START + timedelta(days=61), START + timedelta(days=400)):
        status = read(db, _MONEY_OF_STATUS, {"d": day})
        assert status == read(db, _MONEY_FROM_LEDGER, {"d": day}), day
        assert sum(spent + received for _, spent, received in status) > 0


def read(db: Path, query: str, params: dict | None = None) -> list[tuple]:
    with reading(db) as con:
        return con.execute(query, params or {}).fetchall()


@pytest.mark.slow   # several real loads (the fast loop keeps the stale-lookup rebuild and the fund reads over the summary)
def test_ledger_loads_and_a_projects_load_keep_fund_daily_equal_to_a_full_rebuild(tmp_path, applied):
    rng = random.Random(5)
    db = tmp_path / "cockpit.duckdb"
    keys = [f"T{i:05d}" for i in range(500)]
    assert load(db, projects_file(tmp_path, "p1.csv", PROJECTS),
                ledger_file(tmp_path, "l1.csv", [entry(rng, k) for k in keys])) == ["loaded", "loaded"]
    assert_same_as_rebuild(db)                  # the first build: the whole table
    # the amounts are exact: the summary's total is the ledger's to the cent
    assert read(db, "SELECT sum(amount_yuan) FROM fund_daily") == read(db, "SELECT sum(amount_yuan) FROM fund_transactions")

    # stored entries updated (other project, month, direction, source, amount), a key repeated
    # within the file (the last line wins) and new keys
    updates = [entry(rng, k) for k in rng.sample(keys, 200)] + [entry(rng, "T00001"), entry(rng, "T00001")]
    updates += [entry(rng, f"N{i:04d}") for i in range(80)]
    applied.clear()
    assert load(db, ledger_file(tmp_path, "l2.csv", updates)) == ["loaded"]
    assert ("fund_daily", True) in applied
    assert_same_as_rebuild(db)

    # a file refused in the same command (most rows invalid): its delta must not count
    bad = ledger_file(tmp_path, "l3.csv", [entry(rng, k).replace(",2026-", ",20x6-") for k in keys[:40]]
                      + [entry(rng, "T00002")])
    good = ledger_file(tmp_path, "l4.csv", [entry(rng, k) for k in rng.sample(keys, 30)])
    assert sorted(load(db, bad, good)) == ["loaded", "refused"]
    assert_same_as_rebuild(db)

    # one entry updated by two files of one command: both deltas, in order
    a = ledger_file(tmp_path, "l5.csv", [entry(rng, k) for k in keys[100:160]])
    b = ledger_file(tmp_path, "l6.csv", [entry(rng, k) for k in keys[130:190]])
    assert load(db, a, b) == ["loaded", "loaded"]
    assert_same_as_rebuild(db)

    # a projects load (no ledger change): XM-1 renamed and moved to another community; its
    # summary rows follow, as the rebuild of the summary's lookup columns makes them
    moved = {**PROJECTS, "XM-1": ("长者食堂（新址）", "毛纺北社区", "养老")}
    assert load(db, projects_file(tmp_path, "p2.csv", moved)) == ["loaded"]
    assert_same_as_rebuild(db)
    assert read(db, "SELECT DISTINCT project_name, community FROM fund_daily WHERE project_id = 'XM-1'") == [
        ("长者食堂（新址）", "毛纺北社区")]
    # and a projects load that changes nothing the summary copies (progress) leaves its stamp alone
    stamp = read(db, "SELECT value FROM etl_meta WHERE key = 'marts_lookup_fund_daily'")
    assert load(db, projects_file(tmp_path, "p3.csv", moved, progress=55)) == ["loaded"]
    assert read(db, "SELECT value FROM etl_meta WHERE key = 'marts_lookup_fund_daily'") == stamp
    assert_same_as_rebuild(db)


def test_a_stale_lookup_rebuilds_the_summary_whole_and_an_unchanged_one_does_not(tmp_path):
    """On one connection: the stamp written by a build, a project moved behind the summary's
    back (no ledger change noted), the next build with nothing changed repairs it."""
    rng = random.Random(3)
    db = tmp_path / "cockpit.duckdb"
    assert load(db, projects_file(tmp_path, "p.csv", PROJECTS),
                ledger_file(tmp_path, "l.csv", [entry(rng, f"T{i}") for i in range(120)])) == ["loaded", "loaded"]
    with duckdb.connect(str(db)) as con:
        before = con.execute("SELECT * FROM fund_daily ORDER BY ALL").fetchall()
        marts.build(con, changed={})                  # nothing changed: the summary is kept
        assert con.execute("SELECT * FROM fund_daily ORDER BY ALL").fetchall() == before
        con.execute("UPDATE projects SET community = '美和园社区' WHERE project_id = 'XM-3'")
        marts.build(con, changed={})
        assert con.execute("SELECT DISTINCT community FROM fund_daily WHERE project_id = 'XM-3'"
                           ).fetchall() == [("美和园社区",)]
    assert_same_as_rebuild(db)


@pytest.mark.slow   # many loads, forced compactions and an undo
def test_compaction_and_undo_keep_fund_daily_exact(tmp_path, applied, monkeypatch):
    """Small updates of one month's entries until its files are compacted (the superseded rows
    are then read from the files the compaction replaced), then an undo and one more load."""
    monkeypatch.setattr(storage, "COMPACT_FILES", 3)
    rng = random.Random(13)
    db = tmp_path / "cockpit.duckdb"
    keys = [f"T{i:05d}" for i in range(300)]
    assert load(db, projects_file(tmp_path, "p.csv", PROJECTS),
                ledger_file(tmp_path, "base.csv", [entry(rng, k) for k in keys])) == ["loaded", "loaded"]
    march = [k for k, in read(db, "SELECT txn_id FROM fund_transactions WHERE month(txn_on) = 3 ORDER BY 1")]
    compacted = 0
    for i in range(5):
        applied.clear()
        files_before = {p for p, in read(db, "SELECT path FROM etl_storage.parts")}
        rows = [entry(rng, k, START + timedelta(days=rng.randrange(0, 28))) for k in rng.sample(march, 25)]
        assert load(db, ledger_file(tmp_path, f"u{i}.csv", rows)) == ["loaded"]
        compacted += bool(files_before - {p for p, in read(db, "SELECT path FROM etl_storage.parts")})
        assert ("fund_daily", True) in applied
        assert_same_as_rebuild(db)
    assert compacted, "no load compacted a month: the compaction branch was not exercised"

    last = read(db, "SELECT max(load_id) FROM etl_loads")[0][0]
    versions.rollback(versions.plan_rollback(last, db), by="test", live=db)
    assert_same_as_rebuild(db)
    assert load(db, ledger_file(tmp_path, "after-undo.csv", [entry(rng, k) for k in rng.sample(keys, 60)])) == ["loaded"]
    assert_same_as_rebuild(db)


@pytest.mark.slow   # several real loads and a rebuild (the fast loop keeps the page over a catalog without fund_daily)
def test_a_catalog_without_fund_daily_gets_it_on_its_next_write_and_by_rebuild(tmp_path):
    """A catalog written before the summary existed: its next load (here a ledger load, whose
    delta has no summary to go to) builds it whole; `marts --rebuild` does too."""
    rng = random.Random(17)
    db = tmp_path / "cockpit.duckdb"
    assert load(db, projects_file(tmp_path, "p.csv", PROJECTS),
                ledger_file(tmp_path, "l.csv", [entry(rng, f"T{i}") for i in range(150)])) == ["loaded", "loaded"]

    def forget() -> None:
        with duckdb.connect(str(db)) as con:
            con.execute("DROP TABLE fund_daily")
            con.execute("DELETE FROM etl_meta WHERE key = 'marts_lookup_fund_daily'")

    forget()
    assert load(db, ledger_file(tmp_path, "l2.csv", [entry(rng, f"T{i}") for i in range(100, 220)])) == ["loaded"]
    assert_same_as_rebuild(db)
    forget()
    rows, differed = marts.rebuild(db)["fund_daily"]
    assert rows == differed > 20          # reported: every row of the summary is new
    assert_same_as_rebuild(db)
