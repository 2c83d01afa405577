"""etl/storage_keys.py: superseded keys found through the files' key sidecars, exactly (real
loads, real DuckDB catalogs, real Parquet files and sidecars); and the record tables kept as
Parquet parts so the catalog a load copies stays small."""
from __future__ import annotations

import random
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pytest

from etl import dbfile, storage, storage_keys, storage_upkeep, versions
from etl.dbfile import ensure_schema, writer
from etl.load import load_paths
from shared_readers import reading
from sweep import case, left_to_full_run

HEADER = "事件编号,上报时间,街道,社区,网格编号,事件类型,事件描述,处置状态\n"
START = datetime(2025, 11, 3, 8)


def grid_csv(path: Path, records: dict[int, tuple[datetime, str]]) -> Path:
    """A grid export: key number -> (reported_at, status)."""
    lines = [f"S-{k:05d},{at:%Y-%m-%d %H:%M:%S},清河街道,毛纺北社区,QH-01-01,噪音扰民,夜间施工,{status}\n"
             for k, (at, status) in records.items()]
    path.write_text(HEADER + "".join(lines), encoding="utf-8")
    return path


def rows(db: Path, sql: str, params: dict | None = None) -> list[tuple]:
    with reading(db) as con:
        return con.execute(sql, params or {}).fetchall()


def view(db: Path) -> list[tuple]:
    return rows(db, "SELECT report_id, reported_at, status, source_load_id FROM grid_reports ORDER BY report_id")


def expected(model: dict[int, tuple[datetime, str, int]]) -> list[tuple]:
    return [(f"S-{k:05d}", at, status, load) for k, (at, status, load) in sorted(model.items())]


def sidecars(db: Path) -> list[Path]:
    return sorted(storage.parts_dir(db).rglob("*" + storage_keys.SUFFIX))


def test_the_hash_is_md5_as_python_defines_it_for_any_key():
    keys = ["SJ202611220000001", "S-00001", "", "网格-清河-001", "a'b", "x" * 300]
    with duckdb.connect() as con:
        got = con.execute(f"SELECT {storage_keys.HASH_SQL.format(column='k')} FROM unnest($keys) t(k)",
                          {"keys": keys}).fetchall()
    assert [g[0] for g in got] == [storage_keys.key_hash(k) for k in keys]
    assert len(set(g[0] for g in got)) == len(keys)


@left_to_full_run
def test_every_file_gets_a_sidecar_of_its_sorted_key_hashes(tmp_path):
    db = tmp_path / "cockpit.duckdb"
    load_paths([grid_csv(tmp_path / "a.csv", {k: (START + timedelta(days=k), "处置中") for k in range(60)})],
               db, progress=None)
    parts = rows(db, "SELECT path, rows FROM etl_storage.parts WHERE table_name = 'grid_reports'")
    assert len(parts) == 3                                          # Nov, Dec, Jan
    assert sidecars(db) == sorted(storage_keys.sidecar(p) for p, _ in parts)
    for path, n in parts:
        hashes = np.load(storage_keys.sidecar(path))
        keys = [r[0] for r in rows(db, "SELECT report_id FROM read_parquet($p)", {"p": path})]
        assert len(hashes) == n == len(keys)
        assert hashes.tolist() == sorted(storage_keys.key_hash(k) for k in keys)


@pytest.mark.slow   # many random loads against a model
def test_random_overlapping_loads_give_latest_wins_by_key(tmp_path):
    """Eight loads of random keys (new ones, re-sent ones, ones whose date moves to another
    month, duplicates of one key across months in the history): the view equals a plain
    latest-wins model after every load, with compaction rewriting months in between."""
    db = tmp_path / "cockpit.duckdb"
    rng = random.Random(14)
    model: dict[int, tuple[datetime, str, int]] = {}
    for load in range(1, 9):
        keys = rng.sample(range(400), 120)
        records = {k: (START + timedelta(days=rng.randrange(120), hours=rng.randrange(24)),
                       rng.choice(["待受理", "处置中", "已办结"])) for k in keys}
        load_paths([grid_csv(tmp_path / f"{load}.csv", records)], db, progress=None)
        model.update({k: (at, status, load) for k, (at, status) in records.items()})
        assert view(db) == expected(model), f"after load {load}"
        if load == 4:
            storage_upkeep_compact(db)
    moved = rows(db, "SELECT count(DISTINCT key) FROM etl_storage.deletes")[0][0]
    assert moved > 0
    # every file in the manifest has its sidecar, and no superseded row is left in the view
    assert {storage_keys.sidecar(p) for (p,) in rows(db, "SELECT path FROM etl_storage.parts")} <= set(sidecars(db))


