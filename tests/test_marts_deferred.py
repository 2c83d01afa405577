"""A command's writes taken into the appended summaries once, at its end
(etl/marts/appended.py `apply_deferred`): the files of one command that add to the same group
append one row for it, not one per file; a row written by one file of the command, moved into
a new file by that file's compaction and then superseded by a later file of the same command,
counts once, not twice and not never; every summary still equals a full rebuild."""
from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest
from test_marts_delta import (FEEDBACK_HEADER, GRID_HEADER, START, assert_same_as_rebuild, feedback_row,
                              grid_row, load, write)

from etl import storage
from etl.marts import appended

GROUP_ROWS = ("SELECT count(*), sum(reports) FROM grid_daily WHERE day_on = DATE '2026-03-20' "
              "AND community = '孤岛社区' AND grid_id = 'QH-99-01' AND category = '孤类'")
WRITTEN = "SELECT path FROM temp." + appended.WRITTEN
GONE = "SELECT path, key FROM temp." + appended.GONE


def _line(key: str, reported: str) -> str:
    return ",".join((key, reported, "清河街道", "孤岛社区", "QH-99-01", "孤类", "描述", "处置中", "", ""))


def _base(tmp_path: Path, rng: random.Random, keys: list[str]) -> Path:
    """A database with grid reports (one of them in GROUP) and messages, summaries built."""
    db = tmp_path / "cockpit.duckdb"
    grid = [grid_row(rng, k) for k in keys] + [_line("LONE0", "2026/03/20 08:00:00")]
    assert load(db, write(tmp_path, "g0.csv", GRID_HEADER, grid),
                write(tmp_path, "f0.csv", FEEDBACK_HEADER, [feedback_row(rng, f"F{i}") for i in range(120)])
                ) == ["loaded", "loaded"]
    return db


def _group_rows(db: Path) -> tuple[int, int]:
    """(rows, summed reports) of one group of grid_daily: 2026-03-20, 孤岛社区, QH-99-01, 孤类."""
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(GROUP_ROWS).fetchone()


def test_the_files_of_one_command_append_one_row_per_group(tmp_path, applied):
    rng = random.Random(21)
    keys = [f"G{i:04d}" for i in range(300)]
    db = _base(tmp_path, rng, keys)
    assert _group_rows(db) == (1, 1)
    # two files of one command each add a case to GROUP; the second also updates one of the
    # first file's cases (moved out of GROUP) and stored cases
    first = [_line("LONE1", "2026/03/20 09:00:00"), _line("LONE2", "2026/03/20 10:00:00")]
    second = [_line("LONE3", "2026/03/20 11:00:00"),
              grid_row(rng, "LONE2", START + timedelta(days=40))] + [grid_row(rng, k) for k in rng.sample(keys, 50)]
    applied.clear()
    assert load(db, write(tmp_path, "g1.csv", GRID_HEADER, first),
                write(tmp_path, "g2.csv", GRID_HEADER, second)) == ["loaded", "loaded"]
    assert ("grid_daily", True) in applied            # the delta, not a rebuild of the months
    # one appended row for the command (one per file before): LONE0 + LONE1 + LONE3
    assert _group_rows(db) == (2, 3)
    assert_same_as_rebuild(db)


@pytest.mark.slow   # two loads with a compaction at every write
def test_a_row_moved_by_the_commands_compaction_then_superseded_counts_once(tmp_path, applied, monkeypatch):
    monkeypatch.setattr(storage, "COMPACT_FILES", 1)    # every write compacts the months it touched
    rng = random.Random(23)
    keys = [f"G{i:04d}" for i in range(300)]
    db = _base(tmp_path, rng, keys)
    with duckdb.connect(str(db), read_only=True) as con:
        before = {r[0] for r in con.execute("SELECT path FROM etl_storage.parts").fetchall()}
        march = [r[0] for r in con.execute("SELECT report_id FROM grid_reports WHERE month(reported_at) = 3 "
                                           "AND report_id LIKE 'G%' ORDER BY 1").fetchall()]
    in_march = lambda: START + timedelta(days=rng.randrange(0, 28), hours=3)   # noqa: E731
    new = [f"N{i:03d}" for i in range(20)]
    a = [grid_row(rng, k, in_march()) for k in new + march[:30]]
    b = [grid_row(rng, k, in_march()) for k in new[:10] + march[20:40]]   # A's new, A's updated and untouched
    seen = {}
    real = appended.apply_deferred

    def observed(con):
        seen["written"] = {r[0] for r in con.execute(WRITTEN).fetchall()}
        seen["gone"] = con.execute(GONE).fetchall()
        return real(con)
    monkeypatch.setattr(appended, "apply_deferred", observed)
    applied.clear()
    assert load(db, write(tmp_path, "a.csv", GRID_HEADER, a), write(tmp_path, "b.csv", GRID_HEADER, b)
                ) == ["loaded", "loaded"]
    assert ("grid_daily", True) in applied
    # B superseded rows of A's own that A's compaction had moved into a file of neither
    moved = {key for path, key in seen["gone"] if path not in before and path not in seen["written"]}
    assert set(new[:10]) <= moved, seen["gone"]
    assert_same_as_rebuild(db)
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM grid_reports WHERE report_id LIKE 'N%'").fetchone()[0] == 20
