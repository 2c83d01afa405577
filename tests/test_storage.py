"""etl/storage.py: big tables as monthly Parquet files under a small catalog (real files, real
DuckDB, the real loader)."""
from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from etl import dbfile, marts, storage, storage_upkeep, versions
from etl.dbfile import ensure_schema, writer
from etl.load import load_paths
from shared_readers import reading
from sweep import case, left_to_full_run

HEADER = "事件编号,上报时间,街道,社区,网格编号,事件类型,事件描述,处置状态\n"


def grid_csv(path: Path, ids: range, at: datetime, status: str = "处置中", step_h: int = 1) -> Path:
    rows = [f"S-{i:05d},{(at + timedelta(hours=step_h * i)):%Y-%m-%d %H:%M:%S},清河街道,毛纺北社区,"
            f"QH-01-01,噪音扰民,夜间施工,{status}\n" for i in ids]
    path.write_text(HEADER + "".join(rows), encoding="utf-8")
    return path


def rows(db: Path, sql: str, params: dict | None = None) -> list[tuple]:
    with reading(db) as con:
        return con.execute(sql, params or {}).fetchall()


def parquet_files(db: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in sorted(storage.parts_dir(db).rglob("*.parquet"))}


@left_to_full_run
def test_a_load_writes_monthly_files_and_a_view_of_the_same_columns(tmp_path):
    db = tmp_path / "cockpit.duckdb"
    res = load_paths([grid_csv(tmp_path / "a.csv", range(100), datetime(2026, 10, 29))], db, progress=None)
    assert [r.rows_loaded for r in res] == [100]
    assert rows(db, "SELECT table_type FROM information_schema.tables WHERE table_name = 'grid_reports'") == [("VIEW",)]
    months = sorted({p.parent.name for p in parquet_files(db)})
    assert months == ["month=2026-10", "month=2026-11"]
    assert all(p.parent.parent.name == "grid_reports" for p in parquet_files(db))
    with duckdb.connect() as con:               # the view has the types of etl/schema.sql
        con.execute(dbfile.SCHEMA_SQL.read_text(encoding="utf-8"))
        expected = con.execute("SELECT column_name, column_type FROM (DESCRIBE grid_reports)").fetchall()
    assert rows(db, "SELECT column_name, column_type FROM (DESCRIBE grid_reports)") == expected
    assert rows(db, "SELECT count(*), count(DISTINCT report_id) FROM grid_reports") == [(100, 100)]


def test_an_update_supersedes_keys_without_touching_stored_files(tmp_path):
    db = tmp_path / "cockpit.duckdb"
    at = datetime(2026, 11, 1)
    load_paths([grid_csv(tmp_path / "a.csv", range(100), at)], db, progress=None)
    before = parquet_files(db)
    # 20 stored keys move to 已办结, 30 new keys arrive
    load_paths([grid_csv(tmp_path / "b.csv", range(80, 130), at, status="已办结")], db, progress=None)
    after = parquet_files(db)
    assert all(after[p] == content for p, content in before.items())      # immutable files
    assert len(after) == len(before) + 1
    assert rows(db, "SELECT count(*), count(DISTINCT report_id) FROM grid_reports") == [(130, 130)]
    assert rows(db, "SELECT status, count(*) FROM grid_reports GROUP BY 1 ORDER BY 1") == [
        ("处置中", 80), ("已办结", 50)]
    assert rows(db, "SELECT count(*) FROM etl_storage.deletes") == [(20,)]
    assert rows(db, "SELECT source_load_id, count(*) FROM grid_reports GROUP BY 1 ORDER BY 1") == [(1, 80), (2, 50)]


def test_the_same_rows_in_another_file_change_no_row(tmp_path):
    db = tmp_path / "cockpit.duckdb"
    at = datetime(2026, 11, 1)
    load_paths([grid_csv(tmp_path / "a.csv", range(50), at)], db, progress=None)
    first = rows(db, "SELECT * EXCLUDE (source_load_id) FROM grid_reports ORDER BY report_id")
    copy = tmp_path / "copy.csv"
    copy.write_text((tmp_path / "a.csv").read_text(encoding="utf-8") + "\n", encoding="utf-8")
    load_paths([copy], db, progress=None)
    assert rows(db, "SELECT * EXCLUDE (source_load_id) FROM grid_reports ORDER BY report_id") == first