def storage_upkeep_compact(db: Path) -> None:
    """Every month of grid_reports rewritten as one file (as `python -m etl compact` does)."""
    with writer(db) as con:
        done = storage.compact(con, "grid_reports", None, storage.root_of(con), force=True)
        assert done
        storage.refresh_view(con, "grid_reports")
        storage.record_change(con, "grid_reports", done)


def test_a_key_whose_date_moves_to_another_month_leaves_its_old_month(tmp_path):
    db = tmp_path / "cockpit.duckdb"
    january = {k: (datetime(2026, 1, 10 + k), "处置中") for k in range(1, 11)}   # 1 in 10 moves: no compaction
    load_paths([grid_csv(tmp_path / "a.csv", january)], db, progress=None)
    load_paths([grid_csv(tmp_path / "b.csv", {1: (datetime(2026, 3, 2), "已办结")})], db, progress=None)
    assert view(db) == [("S-00001", datetime(2026, 3, 2), "已办结", 2)] + [
        (f"S-{k:05d}", at, status, 1) for k, (at, status) in january.items() if k != 1]
    assert rows(db, "SELECT p.month_on::VARCHAR, d.key FROM etl_storage.deletes d JOIN etl_storage.parts p USING (path)") == [
        ("2026-01-01", "S-00001")]


@pytest.mark.slow   # several real loads and a forced compaction
def test_keys_rewritten_by_compaction_are_found_in_the_new_file(tmp_path):
    db = tmp_path / "cockpit.duckdb"
    for i in range(3):
        load_paths([grid_csv(tmp_path / f"{i}.csv", {k: (datetime(2026, 5, 1 + k % 20), "处置中")
                                                    for k in range(i * 10, i * 10 + 10)})], db, progress=None)
    storage_upkeep_compact(db)
    (path,), = rows(db, "SELECT path FROM etl_storage.parts")
    assert storage_keys.sidecar(path).exists()
    load_paths([grid_csv(tmp_path / "u.csv", {5: (datetime(2026, 5, 6), "已办结"),
                                              25: (datetime(2026, 5, 6), "已办结")})], db, progress=None)
    assert rows(db, "SELECT key FROM etl_storage.deletes WHERE path = $p ORDER BY 1", {"p": path}) == [
        ("S-00005",), ("S-00025",)]
    assert rows(db, "SELECT count(*), count(*) FILTER (WHERE status = '已办结') FROM grid_reports") == [(30, 2)]


# the fast loop keeps a truncated sidecar; the others: tests/sweep.py left_to_full_run
@pytest.mark.parametrize("damage", [case(d, fast=d == "truncated", id=d)
                                    for d in ("missing", "truncated", "garbage")])
def test_a_database_without_whole_sidecars_gets_them_rebuilt_and_misses_no_key(tmp_path, damage, monkeypatch):
    """A database made before sidecars (or a write that died between a file and its sidecar):
    the next load rebuilds them from the files (a few files at a time); a sidecar is never
    trusted unless it has one hash per row of the manifest."""
    monkeypatch.setattr(storage_keys, "BATCH_ROWS", 12)
    db = tmp_path / "cockpit.duckdb"
    load_paths([grid_csv(tmp_path / "a.csv", {k: (START + timedelta(days=3 * k), "处置中") for k in range(40)})],
               db, progress=None)
    for side in sidecars(db):
        if damage == "missing":
            side.unlink()
        elif damage == "truncated":
            np.save(side, np.load(side)[:-1])
        else:
            side.write_bytes(b"not a numpy file")
    load_paths([grid_csv(tmp_path / "b.csv", {k: (START + timedelta(days=3 * k), "已办结") for k in range(0, 40, 3)})],
               db, progress=None)
    assert rows(db, "SELECT count(*), count(*) FILTER (WHERE status = '已办结') FROM grid_reports") == [(40, 14)]
    for (path, n) in rows(db, "SELECT path, rows FROM etl_storage.parts"):
        assert len(np.load(storage_keys.sidecar(path))) == n


