"""`python -m etl lake-export` and `migrate-storage`: the database as a Hive-layout Parquet lake
that another engine (pyarrow's dataset reader here, Spark or Trino in a city) reads unchanged."""
from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow.dataset as ds
import pytest

from etl import storage
from etl.__main__ import main
from etl.dbfile import ensure_schema
from etl.load import load_paths
from shared_readers import reading

HEADER = "事件编号,上报时间,街道,社区,网格编号,事件类型,事件描述,处置状态\n"


def grid_csv(path: Path, ids: range, at: datetime, status: str) -> Path:
    rows = [f"L-{i:05d},{(at + timedelta(hours=7 * i)):%Y-%m-%d %H:%M:%S},清河街道,毛纺北社区,"
            f"QH-01-01,噪音扰民,夜间施工,{status}\n" for i in ids]
    path.write_text(HEADER + "".join(rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Path:
    """Loaded once per module: the tests export it and read it, never write it."""
    folder = tmp_path_factory.mktemp("lake_db")
    path = folder / "cockpit.duckdb"
    at = datetime(2026, 9, 1)
    load_paths([grid_csv(folder / "a.csv", range(300), at, "处置中")], path, progress=None)
    # an update of 30 stored rows: their month now has superseded rows
    load_paths([grid_csv(folder / "b.csv", range(270, 300), at, "已办结")], path, progress=None)
    return path


def test_lake_export_is_hive_layout_that_pyarrow_reads_as_the_view(db, tmp_path, capsys):
    out = tmp_path / "lake"
    assert main(["lake-export", str(out), "--db", str(db)]) == 0
    assert "Hive layout" in capsys.readouterr().out
    months = sorted(p.name for p in (out / "grid_reports").iterdir())
    assert months == ["month=2026-09", "month=2026-10", "month=2026-11"]
    assert all(f.name.startswith("part-") for m in (out / "grid_reports").iterdir() for f in m.iterdir())
    lake = ds.dataset(out / "grid_reports", format="parquet", partitioning="hive").to_table().to_pandas()
    with reading(db) as con:
        view = con.execute("SELECT report_id, status, strftime(reported_at, '%Y-%m') AS month "
                           "FROM grid_reports ORDER BY report_id").df()
        projects_n = con.execute("SELECT count(*) FROM etl_loads").fetchone()[0]
    lake = lake.sort_values("report_id").reset_index(drop=True)
    assert lake["report_id"].tolist() == view["report_id"].tolist()          # superseded rows left out
    assert lake["status"].tolist() == view["status"].tolist()
    assert lake["month"].astype(str).tolist() == view["month"].tolist()
    assert (lake["status"] == "已办结").sum() == 30
    # the small tables too, one file each; the manifest and settings stay home
    assert len(ds.dataset(out / "etl_loads", format="parquet").to_table()) == projects_n
    assert (out / "projects" / "part-0000.parquet").exists()
    assert not (out / "etl_storage.parts").exists() and not (out / "etl_meta").exists()
    assert main(["lake-export", str(out), "--db", str(db)]) == 1          # never into an existing folder


def test_clean_months_are_hard_links_of_the_database_files(db, tmp_path):
    from etl.lake import lake_export
    lake_export(db, tmp_path / "lake")
    with reading(db) as con:
        clean = {r[0] for r in con.execute(
            "SELECT path FROM etl_storage.parts WHERE month_on NOT IN (SELECT month_on FROM etl_storage.parts "
            "WHERE path IN (SELECT path FROM etl_storage.deletes))").fetchall()}
    inodes = {Path(p).stat().st_ino for p in clean}
    exported = {p.stat().st_ino for p in (tmp_path / "lake" / "grid_reports").rglob("*.parquet")}
    assert inodes and inodes <= exported


@pytest.mark.slow   # several real loads and a migration
def test_migrate_storage_moves_the_big_tables_out_and_keeps_every_row(tmp_path, capsys):
    db = tmp_path / "old.duckdb"
    with duckdb.connect(str(db)) as con:
        ensure_schema(con)
        con.execute("""INSERT INTO grid_reports (report_id, reported_at, community, grid_id, category,
                       status, description, source_load_id)
                       SELECT 'OLD-' || i, TIMESTAMP '2025-01-01' + to_days((i % 400)::INT), '毛纺北社区',
                       'QH', '噪音扰民', '已办结', md5(i::VARCHAR) || repeat('描述', 40), 1
                       FROM range(60000) t(i)""")
        con.execute("""INSERT INTO feedback (feedback_id, submitted_at, text, source_load_id)
                       SELECT 'F-' || i, TIMESTAMP '2025-03-01' + to_days((i % 90)::INT),
                       md5(i::VARCHAR) || repeat('留言', 40), 1 FROM range(30000) t(i)""")
        expected = con.execute("SELECT sum(hash(report_id, reported_at, description)) FROM grid_reports").fetchone()
        con.execute("CHECKPOINT")
    before = db.stat().st_size
    assert main(["migrate-storage", "--db", str(db)]) == 0
    assert "grid_reports" in capsys.readouterr().out
    assert db.stat().st_size < before      # the rows left (the summary marts stay in the catalog)
    with reading(db) as con:
        assert con.execute("SELECT sum(hash(report_id, reported_at, description)) FROM grid_reports").fetchone() == expected
        assert con.execute("SELECT count(*) FROM feedback").fetchone()[0] == 30000
        kinds = dict(con.execute("SELECT table_name, table_type FROM information_schema.tables").fetchall())
    assert {kinds[t] for t in (*storage.PARTITIONED, *storage.WHOLE)} == {"VIEW"}