def test_a_failed_write_leaves_the_live_catalog_and_its_files(tmp_path):
    db = tmp_path / "cockpit.duckdb"
    load_paths([grid_csv(tmp_path / "a.csv", range(10), datetime(2026, 11, 1))], db, progress=None)
    identity, files = dbfile.file_identity(db), parquet_files(db)
    with pytest.raises(RuntimeError, match="crash"):
        with writer(db) as con:
            con.execute("CREATE TEMP VIEW _clean AS SELECT 'S-99999' AS report_id, "
                        "TIMESTAMP '2026-12-01 08:00' AS reported_at, NULL::VARCHAR AS street, "
                        "'毛纺北社区' AS community, 'QH' AS grid_id, NULL::VARCHAR AS reporter, "
                        "'噪音扰民' AS category, NULL::VARCHAR AS subcategory, NULL::VARCHAR AS description, "
                        "NULL::VARCHAR AS location_text, NULL::VARCHAR AS responsible_party, "
                        "'处置中' AS status, NULL::TIMESTAMP AS resolved_at, NULL::TINYINT AS satisfaction")
            from etl import stage
            storage.upsert(con, "grid_reports", "_clean", stage.target_columns("grid_reports"), 99)
            raise RuntimeError("crash")
    assert dbfile.file_identity(db) == identity
    assert rows(db, "SELECT count(*) FROM grid_reports") == [(10,)]
    orphans = set(parquet_files(db)) - set(files)
    assert len(orphans) == 1                                    # written, never published
    assert storage_upkeep.collect_garbage(db, dbfile.catalogs(db), grace_s=0) == sorted(orphans)
    assert set(parquet_files(db)) == set(files)


@left_to_full_run
def test_garbage_collection_opens_each_catalog_file_once(tmp_path, monkeypatch):
    """What a catalog references is read once per catalog file (kept in the parts folder by
    its identity): the writer hands over the live manifest, a kept version is the former live
    file, so a collection after a load opens no catalog, and still deletes only orphans."""
    db = tmp_path / "cockpit.duckdb"
    at = datetime(2026, 11, 1)
    load_paths([grid_csv(tmp_path / "a.csv", range(10), at)], db, progress=None)
    load_paths([grid_csv(tmp_path / "b.csv", range(5, 20), at, status="已办结")], db, progress=None)
    published = set(map(str, parquet_files(db)))
    orphan = storage.parts_dir(db) / "grid_reports" / "month=2026-11" / "L99-orphan.parquet"
    orphan.write_bytes(next(iter(parquet_files(db).values())))
    opened = []
    real = storage_upkeep.referenced
    monkeypatch.setattr(storage_upkeep, "referenced", lambda c: opened.append(c) or real(c))
    catalogs = dbfile.catalogs(db)
    assert len(catalogs) == 2                                  # live + the one it replaced
    assert storage_upkeep.collect_garbage(db, catalogs, grace_s=0) == [orphan]
    # the kept one was the first load's live file, whose collection noted its manifest; the
    # second load's collection was skipped (at most one every 15 minutes)
    assert opened == [db]
    orphan.write_bytes(b"again")
    opened.clear()
    live = {db: storage_upkeep.manifest(duckdb.connect(str(db), read_only=True))}
    assert storage_upkeep.collect_garbage(db, catalogs, grace_s=0, known=live) == [orphan]
    assert opened == []                                        # none opened again
    load_paths([grid_csv(tmp_path / "c.csv", range(30, 35), at)], db, progress=None)
    opened.clear()
    storage_upkeep.collect_garbage(db, dbfile.catalogs(db), grace_s=0)
    assert opened == [db]                                      # only the new live file
    assert published <= set(map(str, parquet_files(db)))      # every file a kept catalog holds