def test_migrate_storage_writes_the_sidecars_an_older_catalog_lacks(tmp_path):
    from etl import lake
    db = tmp_path / "cockpit.duckdb"
    load_paths([grid_csv(tmp_path / "a.csv", {k: (START + timedelta(days=k), "处置中") for k in range(30)})],
               db, progress=None)
    for side in sidecars(db):
        side.unlink()
    lake.migrate(db)
    assert sidecars(db) == sorted(storage_keys.sidecar(p) for (p,) in rows(db, "SELECT path FROM etl_storage.parts"))


@pytest.mark.slow   # several real loads and an undo
def test_undo_then_a_new_load_supersedes_against_the_restored_files_only(tmp_path):
    db = tmp_path / "cockpit.duckdb"
    at = datetime(2026, 6, 1)
    load_paths([grid_csv(tmp_path / "a.csv", {k: (at + timedelta(days=k), "处置中") for k in range(10)})], db, progress=None)
    load_paths([grid_csv(tmp_path / "b.csv", {k: (at + timedelta(days=k), "已办结") for k in range(5, 15)})], db, progress=None)
    versions.rollback(versions.plan_rollback(2, db), "tester", db)
    assert rows(db, "SELECT count(*), count(*) FILTER (WHERE status = '处置中') FROM grid_reports") == [(10, 10)]
    assert rows(db, "SELECT count(*) FROM etl_storage.deletes") == [(0,)]
    # the undone load's files (and their sidecars) are still on disk, but not in this catalog
    load_paths([grid_csv(tmp_path / "c.csv", {k: (at + timedelta(days=k), "待受理") for k in range(8, 12)})], db, progress=None)
    assert rows(db, "SELECT report_id, status FROM grid_reports WHERE report_id >= 'S-00007' ORDER BY 1") == [
        ("S-00007", "处置中"), ("S-00008", "待受理"), ("S-00009", "待受理"), ("S-00010", "待受理"), ("S-00011", "待受理")]
    live = {p for (p,) in rows(db, "SELECT path FROM etl_storage.parts")}
    assert all(p in live for (p,) in rows(db, "SELECT DISTINCT path FROM etl_storage.deletes"))


@left_to_full_run
def test_garbage_collection_removes_a_sidecar_with_its_file(tmp_path, monkeypatch):
    monkeypatch.setenv(versions.KEEP_ENV, "0")          # no kept catalog holds the old files
    db = tmp_path / "cockpit.duckdb"
    at = datetime(2026, 6, 1)
    load_paths([grid_csv(tmp_path / "a.csv", {k: (at, "处置中") for k in range(5)})], db, progress=None)
    first = sidecars(db)
    storage_upkeep_compact(db)                          # the month is rewritten: the first file is garbage
    removed = storage_upkeep.collect_garbage(db, dbfile.catalogs(db), grace_s=0)
    assert [storage_keys.sidecar(p) for p in removed] == first
    assert not any(s.exists() for s in first)
    assert sidecars(db) == [storage_keys.sidecar(p) for (p,) in rows(db, "SELECT path FROM etl_storage.parts")]


# ---- the record tables that grow with the months, as Parquet parts ---------------------------

EVAL_COLUMNS = ["evaluation_id", "project_id", "submitted_at", "rating", "comment", "resident_pseudonym"]


def upsert_evaluations(db: Path, ids: range, rating: int, load_id: int) -> None:
    with writer(db) as con:
        con.execute("CREATE TEMP TABLE _clean AS SELECT 'E-' || i AS evaluation_id, 'P-1' AS project_id, "
                    "TIMESTAMP '2026-01-15' + to_days(CAST(i * 7 AS INTEGER)) AS submitted_at, "
                    "CAST($r AS TINYINT) AS rating, NULL AS comment, 'anon' AS resident_pseudonym "
                    "FROM range($a, $b) t(i)", {"r": rating, "a": ids.start, "b": ids.stop})
        storage.upsert(con, "evaluations", "temp._clean", EVAL_COLUMNS, load_id)
        con.execute("DROP TABLE temp._clean")


