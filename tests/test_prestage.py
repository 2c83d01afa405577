"""The next file typed in the background (etl/prestage.py) loads exactly as it would alone.

Each multi-file load here is compared with the same files loaded one command each (a single
file is never typed in the background): the records, the rejects (file, row, column, reason,
original values) and the lineage must be the same, and the background typing must really have
been used (a spy on `Prestager.take`), so the comparison is not between two ordinary loads.
"""
from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

import etl.extract as extract
from etl import prestage, stage
from etl.load import load_paths
from etl.marts import appended
from shared_readers import reading
from sweep import left_to_full_run

HEADER = "事件编号,上报时间,街道,社区,网格编号,事件类型,事件描述,处置状态,办结时间,满意度,备注\n"


def _row(key: str, day: int, status: str = "处置中", note: str = "", text: str = "夜间施工") -> str:
    return f"{key},2025-04-{day:02d} 08:00:00,清河街道,清河一社区,QH-01-01,噪音扰民,{text},{status},,,{note}\n"


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def _state(db: Path) -> dict:
    with duckdb.connect(str(db), read_only=True) as con:   # its own instance: the databases it lists
        return {
            "records": con.execute("SELECT * EXCLUDE (source_load_id) FROM grid_reports ORDER BY report_id").fetchall(),
            "rejects": con.execute("SELECT regexp_extract(path, '[^/]+$'), row_number, column_name, reason, "
                                   "original_values FROM etl_rejects ORDER BY ALL").fetchall(),
            "loads": con.execute("SELECT regexp_extract(path, '[^/]+$'), rows_read, rows_loaded, rows_rejected, "
                                 "status FROM etl_loads ORDER BY load_id").fetchall(),
            # a group of grid_daily may span several rows until compacted (etl/marts/appended.py):
            # compared as summed groups, what every reader sees
            "daily": con.execute("SELECT * FROM (" + appended.grouped_sql(con, "grid_daily", "main.grid_daily")
                                 + ") ORDER BY ALL").fetchall(),
            "databases": sorted(r[0] for r in con.execute("SELECT database_name FROM duckdb_databases()").fetchall()),
        }


@pytest.fixture
def taken(monkeypatch) -> list[str | None]:
    """The tables the loader took from the background typing, in file order (None: staged itself)."""
    seen: list[str | None] = []
    original = prestage.Prestager.take

    def spy(self, index):
        table = original(self, index)
        seen.append(table)
        return table
    monkeypatch.setattr(prestage.Prestager, "take", spy)
    return seen


def _files(tmp_path: Path) -> list[Path]:
    first = _write(tmp_path / "a.csv", HEADER + "".join(_row(f"G-{i}", 1 + i % 20) for i in range(40)))
    second = _write(tmp_path / "b.csv", HEADER + "".join([
        _row("G-3", 21, "已办结", "newer"),                 # supersedes a row of a.csv
        _row("H-1", 22, text="联系电话13812345678"),        # masked
        "H-2,待定,清河街道,清河一社区,QH-01-01,噪音扰民,x,处置中,,,\n",   # unparseable date: rejected
        ",,,,,,,,,,\n",                                      # a blank row: skipped
        _row("H-3", 23, note="first"),
        "H-4,2025-04-23 09:00:00,清河街道,清河一社区,QH-01-01,噪音扰民,x,未知状态,,,电话13812345678\n",
        _row("H-3", 24, "已办结", "last wins"),              # a repeated key: the last row wins
    ]))
    third = _write(tmp_path / "c.csv", HEADER + "".join(_row(f"K-{i}", 25) for i in range(5)), "gbk")
    return [first, second, third]


@left_to_full_run
def test_files_typed_in_the_background_load_as_they_would_alone(tmp_path, taken):
    files = _files(tmp_path)
    alone = tmp_path / "alone" / "cockpit.duckdb"
    for f in files:
        [res] = load_paths([f], alone, progress=None)
        assert res.status == "loaded", res.message
    assert taken == [None, None, None]          # one file per command: nothing typed ahead
    together = tmp_path / "together" / "cockpit.duckdb"
    results = load_paths(files, together, progress=None)
    assert [r.status for r in results] == ["loaded"] * 3, [r.message for r in results]
    assert taken[3] is None and all(taken[4:]), taken   # the 2nd and 3rd files were typed ahead
    assert (results[1].rows_read, results[1].rows_loaded, results[1].rows_rejected) == (6, 3, 2)   # H-3 twice: one row
    a, b = _state(alone), _state(together)
    assert a == b
    assert ("b.csv", 4, "上报时间", "unparseable date") in [r[:4] for r in b["rejects"]]
    assert ("b.csv", 7, "处置状态", "unknown status value") in [r[:4] for r in b["rejects"]]
    assert "138****5678" in next(r[4] for r in b["rejects"] if r[1] == 7)   # the record shown, masked
    assert ("H-3", "已办结") in [(r[0], r[11]) for r in b["records"]]
    assert prestage.SCRATCH not in b["databases"]