def test_undo_restores_a_kept_catalog_and_its_files_stay(tmp_path):
    db = tmp_path / "cockpit.duckdb"
    at = datetime(2026, 11, 1)
    load_paths([grid_csv(tmp_path / "a.csv", range(10), at)], db, progress=None)
    load_paths([grid_csv(tmp_path / "b.csv", range(5, 20), at, status="已办结")], db, progress=None)
    plan = versions.plan_rollback(2, db)
    assert plan.table_rows["grid_reports"] == (20, 10)
    versions.rollback(plan, "tester", db)
    assert rows(db, "SELECT status, count(*) FROM grid_reports GROUP BY 1") == [("处置中", 10)]
    # garbage collection keeps what the kept catalogs reference (the undone load's file too)
    storage_upkeep.collect_garbage(db, dbfile.catalogs(db), grace_s=0)
    for catalog in dbfile.catalogs(db):
        for path in storage_upkeep.referenced(catalog):
            assert Path(path).exists()


@pytest.mark.slow   # many small loads
def test_many_small_loads_into_one_month_are_compacted(tmp_path):
    db = tmp_path / "cockpit.duckdb"
    at = datetime(2026, 11, 1)
    for i in range(storage.COMPACT_FILES + 1):
        load_paths([grid_csv(tmp_path / f"{i}.csv", range(i * 10, i * 10 + 10), at, step_h=0)], db, progress=None)
    assert rows(db, "SELECT count(*) FROM etl_storage.parts") == [(1,)]
    assert rows(db, "SELECT count(*), count(DISTINCT report_id) FROM grid_reports") == [
        ((storage.COMPACT_FILES + 1) * 10,) * 2]


@pytest.mark.slow   # builds and migrates a single-file database
def test_a_single_file_database_is_migrated_by_its_next_write(tmp_path):
    db = tmp_path / "cockpit.duckdb"
    with duckdb.connect(str(db)) as con:
        ensure_schema(con)
        con.execute("""INSERT INTO grid_reports (report_id, reported_at, community, grid_id, category,
                       status, description, source_load_id)
                       SELECT 'OLD-' || i, TIMESTAMP '2025-01-01' + to_days(i::INT), '毛纺北社区', 'QH',
                       '噪音扰民', '已办结', repeat('长描述', 50), 1 FROM range(20000) t(i)""")
        con.execute("CHECKPOINT")
    load_paths([grid_csv(tmp_path / "a.csv", range(10), datetime(2026, 11, 1))], db, progress=None)
    assert rows(db, "SELECT count(*) FROM grid_reports") == [(20010,)]
    assert rows(db, "SELECT table_type FROM information_schema.tables WHERE table_name = 'grid_reports'") == [("VIEW",)]
    assert rows(db, "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'grid_reports'") == [(0,)]
    months = {p.parent.name for p in parquet_files(db)}
    assert "month=2025-01" in months and "month=2026-11" in months


@left_to_full_run
def test_a_write_notes_the_months_it_changed(tmp_path):
    db = tmp_path / "cockpit.duckdb"
    load_paths([grid_csv(tmp_path / "a.csv", range(10), datetime(2026, 10, 1))], db, progress=None)
    seen = {}
    with writer(db) as con:
        con.execute("CREATE TEMP VIEW _clean AS SELECT * EXCLUDE (source_load_id) REPLACE "
                    "(TIMESTAMP '2026-11-05 08:00' AS reported_at) FROM grid_reports WHERE report_id = 'S-00003'")
        from etl import stage
        storage.upsert(con, "grid_reports", "_clean", stage.target_columns("grid_reports"), 2)
        con.execute("DROP VIEW _clean")
        seen = storage.changes(con)
    # the row moved from October to November: both months changed
    assert seen == {"grid_reports": {date(2026, 10, 1), date(2026, 11, 1)}}
    assert rows(db, "SELECT reported_at::DATE FROM grid_reports WHERE report_id = 'S-00003'") == [(date(2026, 11, 5),)]