@left_to_full_run
def test_record_tables_that_grow_are_parts_and_leave_the_catalog(tmp_path):
    db = tmp_path / "cockpit.duckdb"
    upsert_evaluations(db, range(0, 30), 5, 1)
    upsert_evaluations(db, range(20, 40), 2, 2)
    for table in ("evaluations", "fund_transactions", "usability_ratings", "redemptions"):
        assert rows(db, "SELECT table_type FROM information_schema.tables WHERE table_name = $t",
                    {"t": table}) == [("VIEW",)]
        assert rows(db, "SELECT count(*) FROM duckdb_tables() WHERE table_name = $t", {"t": table}) == [(0,)]
    assert rows(db, "SELECT rating, count(*) FROM evaluations GROUP BY 1 ORDER BY 1") == [(2, 20), (5, 20)]
    assert rows(db, "SELECT count(*), count(DISTINCT evaluation_id) FROM evaluations") == [(40, 40)]
    assert rows(db, "SELECT evaluation_id, rating, source_load_id FROM evaluations WHERE evaluation_id IN "
                    "('E-19', 'E-20', 'E-29', 'E-30') ORDER BY 1") == [
        ("E-19", 5, 1), ("E-20", 2, 2), ("E-29", 2, 2), ("E-30", 2, 2)]
    with duckdb.connect() as con:               # the view has the types of etl/schema.sql
        con.execute(dbfile.SCHEMA_SQL.read_text(encoding="utf-8"))
        declared = con.execute("SELECT column_name, column_type FROM (DESCRIBE evaluations)").fetchall()
    assert rows(db, "SELECT column_name, column_type FROM (DESCRIBE evaluations)") == declared


@pytest.mark.slow   # several real loads and a migration (the fast loop keeps the missing-sidecar rebuilds)
def test_an_older_catalog_with_record_tables_inside_is_moved_out_by_its_next_write(tmp_path, monkeypatch):
    db = tmp_path / "cockpit.duckdb"
    with duckdb.connect(str(db)) as con:
        ensure_schema(con)
        con.execute("INSERT INTO fund_transactions (txn_id, txn_on, project_id, direction, amount_yuan, in_kind, "
                    "source_load_id) SELECT 'T-' || i, DATE '2025-01-01' + CAST(i AS INTEGER), 'P-1', 'out', "
                    "i * 1.5, FALSE, 1 FROM range(500) t(i)")
        before = con.execute("SELECT * FROM fund_transactions ORDER BY txn_id").fetchall()
    load_paths([grid_csv(tmp_path / "a.csv", {1: (START, "处置中")})], db, progress=None)
    assert rows(db, "SELECT * FROM fund_transactions ORDER BY txn_id") == before
    assert rows(db, "SELECT count(DISTINCT month_on) FROM etl_storage.parts WHERE table_name = 'fund_transactions'") == [(17,)]
    monkeypatch.setenv("COCKPIT_DB", str(db))
    from dashboard import db as dashboard_db
    con = dashboard_db.connect()                        # the sandboxed reader reads the new parts
    try:
        assert con.execute("SELECT count(*), sum(amount_yuan) FROM fund_transactions").fetchone() == (
            500, sum(r[7] for r in before))
    finally:
        con.close()


