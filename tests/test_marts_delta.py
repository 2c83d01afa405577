"""Delta maintenance of the summary marts (etl/marts/delta.py): after every load of a sequence
(new rows, updates of stored keys that change category, status, community or close a case in
a later month, repeated keys within a file, a refused file in the same command, compaction, an
undo), grid_daily, feedback_daily and grid_resolution_monthly equal a full rebuild of the same
catalog, whole table against whole table (EXCEPT ALL both ways; their groups summed first, as
they take each load's delta as appended rows: etl/marts/appended.py), a compacted copy equals
it row for row, and the delta - not a month rebuild - produced them."""
from __future__ import annotations

import random
import shutil
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from etl import marts, storage, versions
from etl.dbfile import ensure_schema
from etl.load import load_paths
from etl.marts import appended, delta
from shared_readers import reading
from sweep import left_to_full_run

SUMMARIES = ("grid_daily", "feedback_daily", "grid_resolution_monthly")
GRID_HEADER = "事件编号,上报时间,街道,社区,网格编号,事件类型,事件描述,处置状态,办结时间,满意度\n"
FEEDBACK_HEADER = "留言编号,提交时间,街道,社区,网格编号,渠道,留言内容,评分,回复内容,回复时间\n"
COMMUNITIES = ("清河一社区", "美和园社区", "毛纺北社区", None)
CATEGORIES = ("噪音扰民", "消防安全", "环境卫生", "违规停车", "没有规则的类别")
STATUSES = ("待受理", "处置中", "已办结", "已关闭")
START = datetime(2026, 3, 1)


def _cell(value) -> str:
    return "" if value is None else str(value)


def grid_row(rng: random.Random, key: str, reported: datetime | None = None) -> str:
    reported = reported or START + timedelta(minutes=rng.randrange(0, 90 * 24 * 60))
    status = rng.choice(STATUSES)
    resolved = ""
    if status == "已办结" or (status == "已关闭" and rng.random() < 0.5):   # some close without a time
        resolved = (reported + timedelta(hours=rng.choice((2, 20, 30, 60, 200, 900)))).strftime("%Y-%m-%d %H:%M:%S")
    community = rng.choice(COMMUNITIES)
    return ",".join(map(_cell, (key, reported.strftime("%Y/%m/%d %H:%M:%S"), "清河街道", community or "清河一社区",
                                f"QH-0{rng.randrange(1, 4)}-01", rng.choice(CATEGORIES), "描述", status,
                                resolved, rng.choice(("", 3, 5)))))


def feedback_row(rng: random.Random, key: str) -> str:
    submitted = START + timedelta(minutes=rng.randrange(0, 90 * 24 * 60))
    replied = rng.random() < 0.5
    return ",".join(map(_cell, (key, submitted.strftime("%Y-%m-%d %H:%M:%S"), "清河街道",
                                rng.choice(COMMUNITIES[:3]), f"QH-0{rng.randrange(1, 4)}-01",
                                rng.choice(("公众号", "民意直通车", "")), "楼道灯坏了", rng.choice(("", 1, 4, 5)),
                                "已转物业" if replied else "",
                                (submitted + timedelta(hours=5)).strftime("%Y-%m-%d %H:%M:%S") if replied else "")))