def test_the_dashboard_reader_reads_parts_and_nothing_else(tmp_path, monkeypatch):
    db = tmp_path / "cockpit.duckdb"
    load_paths([grid_csv(tmp_path / "a.csv", range(10), datetime(2026, 11, 1))], db, progress=None)
    monkeypatch.setenv("COCKPIT_DB", str(db))
    from dashboard import db as dashboard_db
    con = dashboard_db.connect()
    try:
        assert con.execute("SELECT count(*) FROM grid_reports").fetchone()[0] == 10
        for sql in ("SELECT * FROM read_csv('/etc/passwd')", "SET enable_external_access = true",
                    f"COPY (SELECT 1) TO '{tmp_path / 'x.csv'}'"):
            with pytest.raises(duckdb.Error):
                con.execute(sql)
    finally:
        con.close()
    assert not (tmp_path / "x.csv").exists()


@left_to_full_run
def test_a_dry_run_writes_its_files_where_the_live_catalog_will_find_them(tmp_path):
    from etl import dryrun
    db = tmp_path / "cockpit.duckdb"
    load_paths([grid_csv(tmp_path / "a.csv", range(10), datetime(2026, 11, 1))], db, progress=None)
    work = dryrun.new_workdir(db)
    upload = grid_csv(work / "files" / "b.csv", range(5, 25), datetime(2026, 11, 1), status="已办结")
    preview = dryrun.preview([upload], db, workdir=work)
    assert rows(db, "SELECT count(*) FROM grid_reports") == [(10,)]         # nothing published yet
    assert not (preview.candidate.parent / (preview.candidate.name + storage.PARTS_SUFFIX)).exists()
    dryrun.confirm(preview, painpoints=False)
    assert not work.exists()
    assert rows(db, "SELECT status, count(*) FROM grid_reports GROUP BY 1 ORDER BY 1") == [
        ("处置中", 5), ("已办结", 20)]
    assert all(p.startswith(str(storage.parts_dir(db))) for (p,) in rows(db, "SELECT path FROM etl_storage.parts"))


def test_the_declared_columns_are_what_duckdb_reads_from_schema_sql():
    for table in (*storage.PARTITIONED, *storage.WHOLE):
        assert storage.columns(table) == storage._schema()[table][0]


@pytest.mark.slow   # several loads and compactions
def test_a_load_compacts_within_its_budget_and_compact_does_the_rest(tmp_path, monkeypatch):
    from etl.__main__ import main
    monkeypatch.setattr(storage, "COMPACT_FILES", 2)
    monkeypatch.setattr(storage, "COMPACT_BUDGET_ROWS", 0)
    monkeypatch.setattr(storage, "COMPACT_BUDGET_FACTOR", 1)     # a load may rewrite its own size
    db = tmp_path / "cockpit.duckdb"
    for i in range(3):   # 30 new rows a load, spread over 3 months: a file per month per load
        start = datetime(2026, 7, 1) - timedelta(hours=72 * i * 30)    # every load: July to September
        load_paths([grid_csv(tmp_path / f"{i}.csv", range(i * 30, i * 30 + 30), start, step_h=72)],
                   db, progress=None)
    files = dict(rows(db, "SELECT month_on, count(*) FROM etl_storage.parts GROUP BY 1"))
    assert len(files) == 3
    assert min(files.values()) == 1 and max(files.values()) == 3   # one month compacted, the others wait
    assert main(["compact", "--db", str(db)]) == 0
    assert set(dict(rows(db, "SELECT month_on, count(*) FROM etl_storage.parts GROUP BY 1")).values()) == {1}
    assert rows(db, "SELECT count(*), count(DISTINCT report_id) FROM grid_reports") == [(90, 90)]