@left_to_full_run
def test_an_upsert_writes_straight_from_its_source_and_leaves_what_it_superseded(tmp_path, monkeypatch):
    """No temporary copy of the source (etl_upsert) is made; temp.etl_superseded, kept after the
    upsert for the summary marts' delta, holds exactly the (file, key) pairs it added to
    etl_storage.deletes (no compaction here: it would drop the pairs of the months it rewrites):
    the stored rows whose key came again, each in the file that held its current row."""
    monkeypatch.setattr(storage, "COMPACT_DELETED", 2.0)
    db = tmp_path / "c.duckdb"
    upsert_evaluations(db, range(0, 200), 3, 1)          # spread over about four months
    upsert_evaluations(db, range(150, 260), 4, 2)        # 50 of them again, 60 new
    with writer(db) as con:
        before = set(con.execute("SELECT path, key FROM etl_storage.deletes").fetchall())
        con.execute("CREATE TEMP TABLE _clean AS SELECT 'E-' || i AS evaluation_id, 'P-1' AS project_id, "
                    "TIMESTAMP '2026-01-15' + to_days(CAST(i * 7 AS INTEGER)) AS submitted_at, "
                    "CAST(5 AS TINYINT) AS rating, NULL AS comment, 'anon' AS resident_pseudonym "
                    "FROM range(100, 180) t(i)")
        assert storage.upsert(con, "evaluations", "temp._clean", EVAL_COLUMNS, 3) == 80
        temps = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE temporary").fetchall()}
        assert "etl_upsert" not in temps and "etl_hits" not in temps
        left = con.execute("SELECT path, key FROM temp.etl_superseded").fetchall()
        added = set(con.execute("SELECT path, key FROM etl_storage.deletes").fetchall()) - before
        assert len(left) == len(set(left)) == 80 and set(left) == added
        # keys 150-179 were last written by load 2, keys 100-149 by load 1: each pair names the
        # file that held the key's current row
        owner = dict(con.execute("SELECT path, load_id FROM etl_storage.parts").fetchall())
        assert {k for p, k in left if owner[p] == 2} == {f"E-{i}" for i in range(150, 180)}
        assert {k for p, k in left if owner[p] == 1} == {f"E-{i}" for i in range(100, 150)}
        con.execute("DROP TABLE temp._clean")
    assert rows(db, "SELECT count(*), count(*) FILTER (WHERE rating = 5) FROM evaluations") == [(260, 80)]


def dated_csv(path: Path, records: dict[str, tuple[datetime, str]]) -> Path:
    """A grid export keyed by the office's dated case numbers: key -> (reported_at, status)."""
    lines = [f"{k},{at:%Y-%m-%d %H:%M:%S},清河街道,毛纺北社区,QH-01-01,噪音扰民,夜间施工,{status}\n"
             for k, (at, status) in records.items()]
    path.write_text(HEADER + "".join(lines), encoding="utf-8")
    return path


@left_to_full_run
def test_each_stored_file_is_searched_only_for_the_keys_in_its_key_range(tmp_path, monkeypatch):
    """Dated case numbers put each month's file in its own key range: a load of November's
    cases searches October's file for none of them, and still supersedes every re-sent case,
    also one whose date moved into a month with no file of its key range."""
    db = tmp_path / "cockpit.duckdb"
    first = {f"SJ{at:%Y%m%d}{i:04d}": (at, "处置中")
             for i, at in enumerate(START + timedelta(days=d, hours=h) for d in range(0, 60, 3) for h in (1, 5))}
    load_paths([dated_csv(tmp_path / "a.csv", first)], db, progress=None)
    model = {k: (at, s, 1) for k, (at, s) in first.items()}
    november = {k: (at, "已办结") for k, (at, _) in list(first.items())[:3]}   # few: no compaction
    moved = next(k for k, (at, _) in first.items() if at.month == 12)       # its date moves to January
    second = {**november, moved: (datetime(2026, 1, 20, 9), "已办结"),
              "SJ202511309999": (datetime(2025, 11, 30, 9), "待受理")}
    searched = []                                  # (stored file, hashes searched in it)
    real = storage_keys.matches

    def spy(con, key, files, incoming, pairs):
        searched.extend((files[i][0], sum(len(incoming[n]) for n in news)) for i, news in enumerate(pairs) if news)
        return real(con, key, files, incoming, pairs)
    monkeypatch.setattr(storage_keys, "matches", spy)
    load_paths([dated_csv(tmp_path / "b.csv", second)], db, progress=None)
    model.update({k: (at, s, 2) for k, (at, s) in second.items()})
    assert rows(db, "SELECT report_id, reported_at, status, source_load_id FROM grid_reports ORDER BY 1") == \
        [(k, at, s, n) for k, (at, s, n) in sorted(model.items())]
    with reading(db) as con:
        current = [r[0] for r in con.execute("SELECT path FROM etl_storage.parts WHERE load_id = 1 "
                                             "ORDER BY month_on").fetchall()]
    # November's file: the new November file's 4 keys (3 re-sent, one new case of Nov 30);
    # December's: the new January file's one key (the moved case, numbered in December); each
    # stored file never searched for the other month's keys, instead of all 5 keys in each
    assert len(current) == 2 and sorted(searched) == sorted(zip(current, [4, 1]))