def write(folder: Path, name: str, header: str, rows: list[str]) -> Path:
    path = folder / name
    path.write_text(header + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def differences(db: Path) -> dict[str, int]:
    """Rows of each summary that differ from a full rebuild (changed=None) of a copy of `db`:
    an appended summary's groups summed first (a group may span several rows until it is
    compacted: etl/marts/appended.py); and the same after compacting every month of a copy,
    row for row ("<table> compacted")."""
    ref = db.with_name("reference.duckdb")
    packed = db.with_name("compacted.duckdb")
    shutil.copyfile(db, ref)
    shutil.copyfile(db, packed)
    with duckdb.connect(str(packed)) as con:
        appended.compact_all(con)
    with duckdb.connect(str(ref)) as con:
        marts.build(con)
        con.execute("ATTACH $p AS live (READ_ONLY)", {"p": str(db)})
        con.execute("ATTACH $p AS packed (READ_ONLY)", {"p": str(packed)})
        out = {}
        for t in SUMMARIES:   # names from the constant above
            live = appended.grouped_sql(con, t, f"live.{t}") if appended.is_appended(t) else f"SELECT * FROM live.{t}"
            out[t] = _except_both(con, f"SELECT * FROM main.{t}", live)
            out[t + " compacted"] = _except_both(con, f"SELECT * FROM main.{t}", f"SELECT * FROM packed.{t}")
            out[t + " rows"] = con.execute(f"SELECT count(*) FROM live.{t}").fetchone()[0]
            out[t + " groups"] = con.execute(f"SELECT count(*) FROM main.{t}").fetchone()[0]
    ref.unlink()
    packed.unlink()
    return out


def _except_both(con, a: str, b: str) -> int:
    """Rows of `a` not in `b` plus rows of `b` not in `a` (multisets; SQL of this module)."""
    return (con.execute(f"SELECT count(*) FROM ({a} EXCEPT ALL {b})").fetchone()[0]
            + con.execute(f"SELECT count(*) FROM ({b} EXCEPT ALL {a})").fetchone()[0])


def load(db: Path, *paths: Path) -> list:
    results = load_paths(list(paths), db, progress=None)
    return [r.status for r in results]


def first_load(tmp_path: Path, rng: random.Random, keys: list[str], messages: int = 80,
               name: str = "a.csv") -> Path:
    """A new database with `keys` as grid reports and `messages` feedback rows, both loaded."""
    db = tmp_path / "cockpit.duckdb"
    assert load(db, write(tmp_path, name, GRID_HEADER, [grid_row(rng, k) for k in keys]),
                write(tmp_path, "fb.csv", FEEDBACK_HEADER, [feedback_row(rng, f"F{i}") for i in range(messages)])
                ) == ["loaded", "loaded"]
    return db


def assert_same_as_rebuild(db: Path) -> None:
    diff = differences(db)
    assert all(diff[t] == 0 and diff[f"{t} compacted"] == 0 for t in SUMMARIES), diff
    assert all(diff[f"{t} groups"] > 20 for t in SUMMARIES), diff


@pytest.mark.slow   # several real loads (the fast loop keeps the open-cases load and the contributions check)
def test_a_sequence_of_loads_keeps_the_summaries_equal_to_a_full_rebuild(tmp_path, applied):
    rng = random.Random(7)
    db = tmp_path / "cockpit.duckdb"
    grid_keys = [f"G{i:05d}" for i in range(600)]
    fb_keys = [f"F{i:05d}" for i in range(400)]
    first = write(tmp_path, "grid1.csv", GRID_HEADER, [grid_row(rng, k) for k in grid_keys])
    fb1 = write(tmp_path, "fb1.csv", FEEDBACK_HEADER, [feedback_row(rng, k) for k in fb_keys])
    assert load(db, first, fb1) == ["loaded", "loaded"]
    assert_same_as_rebuild(db)                      # the first build: whole tables

    # updates of stored keys (new category, status, community; open cases closed later),
    # a key repeated within the file (the last line wins) and new keys
    updates = [grid_row(rng, k) for k in rng.sample(grid_keys, 250)]
    updates += [grid_row(rng, "G00001"), grid_row(rng, "G00001")]
    updates += [grid_row(rng, f"N{i:04d}") for i in range(120)]
    fb2 = write(tmp_path, "fb2.csv", FEEDBACK_HEADER,
                [feedback_row(rng, k) for k in rng.sample(fb_keys, 150)] + [feedback_row(rng, "F99999")])
    applied.clear()
    assert load(db, write(tmp_path, "grid2.csv", GRID_HEADER, updates), fb2) == ["loaded", "loaded"]
    assert sorted(set(applied)) == [("feedback_daily", True), ("grid_daily", True),
                                    ("grid_resolution_monthly", True)]
    assert_same_as_rebuild(db)

    # a file refused in the same command (most rows invalid): its delta must not count
    bad = write(tmp_path, "grid3.csv", GRID_HEADER,
                [grid_row(rng, k).replace("2026/", "20x6/") for k in grid_keys[:50]] + [grid_row(rng, "G00002")])
    good = write(tmp_path, "grid4.csv", GRID_HEADER, [grid_row(rng, k) for k in rng.sample(grid_keys, 40)])
    assert sorted(load(db, bad, good)) == ["loaded", "refused"]
    assert_same_as_rebuild(db)

    # a case updated in one load after another of the same command, and both files' deltas
    a = write(tmp_path, "grid5.csv", GRID_HEADER, [grid_row(rng, k) for k in grid_keys[100:160]])
    b = write(tmp_path, "grid6.csv", GRID_HEADER, [grid_row(rng, k) for k in grid_keys[130:190]])
    assert load(db, a, b) == ["loaded", "loaded"]
    assert_same_as_rebuild(db)


@pytest.mark.slow   # many loads, forced compactions and an undo
def test_compaction_and_undo_keep_the_summaries_exact(tmp_path, applied, monkeypatch):
    """Small updates of one month until its files are compacted (the superseded rows are then
    read from the files the compaction replaced), then an undo of the last load and one more."""
    monkeypatch.setattr(storage, "COMPACT_FILES", 3)
    rng = random.Random(11)
    keys = [f"G{i:05d}" for i in range(300)]
    db = first_load(tmp_path, rng, keys, name="base.csv")
    march = [k for k in keys if _month_of(db, k) == 3]
    compacted = 0
    for i in range(5):
        applied.clear()
        files_before = _parts(db)
        rows = [grid_row(rng, k, START + timedelta(days=rng.randrange(0, 28), hours=3)) for k in rng.sample(march, 25)]
        assert load(db, write(tmp_path, f"u{i}.csv", GRID_HEADER, rows)) == ["loaded"]
        compacted += bool(files_before - _parts(db) - {None})
        assert ("grid_daily", True) in applied
        assert_same_as_rebuild(db)
    assert compacted, "no load compacted a month: the compaction branch was not exercised"

    with reading(db) as con:
        last = con.execute("SELECT max(load_id) FROM etl_loads").fetchone()[0]
    versions.rollback(versions.plan_rollback(last, db), by="test", live=db)
    assert_same_as_rebuild(db)
    rows = [grid_row(rng, k) for k in rng.sample(keys, 60)]
    assert load(db, write(tmp_path, "after-undo.csv", GRID_HEADER, rows)) == ["loaded"]
    assert_same_as_rebuild(db)


def _month_of(db: Path, key: str) -> int:
    with reading(db) as con:
        return con.execute("SELECT month(reported_at) FROM grid_reports WHERE report_id = $k", {"k": key}).fetchone()[0]


def _parts(db: Path) -> set:
    with reading(db) as con:
        return {r[0] for r in con.execute("SELECT path FROM etl_storage.parts").fetchall()}


def test_contributions_are_the_model_over_other_rows():
    """The delta SQL is the model's own body over another relation (no second definition)."""
    m = marts.model("grid_daily")
    sql = delta.contributions_sql(m, "temp.some_rows")
    assert "/* months */" not in sql and "from temp.some_rows" in sql and "grid_reports" not in sql
    assert marts.model("grid_cases").body.split("from grid_reports")[1][:40] in sql
    f = delta.contributions_sql(marts.model("feedback_daily"), "temp.some_rows")
    assert "from temp.some_rows" in f and " feedback " not in f


@pytest.mark.slow   # several real loads (the fast loop keeps the open-cases load against a full rebuild)
def test_a_load_into_months_the_summaries_do_not_hold_yet_is_inserted_exactly(tmp_path, applied):
    """The delta of a command whose rows all fall in new months (a plain insert into the
    summaries), then one that updates those rows and adds to old months (a merge)."""
    rng = random.Random(19)
    db = tmp_path / "cockpit.duckdb"
    assert load(db, write(tmp_path, "g.csv", GRID_HEADER, [grid_row(rng, f"G{i}") for i in range(200)]),
                write(tmp_path, "f.csv", FEEDBACK_HEADER, [feedback_row(rng, f"F{i}") for i in range(60)])
                ) == ["loaded", "loaded"]
    later = START + timedelta(days=200)      # months after every stored report
    applied.clear()
    assert load(db, write(tmp_path, "new1.csv", GRID_HEADER,
                          [grid_row(rng, f"N{i}", later + timedelta(hours=7 * i)) for i in range(120)]),
                write(tmp_path, "new2.csv", GRID_HEADER,
                      [grid_row(rng, f"M{i}", later + timedelta(days=40, hours=5 * i)) for i in range(80)])
                ) == ["loaded", "loaded"]
    assert ("grid_daily", True) in applied
    assert_same_as_rebuild(db)
    applied.clear()
    assert load(db, write(tmp_path, "mixed.csv", GRID_HEADER,
                          [grid_row(rng, f"N{i}", later + timedelta(hours=7 * i + 1)) for i in range(0, 120, 3)]
                          + [grid_row(rng, f"G{i}") for i in range(0, 200, 7)])) == ["loaded"]
    assert ("grid_daily", True) in applied
    assert_same_as_rebuild(db)


@left_to_full_run
def test_a_load_of_only_open_cases_leaves_a_summary_without_count_lists_alone(tmp_path, applied):
    """grid_resolution_monthly counts resolved cases only and has no count lists: a later file
    of open cases gives it an empty delta, which must merge as nothing (it once failed the
    whole load)."""
    rng = random.Random(11)
    db = tmp_path / "cockpit.duckdb"
    assert load(db, write(tmp_path, "g.csv", GRID_HEADER, [grid_row(rng, f"G{i}") for i in range(120)])) == ["loaded"]
    open_rows = [row for row in (grid_row(rng, f"N{i}") for i in range(60)) if row.split(",")[7] in ("待受理", "处置中")]
    assert open_rows
    assert load(db, write(tmp_path, "open.csv", GRID_HEADER, open_rows)) == ["loaded"]
    diff = differences(db)
    assert diff["grid_daily"] == 0 and diff["grid_resolution_monthly"] == 0, diff
    assert diff["grid_resolution_monthly rows"] > 5, diff


def test_the_pending_delta_is_summed_per_group_whether_noted_once_or_more():
    """flush sums a command's pending delta per group of the grain: the groups noted once pass
    through as they are, the others are summed element by element (a NULL street is one
    group), and the merge adds each to the stored group, list element by list element."""
    con = duckdb.connect()
    con.execute("CREATE TABLE grid_daily (month_on DATE, day_on DATE, street VARCHAR, community VARCHAR, "
                "grid_id VARCHAR, category VARCHAR, reports BIGINT, opened BIGINT, closed BIGINT, "
                "sla_due_by BIGINT[], sla_met_by BIGINT[])")
    con.execute("CREATE TEMP TABLE p AS SELECT * FROM main.grid_daily LIMIT 0")
    insert = ("INSERT INTO {} VALUES (DATE '2026-03-01', make_date(2026, 3, $day), $street, '美和园社区', "
              "'QH-01-01', '噪音扰民', $reports, $opened, $closed, $due, $met)")
    rows = [(1, "清河街道", 2, 1, 0, [0, 1, 2], [0, 1, 1]),       # noted once
            (2, None, 3, 2, 1, [1, 2, 3], [1, 1, 2]),              # twice, NULL street
            (2, None, -1, -1, 0, [0, -1, -1], [0, 0, -1]),
            (3, "清河街道", 1, 1, 0, [0, 0, 1], [0, 0, 0]),        # three times
            (3, "清河街道", 1, 0, 1, [1, 1, 1], [1, 1, 1]),
            (3, "清河街道", -1, 0, 0, [0, -1, -1], [0, 0, 0])]
    names = ("day", "street", "reports", "opened", "closed", "due", "met")
    for row in rows:
        con.execute(insert.format("temp.p"), dict(zip(names, row)))
    m = marts.model("grid_daily")
    summed = delta._summed(con, m, "temp.p")
    got = con.execute("SELECT day(day_on), street, reports, opened, closed, sla_due_by, sla_met_by "
                      "FROM (" + summed + ") ORDER BY 1").fetchall()
    assert got == [(1, "清河街道", 2, 1, 0, [0, 1, 2], [0, 1, 1]),
                   (2, None, 2, 1, 1, [1, 1, 2], [1, 1, 1]),
                   (3, "清河街道", 1, 1, 1, [1, 0, 1], [1, 1, 1])]
    con.execute(insert.format("main.grid_daily"), dict(zip(names, (3, "清河街道", 4, 2, 1, [2, 3, 4], [1, 2, 2]))))
    delta._merge(con, m, summed)
    assert con.execute("SELECT day(day_on), reports, sla_due_by, sla_met_by FROM main.grid_daily "
                       "ORDER BY 1").fetchall() == [(1, 2, [0, 1, 2], [0, 1, 1]), (2, 2, [1, 1, 2], [1, 1, 1]),
                                                    (3, 5, [3, 3, 5], [2, 3, 3])]


def test_a_write_whose_delta_fills_more_than_a_row_group_reaches_the_summary(tmp_path):
    """DuckDB 2.0.0 loses the rows of a temporary table created inside a transaction and
    filled there with more than a row group (122,880 rows) once the transaction commits. The
    pending delta is read after the file's commit, so it is created before the transaction
    (delta.prepare, as the loader does): a write adding 150,000 new groups must reach
    grid_daily whole (it once vanished: a 440k-row export of new cases into the 10M demo)."""
    con = duckdb.connect(str(tmp_path / "cockpit.duckdb"))
    ensure_schema(con)
    marts.build(con)                     # the seeded rules and the (empty) summaries
    con.execute("CREATE TEMP TABLE incoming AS SELECT * FROM grid_reports LIMIT 0")
    # 150,000 reports, each its own (day, grid) group of grid_daily
    con.execute("INSERT INTO temp.incoming (report_id, reported_at, street, community, grid_id, category, status) "
                "SELECT 'K' || i, TIMESTAMP '2025-01-01 08:00:00' + to_days(CAST(i % 400 AS INTEGER)), '清河街道', "
                "'美和园社区', 'QH-' || (i // 400), '噪音扰民', '待受理' FROM range(150000) t(i)")
    delta.prepare(con, "grid_reports")
    con.begin()                          # a file's transaction: its delta noted inside it
    delta.note(con, "grid_reports", "temp.incoming", +1)
    con.commit()
    delta.flush(con)
    assert con.execute("SELECT count(*), sum(reports), sum(opened) FROM grid_daily").fetchone() == (150000, 150000, 150000)


@left_to_full_run
def test_the_columns_the_summaries_name_are_enough_for_their_contributions(tmp_path):
    """The superseded rows are read with only the columns their summaries' SQL names
    (delta.named_columns): each summary's contributions must run over a relation of just those
    columns, and the wide text columns no summary reads are left out of the read."""
    con = duckdb.connect(str(tmp_path / "cockpit.duckdb"))
    ensure_schema(con)
    marts.build(con)
    for table in ("grid_reports", "feedback", "fund_transactions"):
        models = delta.summaries(table)
        assert models, table
        named = delta.named_columns(table, models)
        typed = dict(storage.columns(table))
        con.execute(f"CREATE OR REPLACE TEMP TABLE some_rows AS SELECT "
                    + ", ".join(f"CAST(NULL AS {typed[c]}) AS {c}" for c in named) + " LIMIT 0")
        for m in models:
            assert con.execute(delta.signed_rows(con, m, "temp.some_rows", -1)).fetchall() == []
    grid = delta.named_columns("grid_reports", delta.summaries("grid_reports"))
    assert {"reported_at", "resolved_at", "status", "category", "community"} <= set(grid)
    assert "description" not in grid and "location_text" not in grid


@pytest.mark.slow   # three real loads and the nightly compaction
def test_an_update_of_every_compacted_month_reads_the_superseded_rows_once(tmp_path, applied, monkeypatch):
    """The state an office has in the morning (`python -m etl compact`: one file a month), then
    an update export with keys in every month, as bench_load's: the summaries stay exact, and
    both summaries of grid_reports take the superseded rows from one read of the month files
    (appended.REMOVED), not one read each."""
    from etl import lake
    rng = random.Random(23)
    keys = [f"G{i:05d}" for i in range(500)]
    db = first_load(tmp_path, rng, keys[:250])
    assert load(db, write(tmp_path, "b.csv", GRID_HEADER, [grid_row(rng, k) for k in keys[250:]])) == ["loaded"]
    lake.compact_all(db)
    with reading(db) as con:
        assert con.execute("SELECT count(*) = count(DISTINCT month_on) FROM etl_storage.parts "
                           "WHERE table_name = 'grid_reports'").fetchone()[0]
    relations = []
    real = delta.signed_rows

    def spied(con, m, relation, sign):
        relations.append((m.name, relation, sign))
        return real(con, m, relation, sign)
    monkeypatch.setattr(delta, "signed_rows", spied)
    applied.clear()
    updates = [grid_row(rng, k) for k in rng.sample(keys, 120)] + [grid_row(rng, f"N{i}") for i in range(30)]
    assert load(db, write(tmp_path, "u.csv", GRID_HEADER, updates)) == ["loaded"]
    assert ("grid_daily", True) in applied and ("grid_resolution_monthly", True) in applied
    removed = sorted((name, relation) for name, relation, sign in relations if sign == -1)
    assert removed == [("grid_daily", f"temp.{appended.REMOVED}"),
                       ("grid_resolution_monthly", f"temp.{appended.REMOVED}")]
    assert_same_as_rebuild(db)


@pytest.mark.slow   # 130k rows loaded twice
def test_a_command_that_supersedes_more_than_a_row_group_takes_them_all_out(tmp_path, applied):
    """The superseded rows are read into a temporary table (appended.REMOVED) at the end of the
    command, outside the files' transactions: more than a row group of them (122,880, where
    DuckDB 2.0.0 once lost a temporary table's rows: delta.prepare) must all be taken out."""
    db = tmp_path / "cockpit.duckdb"
    n = 130_000
    first = [f"K{i:06d},2025/03/{1 + i % 28:02d} 08:00:00,清河街道,美和园社区,QH-0{1 + i % 3}-01,噪音扰民,描述,待受理,,"
             for i in range(n)]
    again = [f"K{i:06d},2025/03/{1 + i % 28:02d} 08:00:00,清河街道,清河一社区,QH-0{1 + i % 3}-01,消防安全,描述,"
             f"已办结,2025-04-0{1 + i % 9} 10:00:00,5" for i in range(n)]
    assert load(db, write(tmp_path, "a.csv", GRID_HEADER, first)) == ["loaded"]
    applied.clear()
    assert load(db, write(tmp_path, "b.csv", GRID_HEADER, again)) == ["loaded"]
    assert ("grid_daily", True) in applied
    with reading(db) as con:
        assert con.execute("SELECT sum(reports), sum(closed) FROM grid_daily WHERE community = '美和园社区'"
                           ).fetchone() in ((0, 0), (None, None))
        assert con.execute("SELECT sum(reports) FROM grid_daily").fetchone()[0] == n
    diff = differences(db)
    assert diff["grid_daily"] == 0 and diff["grid_resolution_monthly"] == 0, diff


def _vacuum_settings(monkeypatch) -> list[int]:
    """max_vacuum_tasks as each write's final checkpoint will see it (read in the step just
    before it, etl.dbfile._refuse_scratch_objects)."""
    from etl import dbfile
    seen: list[int] = []
    real = dbfile._refuse_scratch_objects

    def observed(con):
        seen.append(int(con.execute("SELECT current_setting('max_vacuum_tasks')").fetchone()[0]))
        return real(con)
    monkeypatch.setattr(dbfile, "_refuse_scratch_objects", observed)
    return seen


@left_to_full_run
def test_a_loads_checkpoint_does_not_vacuum_and_the_nightly_compaction_does(tmp_path, monkeypatch):
    """DuckDB's checkpoint vacuum rewrote most of grid_daily's row groups after a load's
    in-budget compaction of a summary month (0.5-0.6 s of a 1.8 s update load into the 1M demo):
    a load's checkpoint runs with vacuuming off, `etl compact` (nightly) and a marts rebuild
    with it on (etl/storage_upkeep.py NO_VACUUM), and the values stay exact."""
    from etl import lake, storage_upkeep
    monkeypatch.setattr(storage_upkeep, "DELETED_MIN_ROWS", 0)
    monkeypatch.setattr(storage_upkeep, "DELETED_SHARE", 2.0)          # never due by share
    seen = _vacuum_settings(monkeypatch)
    rng = random.Random(31)
    keys = [f"G{i:05d}" for i in range(300)]
    db = first_load(tmp_path, rng, keys)
    assert load(db, write(tmp_path, "b.csv", GRID_HEADER, [grid_row(rng, k) for k in keys[:120]])) == ["loaded"]
    assert seen and set(seen) == {0}, seen
    assert_same_as_rebuild(db)
    lake.compact_all(db)
    assert seen[-1] > 0
    marts.rebuild(db)
    assert seen[-1] > 0
    assert_same_as_rebuild(db)


def test_a_load_vacuums_once_a_table_is_mostly_deleted_rows(tmp_path, monkeypatch):
    """storage_upkeep.vacuum_due: a catalog table DELETED_SHARE deleted rows or more (stored
    rows, estimated_size, against count(*)) makes the write's checkpoint vacuum."""
    from etl import storage_upkeep
    db = tmp_path / "t.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute(storage_upkeep.NO_VACUUM)
        con.execute("CREATE TABLE big AS SELECT range AS i FROM range(300000)")
        con.execute("CREATE TABLE small AS SELECT range AS i FROM range(100)")
        con.execute("CHECKPOINT")
        con.execute("DELETE FROM small")
        con.execute("DELETE FROM big WHERE i % 10 = 0")               # 10 %
        con.execute("CHECKPOINT")
        assert storage_upkeep.deleted_rows(con)["big"] == (300000, 270000)
        assert "small" not in storage_upkeep.deleted_rows(con)          # below DELETED_MIN_ROWS
        assert not storage_upkeep.vacuum_due(con)
        con.execute("DELETE FROM big WHERE i % 10 = 1 OR i % 10 = 2")   # 30 %
        con.execute("CHECKPOINT")
        assert storage_upkeep.vacuum_due(con)
    monkeypatch.setattr(storage_upkeep, "DELETED_SHARE", 0.0001)
    seen = _vacuum_settings(monkeypatch)
    rng = random.Random(32)
    live = tmp_path / "cockpit.duckdb"
    assert load(live, write(tmp_path, "a.csv", GRID_HEADER, [grid_row(rng, f"G{i}") for i in range(200)])) == ["loaded"]
    monkeypatch.setattr(storage_upkeep, "DELETED_MIN_ROWS", 0)
    monkeypatch.setattr(appended, "COMPACT_FLOOR", 0)                  # its months compacted: rows deleted
    monkeypatch.setattr(appended, "COMPACT_SHARE", 0.01)
    assert load(live, write(tmp_path, "b.csv", GRID_HEADER, [grid_row(rng, f"G{i}") for i in range(80)])) == ["loaded"]
    assert seen[-1] > 0, "the write did not vacuum a catalog with deleted rows past the share"