@pytest.mark.slow   # two loads and a compaction
def test_the_nightly_compaction_leaves_no_month_with_superseded_rows_or_several_files(tmp_path):
    """A load leaves a month with a few superseded rows (below COMPACT_DELETED) and a month of
    two files (below COMPACT_FILES) as they are; `python -m etl compact` rewrites both as one
    file without the superseded rows (the view needs no anti-join for them), the same records,
    and a second run has nothing left to do."""
    from etl.__main__ import main
    db = tmp_path / "cockpit.duckdb"
    load_paths([grid_csv(tmp_path / "a.csv", range(0, 60), datetime(2026, 9, 1), step_h=6)], db,
               progress=None)                                  # September, one file
    lines = (tmp_path / "a.csv").read_text(encoding="utf-8").splitlines()[1:]
    changed = [line.replace("处置中", "已办结") for line in lines[:5]]          # 5 of 60 superseded
    (tmp_path / "b.csv").write_text(HEADER + "\n".join(changed) + "\n", encoding="utf-8")
    grid_csv(tmp_path / "c.csv", range(100, 110), datetime(2026, 10, 3))
    load_paths([tmp_path / "b.csv"], db, progress=None)
    load_paths([tmp_path / "c.csv"], db, progress=None)
    grid_csv(tmp_path / "d.csv", range(200, 210), datetime(2026, 10, 9))
    load_paths([tmp_path / "d.csv"], db, progress=None)             # October: two files
    before = rows(db, "SELECT * FROM grid_reports ORDER BY report_id")
    files = dict(rows(db, "SELECT month_on, count(*) FROM etl_storage.parts GROUP BY 1"))
    assert files[date(2026, 10, 1)] == 2
    assert rows(db, "SELECT count(*) FROM etl_storage.deletes") == [(5,)]     # left by the loads

    assert main(["compact", "--db", str(db)]) == 0
    assert set(dict(rows(db, "SELECT month_on, count(*) FROM etl_storage.parts GROUP BY 1")).values()) == {1}
    assert rows(db, "SELECT count(*) FROM etl_storage.deletes") == [(0,)]
    assert rows(db, "SELECT * FROM grid_reports ORDER BY report_id") == before
    assert rows(db, "SELECT count(*) FROM grid_reports WHERE status = '已办结'") == [(5,)]
    after = parquet_files(db)
    assert main(["compact", "--db", str(db)]) == 0                  # nothing left to rewrite
    assert parquet_files(db) == after


@pytest.mark.slow   # several loads
def test_updates_find_their_keys_in_whichever_file_holds_them(tmp_path):
    db = tmp_path / "cockpit.duckdb"
    load_paths([grid_csv(tmp_path / "a.csv", range(0, 60), datetime(2026, 9, 20), step_h=24)], db, progress=None)
    load_paths([grid_csv(tmp_path / "b.csv", range(60, 120), datetime(2026, 8, 1), step_h=24)], db, progress=None)
    assert rows(db, "SELECT count(*) FROM etl_storage.parts")[0][0] >= 5
    # every 7th key of both loads, spread over all their files, moves to 已办结
    changed = tmp_path / "c.csv"
    lines = (tmp_path / "a.csv").read_text(encoding="utf-8").splitlines()[1:] + \
        (tmp_path / "b.csv").read_text(encoding="utf-8").splitlines()[1:]
    picked = [line.replace("处置中", "已办结") for line in lines if int(line[2:7]) % 7 == 0]
    changed.write_text(HEADER + "\n".join(picked) + "\n", encoding="utf-8")
    load_paths([changed], db, progress=None)
    assert rows(db, "SELECT count(*), count(DISTINCT report_id) FROM grid_reports") == [(120, 120)]
    assert rows(db, "SELECT count(*) FROM grid_reports WHERE status = '已办结'") == [(len(picked),)]
    assert rows(db, "SELECT count(*) FROM etl_storage.deletes d JOIN etl_storage.parts p USING (path)") == [
        (len(picked),)]


