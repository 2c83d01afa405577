"""An undo (etl/versions.py rollback) restores a kept catalog without rebuilding its summary
marts when that catalog was built by the same marts models (its etl_meta says so): its
summaries then already match its records. Checked, not assumed: after the undo the
summaries equal a full rebuild of the restored catalog. A kept catalog made by other models
gets the full rebuild."""
from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

from etl import marts, versions
from shared_readers import reading
from tests.test_marts_delta import (FEEDBACK_HEADER, GRID_HEADER, START, assert_same_as_rebuild, feedback_row,
                                    first_load, grid_row, load, write)


@pytest.fixture
def builds(monkeypatch):
    """The `changed` each rollback's marts build was given (the real build runs)."""
    seen: list = []
    real = versions.build_marts

    def observed(con, changed):
        seen.append(changed)
        return real(con, changed)
    monkeypatch.setattr(versions, "build_marts", observed)
    return seen


def _three_loads(tmp_path: Path) -> Path:
    rng = random.Random(5)
    keys = [f"G{i:04d}" for i in range(400)]
    db = first_load(tmp_path, rng, keys, messages=150, name="g1.csv")
    # updates in every month (status, category, community, closing times) and new keys
    assert load(db, write(tmp_path, "g2.csv", GRID_HEADER, [grid_row(rng, k) for k in rng.sample(keys, 200)]
                          + [grid_row(rng, f"N{i}", START + timedelta(days=100 + i)) for i in range(50)])) == ["loaded"]
    assert load(db, write(tmp_path, "g3.csv", GRID_HEADER, [grid_row(rng, k) for k in rng.sample(keys, 150)]),
                write(tmp_path, "f3.csv", FEEDBACK_HEADER, [feedback_row(rng, f"F{i}") for i in range(50, 120)])
                ) == ["loaded", "loaded"]
    return db


def _undo_last(db: Path, steps: int = 1) -> None:
    with reading(db) as con:
        ids = [r[0] for r in con.execute("SELECT load_id FROM etl_loads WHERE status = 'loaded' "
                                         "ORDER BY load_id DESC").fetchall()]
    versions.rollback(versions.plan_rollback(ids[steps - 1], db), by="test", live=db)


@pytest.mark.slow   # several real loads and an undo (the fast loop keeps tests/test_storage.py undo)
def test_an_undo_keeps_the_restored_summaries_and_they_match_a_full_rebuild(tmp_path, builds):
    db = _three_loads(tmp_path)
    _undo_last(db, steps=2)     # back to the catalog before the last command (two files)
    assert builds == [{}], builds
    assert_same_as_rebuild(db)
    with reading(db) as con:
        assert con.execute("SELECT count(*) FROM grid_reports WHERE report_id LIKE 'N%'").fetchone()[0] == 50
        assert marts.current(con)
    _undo_last(db)              # and once more: back before the update of every month
    assert builds == [{}, {}], builds
    assert_same_as_rebuild(db)
    with reading(db) as con:
        assert con.execute("SELECT count(*) FROM grid_reports WHERE report_id LIKE 'N%'").fetchone()[0] == 0


@pytest.mark.slow   # several real loads and an undo
def test_an_undo_to_a_catalog_made_by_other_models_rebuilds_its_summaries(tmp_path, builds):
    db = _three_loads(tmp_path)
    for kept in versions.versions_dir(db).glob("*.duckdb"):   # as if kept by an older marts layer
        with duckdb.connect(str(kept)) as con:
            con.execute("UPDATE etl_meta SET value = 'older-models' WHERE key = $k", {"k": marts.VERSION_KEY})
            con.execute("UPDATE grid_daily SET reports = reports + 1")   # ... whose summaries differ
    _undo_last(db)
    assert builds == [None], builds
    assert_same_as_rebuild(db)
