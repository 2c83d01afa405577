"""A marts rebuild leaves a compact catalog: it replaces every summary, whose old blocks would stay
in the file every later write copies, so it asks the writer to rewrite the file with its live
blocks only (writer(compact=True) / vacuum_copy); any write does the same when half the file is
free blocks (storage_upkeep.bloated), and a write that frees little does not pay for it."""
from __future__ import annotations

import random

import duckdb

from etl import dbfile, marts, storage_upkeep
from shared_readers import reading
from tests.test_marts_delta import GRID_HEADER, differences, grid_row, load, write
from sweep import left_to_full_run


def _free_blocks(db) -> tuple[int, int]:
    with reading(db) as con:
        return con.execute("SELECT free_blocks, total_blocks FROM pragma_database_size()"
                           " WHERE database_name = current_database()").fetchone()


def test_bloated_sees_the_space_a_dropped_table_leaves(tmp_path, monkeypatch):
    monkeypatch.setattr(storage_upkeep, "BLOAT_MIN_BYTES", 1 << 20)   # a test-sized table
    with duckdb.connect(str(tmp_path / "c.duckdb")) as con:
        con.execute("CREATE TABLE big AS SELECT range AS i, md5(range::VARCHAR) AS s FROM range(150000)")
        con.execute("CHECKPOINT")
        con.execute("CREATE TABLE small AS SELECT range AS i FROM range(100000)")
        con.execute("CHECKPOINT")
        assert not storage_upkeep.bloated(con)
        con.execute("DROP TABLE big")
        con.execute("CHECKPOINT")
        assert storage_upkeep.bloated(con)


@left_to_full_run
def test_a_marts_rebuild_leaves_a_compact_catalog_with_the_same_marts(tmp_path, monkeypatch):
    rng = random.Random(5)
    db = tmp_path / "cockpit.duckdb"
    assert load(db, write(tmp_path, "g.csv", GRID_HEADER, [grid_row(rng, f"G{i}") for i in range(400)])) == ["loaded"]
    calls = []
    real = storage_upkeep.vacuum_copy
    monkeypatch.setattr(storage_upkeep, "vacuum_copy", lambda src, dst: (calls.append(src), real(src, dst)))
    marts.rebuild(db)
    assert calls, "the rebuild did not compact the catalog it wrote"
    free, total = _free_blocks(db)
    assert free == 0 and total > 0
    after = differences(db)
    assert after["grid_daily"] == 0 and after["grid_daily rows"] > 10, after
    # a write that frees nothing worth it does not compact
    calls.clear()
    with dbfile.writer(db):
        pass
    assert not calls