@left_to_full_run
def test_a_write_that_changes_no_record_table_leaves_the_summary_marts_alone(tmp_path):
    """A write to small tables only (a projects load, a pain-point run) notes no changed months: the summary marts are not rebuilt (a full
    rebuild costs ~20 s at 10M reports). A planted mark in grid_daily survives such a write and
    stays through such a write; a write that adds to its month adds its rows' counts on top (the
    summary is maintained by delta, etl/marts/delta.py), and a full rebuild recomputes it away."""
    db = tmp_path / "cockpit.duckdb"
    at = datetime(2026, 11, 2)
    load_paths([grid_csv(tmp_path / "a.csv", range(30), at)], db, progress=None)
    total = rows(db, "SELECT sum(reports) FROM grid_daily")[0][0]
    assert total == 30
    with writer(db) as con:
        con.execute("UPDATE grid_daily SET reports = reports + 1000 WHERE day_on = $d", {"d": at.date()})
        con.execute("INSERT INTO etl_meta VALUES ('test_mark', '1')")     # a small table only
    assert rows(db, "SELECT sum(reports) FROM grid_daily")[0][0] == total + 1000   # not rebuilt
    load_paths([grid_csv(tmp_path / "b.csv", range(30, 40), at)], db, progress=None)
    assert rows(db, "SELECT sum(reports) FROM grid_daily")[0][0] == 1040           # the delta, applied
    with writer(db) as con:
        marts.build(con)                                                            # the reference
    assert rows(db, "SELECT sum(reports) FROM grid_daily")[0][0] == 40


def test_a_month_over_one_row_group_is_written_sorted_by_key_and_a_smaller_one_as_it_came(tmp_path, monkeypatch):
    """Readers prune by a row group's key range, so a month's rows are sorted by key only when
    they fill more than one row group; either way the table holds the same rows."""
    keys = [f"S-{k:03d}" for k in random.Random(3).sample(range(200), 40)]   # not in key order
    csv = tmp_path / "grid.csv"
    csv.write_text("事件编号,上报时间,街道,社区,网格编号,事件类型,事件描述,处置状态\n" + "".join(
        f"{k},2025-11-{1 + i % 20:02d} 08:00:00,清河街道,毛纺北社区,QH-01-01,噪音扰民,夜间施工,处置中\n"
        for i, k in enumerate(keys)), encoding="utf-8")
    stored = {}
    for label, rows_per_group in (("as it came", storage.ROW_GROUP_ROWS), ("sorted", 10)):
        monkeypatch.setattr(storage, "ROW_GROUP_ROWS", rows_per_group)
        db = tmp_path / label / "cockpit.duckdb"
        load_paths([csv], db, progress=None)
        with reading(db) as con:
            (path,) = con.execute("SELECT path FROM etl_storage.parts WHERE table_name = 'grid_reports'").fetchone()
            stored[label] = [r[0] for r in con.execute("SELECT report_id FROM read_parquet($p)", {"p": path}).fetchall()]
            assert sorted(r[0] for r in con.execute("SELECT report_id FROM grid_reports").fetchall()) == sorted(keys)
    assert stored["sorted"] == sorted(keys)
    assert sorted(stored["as it came"]) == sorted(keys)


# the fast loop keeps the partitioned copy; one copy per month: tests/sweep.py left_to_full_run
@pytest.mark.parametrize("per_month_max", [
    case(storage.PER_MONTH_MAX, fast=False, id=str(storage.PER_MONTH_MAX)), case(0, fast=True, id="0")])