def test_a_refused_file_typed_ahead_leaves_nothing_and_the_next_loads(tmp_path, taken):
    good = _write(tmp_path / "a.csv", HEADER + "".join(_row(f"G-{i}", 1 + i) for i in range(5)))
    mostly_bad = _write(tmp_path / "b.csv", HEADER + "".join(
        f"B-{i},never,清河街道,清河一社区,QH-01-01,噪音扰民,x,处置中,,,\n" for i in range(9)) + _row("B-9", 9))
    ragged = _write(tmp_path / "c.csv", HEADER + _row("C-1", 10) + _row("C-2", 11).replace("\n", ",extra\n"))
    last = _write(tmp_path / "d.csv", HEADER + _row("D-1", 12))
    db = tmp_path / "cockpit.duckdb"
    results = load_paths([good, mostly_bad, ragged, last], db, progress=None)
    assert [r.status for r in results] == ["loaded", "refused", "refused", "loaded"]
    assert taken[0] is None and taken[1] is not None and taken[3] is not None
    assert taken[2] is None                    # the ragged file failed in the background: staged again
    assert "line 3 of the file" in results[2].message and "c.csv" in results[2].message
    assert "9 of 10 rows invalid" in results[1].message
    with reading(db) as con:
        assert sorted(r[0] for r in con.execute("SELECT report_id FROM grid_reports").fetchall()) == [
            "D-1", "G-0", "G-1", "G-2", "G-3", "G-4"]
        assert con.execute("SELECT count(*) FROM etl_rejects").fetchone()[0] == 0
        assert prestage.SCRATCH not in [r[0] for r in con.execute("SELECT database_name FROM duckdb_databases()").fetchall()]


@left_to_full_run
def test_a_file_not_utf8_past_its_sample_is_read_as_gbk_after_the_background_typing_fails(
        tmp_path, monkeypatch, taken):
    monkeypatch.setattr(extract, "SAMPLE_BYTES", 64)   # the sample sees only ASCII
    first = _write(tmp_path / "a.csv", HEADER + _row("A-1", 1))
    ascii_header = "report_id,reported_at,street,community,grid_id,category,description,status\n"
    late = _write(tmp_path / "late-gbk.csv", ascii_header + "".join(
        f"L-{i},2025-04-02 08:00:00,x,x,x,x,x,open\n" for i in range(5))
        + "L-9,2025-04-02 08:00:00,清河街道,清河一社区,QH-01-01,噪音扰民,楼道堆物,处置中\n", "gbk")
    db = tmp_path / "cockpit.duckdb"
    results = load_paths([first, late], db, progress=None)
    assert [r.status for r in results] == ["loaded", "loaded"], [r.message for r in results]
    assert taken == [None, None]
    with reading(db) as con:
        assert con.execute("SELECT community, description FROM grid_reports WHERE report_id = 'L-9'").fetchall() == [
            ("清河一社区", "楼道堆物")]


@left_to_full_run
def test_row_order_holds_in_a_file_of_several_row_groups_typed_while_another_is_written(tmp_path, taken):
    """Rows are numbered by their position in the typed table and the last of a repeated key
    wins: the background typing keeps the file's order even while the writer, on its own
    connection, writes with insertion order off."""
    n = 150_000                                  # more than one row group (122,880 rows)
    first = _write(tmp_path / "a.csv", HEADER + "".join(_row(f"A-{i:06d}", 1 + i % 28) for i in range(n)))
    lines = [_row(f"B-{i:06d}", 1 + i % 28) for i in range(n)]
    lines[10] = _row("B-DUP", 2, note="early")
    lines[n - 10] = _row("B-DUP", 3, "已办结", "late")
    lines[n - 5] = "B-BAD,不是日期,清河街道,清河一社区,QH-01-01,噪音扰民,x,处置中,,,\n"
    second = _write(tmp_path / "b.csv", HEADER + "".join(lines))
    db = tmp_path / "cockpit.duckdb"
    results = load_paths([first, second], db, progress=None)
    assert [r.status for r in results] == ["loaded", "loaded"]
    assert taken[1] is not None
    with reading(db) as con:
        assert con.execute("SELECT status FROM grid_reports WHERE report_id = 'B-DUP'").fetchall() == [("已办结",)]
        assert con.execute("SELECT row_number, column_name FROM etl_rejects").fetchall() == [(n - 5 + 2, "上报时间")]
        assert con.execute("SELECT count(*) FROM grid_reports").fetchone()[0] == 2 * n - 2


def test_only_kinds_typed_from_the_file_alone_are_typed_ahead():
    """A kind whose typing or derived columns read the database (feedback's ids, a ledger's
    balances) is typed in its own transaction; the record kinds typed from the file are not."""
    assert stage.prestageable("grid_reports") and stage.prestageable("projects")
    assert not stage.prestageable("feedback") and not stage.prestageable("redemptions")
    with pytest.raises(ValueError):
        stage.stage_sql("feedback", typed_all="etl_prestage.typed_1", prestaged=True)
    with pytest.raises(ValueError):
        stage.prestage_sql("grid_reports", "x; DROP TABLE grid_reports")