def test_keys_too_long_for_exact_statistics_are_searched_in_every_file(tmp_path):
    """A key over 256 bytes gets inexact (truncated) Parquet statistics: no range is trusted,
    the file is searched for every incoming key, and the re-sent case is still superseded."""
    db = tmp_path / "cockpit.duckdb"
    long = "长" * 100   # 300 bytes of UTF-8
    first = {f"{long}{i:03d}": (START + timedelta(days=i), "处置中") for i in range(40)}
    load_paths([dated_csv(tmp_path / "a.csv", first)], db, progress=None)
    second = {f"{long}{i:03d}": (START + timedelta(days=i), "已办结") for i in range(0, 40, 7)}
    load_paths([dated_csv(tmp_path / "b.csv", second)], db, progress=None)
    with reading(db) as con:
        files = [r[0] for r in con.execute("SELECT path FROM etl_storage.parts WHERE load_id = 1").fetchall()]
        new = [r[0] for r in con.execute("SELECT path FROM etl_storage.parts WHERE load_id = 2").fetchall()]
        assert files and new and storage_keys.ranges(con, "report_id", files + new) == {}
        assert storage_keys.pairs({}, files, new) == [list(range(len(new)))] * len(files)
    got = rows(db, "SELECT status, count(*) FROM grid_reports GROUP BY 1 ORDER BY 1")
    assert got == sorted([("处置中", 40 - len(second)), ("已办结", len(second))])


@left_to_full_run
def test_a_load_whose_key_range_meets_no_stored_file_searches_no_sidecar(tmp_path, monkeypatch):
    """Next month's cases (dated numbers past every stored one): the ranges alone show that no
    stored row is superseded, so no sidecar is searched; a later re-sent case is still found."""
    db = tmp_path / "cockpit.duckdb"
    november = {f"SJ202511{d:02d}{i:04d}": (datetime(2025, 11, d, 9), "处置中") for d in range(1, 29, 3) for i in range(3)}
    load_paths([dated_csv(tmp_path / "a.csv", november)], db, progress=None)
    searched = []
    real = storage_keys.matches
    monkeypatch.setattr(storage_keys, "matches", lambda *a, **k: searched.append(1) or real(*a, **k))
    december = {f"SJ202512{d:02d}{i:04d}": (datetime(2025, 12, d, 9), "待受理") for d in range(1, 29, 3) for i in range(3)}
    load_paths([dated_csv(tmp_path / "b.csv", december)], db, progress=None)
    assert searched == []
    assert rows(db, "SELECT count(*) FROM grid_reports")[0][0] == len(november) + len(december)
    again = dict(list(november.items())[:2])
    load_paths([dated_csv(tmp_path / "c.csv", {k: (at, "已办结") for k, (at, _) in again.items()})], db, progress=None)
    assert searched == [1]
    assert rows(db, "SELECT report_id FROM grid_reports WHERE status = '已办结' ORDER BY 1") == [(k,) for k in sorted(again)]
    assert rows(db, "SELECT count(*) FROM grid_reports")[0][0] == len(november) + len(december)