def test_a_write_puts_each_month_in_its_own_file_by_one_copy_per_month_or_one_partitioned_copy(
        tmp_path, monkeypatch, per_month_max):
    """A write of few months copies each month by itself (cheaper than DuckDB's partitioned
    COPY), a write of many months goes through one partitioned COPY: either way each file holds
    exactly its month's rows (those over one row group sorted by key), the
    manifest counts them, and the month boundaries (first and last instant) land right."""
    monkeypatch.setattr(storage, "PER_MONTH_MAX", per_month_max)
    monkeypatch.setattr(storage, "ROW_GROUP_ROWS", 30)
    at = datetime(2026, 9, 30, 23, 0, 0)
    ids = list(range(100))
    random.Random(5).shuffle(ids)
    body = "".join(f"S-{i:05d},{(at + timedelta(hours=i * 12)):%Y-%m-%d %H:%M:%S},清河街道,毛纺北社区,"
                   f"QH-01-01,噪音扰民,夜间施工,处置中\n" for i in ids)
    body += ("B-00000,2026-10-31 23:59:59.999999,清河街道,毛纺北社区,QH-01-01,噪音扰民,夜间施工,处置中\n"
             "B-00001,2026-11-01 00:00:00,清河街道,毛纺北社区,QH-01-01,噪音扰民,夜间施工,处置中\n")
    csv = tmp_path / "grid.csv"
    csv.write_text(HEADER + body, encoding="utf-8")
    db = tmp_path / "cockpit.duckdb"
    assert load_paths([csv], db, progress=None)[0].status == "loaded"
    parts = rows(db, "SELECT month_on, path, rows FROM etl_storage.parts ORDER BY month_on")
    assert [p[0] for p in parts] == [date(2026, 9, 1), date(2026, 10, 1), date(2026, 11, 1)]
    with duckdb.connect() as con:
        for month, path, n in parts:
            assert f"/month={month:%Y-%m}/" in path
            stored = con.execute("SELECT report_id, reported_at FROM read_parquet($p)", {"p": path}).fetchall()
            assert len(stored) == n
            assert all(date(t.year, t.month, 1) == month for _, t in stored)
            keys = [k for k, _ in stored]
            if n > 30:
                assert keys == sorted(keys)
    by_month = {p[0]: p[2] for p in parts}
    assert by_month == {date(2026, 9, 1): 1, date(2026, 10, 1): 63, date(2026, 11, 1): 38}
    assert sum(by_month.values()) == rows(db, "SELECT count(*) FROM grid_reports")[0][0] == 102


def _on_disk(db: Path) -> set[str]:
    return {str(p) for p in storage.parts_dir(db).rglob("*.parquet")}


def test_a_catalog_compacted_before_it_is_published_keeps_its_rows_and_leaves_no_replaced_file(tmp_path):
    """lake.compact_unpublished (the demo build's last step): one file a month, the same rows, and
    the files the compaction replaced deleted with their key sidecars at once (that compaction
    keeps the summaries exact is tests/test_marts_appended.py's)."""
    from etl import lake, storage_keys
    db = tmp_path / "cockpit.duckdb"
    at = datetime(2026, 11, 1)
    load_paths([grid_csv(tmp_path / "a.csv", range(100), at)], db, progress=None)
    load_paths([grid_csv(tmp_path / "b.csv", range(80, 130), at, status="已办结")], db, progress=None)
    records = "SELECT report_id, status FROM grid_reports ORDER BY 1"
    before = rows(db, records)
    referenced = storage_upkeep.referenced(db)
    assert len(referenced) > len({Path(p).parent for p in referenced})        # a month in two files
    done = lake.compact_unpublished(db)
    assert done["grid_reports"]
    assert rows(db, records) == before
    now = storage_upkeep.referenced(db)
    assert len(now) == len({Path(p).parent for p in now})                     # one file a month
    assert _on_disk(db) == now                                                # nothing replaced left
    sidecars = {str(p)[:-len(storage_keys.SUFFIX)] for p in storage.parts_dir(db).rglob("*" + storage_keys.SUFFIX)}
    assert sidecars and sidecars <= now


@pytest.mark.slow   # generates and loads a small demo through the CLI
def test_the_demo_command_publishes_a_compacted_database(tmp_path):
    """`python -m etl demo` ends as the nightly compaction would leave it: each month of the big
    tables one file, no superseded row kept, no file on disk the catalog does not reference."""
    from etl.__main__ import main
    db = tmp_path / "cockpit.duckdb"
    assert main(["demo", "--scale", "0.05", "--end", "2026-11-22", "--no-painpoints", "--db", str(db)]) == 0
    parts = rows(db, "SELECT table_name, path FROM etl_storage.parts")
    per_month: dict[tuple[str, str], int] = {}
    for table, path in parts:
        key = (table, Path(path).parent.name)
        per_month[key] = per_month.get(key, 0) + 1
    assert {t for t, _ in per_month} >= {"grid_reports", "feedback"}
    assert max(per_month.values()) == 1, {k: n for k, n in per_month.items() if n > 1}
    assert _on_disk(db) == {p for _, p in parts}
    assert rows(db, "SELECT count(*) FROM grid_reports") == rows(
        db, "SELECT sum(rows) FROM etl_storage.parts WHERE table_name = 'grid_reports'")