def test_only_the_new_files_with_a_hit_are_read_back_and_a_key_found_in_a_later_month_is_superseded(tmp_path, monkeypatch):
    """The search uses the new files' own sidecars: their keys are read back (to name the rows
    found) only from the new files that had a hit. A re-sent case whose number dates it in
    December but whose report moved to February (a month that had no file) is still found in
    December's file, and a December key never sent before supersedes nothing."""
    monkeypatch.setattr(storage, "COMPACT_DELETED", 2.0)      # keep the files the pairs name
    db = tmp_path / "cockpit.duckdb"
    first = {f"SJ{at:%Y%m%d}{i:04d}": (at, "处置中")
             for i, at in enumerate(START + timedelta(days=d, hours=h) for d in range(0, 75, 2) for h in (1, 7))}
    load_paths([dated_csv(tmp_path / "a.csv", first)], db, progress=None)
    december = [k for k, (at, _) in first.items() if at.month == 12]
    moved = december[3]
    second = {moved: (datetime(2026, 2, 10, 9), "已办结"),                       # found, in a new month
              "SJ202512150777": (datetime(2025, 12, 15, 9), "待受理"),           # December, new
              **{f"SJ202601{d:02d}{i:04d}": (datetime(2026, 1, d, 9), "待受理")   # January, all new
                 for d in range(1, 28, 2) for i in range(3)}}
    read_back = []
    real = storage_keys.matches

    def spy(*args, **kwargs):
        numbers, found, hit_new = real(*args, **kwargs)
        read_back.append((len(numbers), len(hit_new)))
        return numbers, found, hit_new
    monkeypatch.setattr(storage_keys, "matches", spy)
    load_paths([dated_csv(tmp_path / "b.csv", second)], db, progress=None)
    # one hit, from one of the load's new files (February's), though three were written
    assert read_back == [(1, 1)]
    assert rows(db, "SELECT count(DISTINCT month_on) FROM etl_storage.parts WHERE load_id = 2") == [(3,)]
    assert rows(db, "SELECT d.key, p.month_on, p.load_id FROM etl_storage.deletes d "
                    "JOIN etl_storage.parts p USING (path)") == [(moved, datetime(2025, 12, 1).date(), 1)]
    model = {**{k: (at, s, 1) for k, (at, s) in first.items()}, **{k: (at, s, 2) for k, (at, s) in second.items()}}
    assert rows(db, "SELECT report_id, reported_at, status, source_load_id FROM grid_reports ORDER BY 1") == \
        [(k, at, s, n) for k, (at, s, n) in sorted(model.items())]


_NO_PANDAS_LOAD = """
import sys
from pathlib import Path
from etl.load import load_paths
first, second, db = (Path(p) for p in sys.argv[1:])
for path in (first, second):
    res = load_paths([path], db, progress=None)
    assert [r.status for r in res] == ["loaded"], res
print("pandas" in sys.modules)
"""


@left_to_full_run
def test_a_csv_load_with_rejects_and_superseded_keys_imports_no_pandas(tmp_path):
    """The rejects and the supersede search's hits reach DuckDB as numpy arrays: registering a
    DataFrame or an Arrow table makes DuckDB import pandas, 0.35-0.4 s of CPU a load paid for
    two small tables (docs/BENCHMARKS.md, section 1). The rows they carry are checked too."""
    first = grid_csv(tmp_path / "a.csv", {k: (START + timedelta(days=k), "处置中") for k in range(120)})
    # five of December's 31 keys again (too few for the month to be compacted), ten new ones
    second = grid_csv(tmp_path / "b.csv", {k: (START + timedelta(days=k), "已办结")
                                           for k in [*range(30, 35), *range(200, 210)]})
    with open(second, "a", encoding="utf-8") as f:     # one row whose date does not parse
        f.write("S-09999,不是日期,清河街道,毛纺北社区,QH-01-01,噪音扰民,夜间施工,处置中\n")
    db = tmp_path / "cockpit.duckdb"
    repo = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", _NO_PANDAS_LOAD, str(first), str(second), str(db)],
                         cwd=repo, capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False"
    assert rows(db, "SELECT key FROM etl_storage.deletes ORDER BY 1") == [(f"S-{k:05d}",) for k in range(30, 35)]
    assert rows(db, "SELECT count(*), count(DISTINCT report_id), count(*) FILTER (status = '已办结') "
                    "FROM grid_reports") == [(130, 130, 15)]
    assert rows(db, "SELECT row_number, column_name, reason, path LIKE '%b.csv', "
                    "original_values LIKE '%S-09999%' FROM etl_rejects") == [
        (17, "上报时间", "unparseable date", True, True)]
