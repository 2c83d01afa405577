"""Rough edges an unlucky user meets: absurd URL dates, missing paths and link loops among good
files, unknown files in a folder, header-only and UTF-16 files, two headers for one column,
files left by a killed load, and texts longer than an Excel cell."""
from __future__ import annotations

import io
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import openpyxl
import pandas as pd
import pytest
from pages_fixture import AS_OF, app
from sweep import case, left_to_full_run

from dashboard.export import TRUNCATED_MARK, XLSX_CELL_CHARS, to_xlsx_bytes
from dashboard.filters import Filters, clamp_dates, read_query
from etl.dbfile import remove_stale_next_files
from etl.load import load_paths

REPO = Path(__file__).resolve().parents[2]
GRID = "事件编号,上报时间,社区,网格编号,事件类型,处置状态\n"
ALL_PAGES = ("overview", "projects", "funds", "grid", "linkage", "painpoints", "explore",
             "sql_console", "briefing")


def _grid(path: Path, n: int = 2, encoding: str = "utf-8") -> Path:
    rows = "".join(f"{path.stem}-{i},2026-01-0{i + 1} 10:00,c,g,噪音,已办结\n" for i in range(n))
    path.write_bytes((GRID + rows).encode(encoding))
    return path


def _cli(*args: str, db: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "COCKPIT_DB": str(db)}
    return subprocess.run([sys.executable, "-m", "etl", *args, "--no-painpoints"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)


def _errors(at) -> list[str]:
    return [e.value for e in at.error] + [str(e.value) for e in at.exception]


# --- URL dates ------------------------------------------------------------------------------

# the fast loop: two pages (a plain one, the explorer's row dates); the full run every page, the
# briefing's week among them (its clamping code runs in the fast loop's briefing tests too)
@pytest.mark.parametrize("page", [case(p, fast=p in ("overview", "explore"), id=p)
                                  for p in ALL_PAGES])
def test_absurd_url_dates_are_clamped_to_the_data_on_every_page(db, page):
    at = app(page, **{"from": "0001-01-01", "to": "9999-12-31", "lang": "en"})
    assert not at.exception, at.exception
    assert not [e for e in _errors(at) if "Overflow" in e or "out of range" in e]
    f = at.session_state["filters"]
    assert f.date_to == AS_OF and f.date_from is not None and date(2000, 1, 1) < f.date_from <= AS_OF
    assert at.query_params["to"] == AS_OF.isoformat()
    if page == "overview":   # the note is shown where the URL was read: the session's first page
        notes = [i.value for i in at.sidebar.info]
        assert any("outside the data" in n and AS_OF.isoformat() in n for n in notes), notes


def test_unreadable_url_dates_are_ignored_with_a_note(db):
    at = app("overview", **{"from": "2026-02-30", "to": "yesterday"})
    assert not at.exception
    assert any("链接中的日期无法识别" in i.value for i in at.sidebar.info)
    assert at.session_state["filters"].date_to == AS_OF


@left_to_full_run
def test_dates_inside_the_data_pass_without_a_note(db):
    at = app("overview", **{"from": "2026-06-01", "to": "2026-06-30"})
    assert not at.exception and not at.sidebar.info
    f = at.session_state["filters"]
    assert (f.date_from, f.date_to) == (date(2026, 6, 1), date(2026, 6, 30))


def test_filters_never_overflow_at_the_ends_of_the_calendar():
    f, ignored = read_query({"from": "0001-01-01", "to": "9999-12-31", "grid": "x"})
    assert (f.date_from, f.date_to, ignored) == (date.min, date.max, [])
    assert f.params()["date_to_excl"] is None
    assert f.previous_period().date_from is None
    assert read_query({"from": "0001-13-01", "to": "x"})[1] == ["from", "to"]
    assert clamp_dates(date.min, date.max, date(2025, 1, 1), AS_OF) == (date(2025, 1, 1), AS_OF, True)
    assert clamp_dates(date(2026, 1, 1), None, date(2025, 1, 1), AS_OF) == (date(2026, 1, 1), None, False)
    assert clamp_dates(date(9999, 1, 1), date(9999, 2, 1), date(2025, 1, 1), AS_OF)[:2] == (AS_OF, AS_OF)
    assert Filters(date_from=date(2026, 1, 1), date_to=date(2026, 1, 31)).previous_period().date_to == date(2025, 12, 31)


# --- paths: missing, link loops, unknown files -----------------------------------------------

def test_missing_path_and_symlink_loop_are_refused_and_the_good_files_load(tmp_path):
    good1, good2 = _grid(tmp_path / "a.csv"), _grid(tmp_path / "b.csv")
    loop = tmp_path / "loop.csv"
    loop.symlink_to(loop)
    broken = tmp_path / "broken.csv"
    broken.symlink_to(tmp_path / "gone.csv")
    db = tmp_path / "c.duckdb"
    results = load_paths([good1, tmp_path / "missing.csv", loop, broken, good2], db, progress=None)
    by = {r.path.name: r for r in results}
    assert (by["a.csv"].status, by["b.csv"].status) == ("loaded", "loaded")
    assert by["missing.csv"].status == "refused" and "no such file" in by["missing.csv"].message
    assert by["loop.csv"].status == "refused" and "loop" in by["loop.csv"].message
    assert by["broken.csv"].status == "refused" and "broken link" in by["broken.csv"].message
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM grid_reports").fetchall() == [(4,)]


@pytest.mark.slow   # CLI subprocess (the fast loop keeps the in-process folder and link-loop test)
def test_folder_lists_unknown_files_and_a_link_loop_cli(tmp_path):
    inbox = tmp_path / "inbox"
    (inbox / "sub").mkdir(parents=True)
    _grid(inbox / "grid.csv")
    (inbox / "会议纪要.docx").write_bytes(b"PK\x03\x04 not really a document")
    (inbox / "sub" / "readme").write_text("no extension")
    (inbox / "sub" / "self").symlink_to(inbox / "sub" / "self")
    (inbox / ".hidden.csv").write_text("ignored")
    out = _cli("load", str(inbox), db=tmp_path / "c.duckdb")
    assert out.returncode == 1, out.stderr          # one refusal (the loop): exit status says so
    assert "1 loaded, 2 skipped, 1 refused" in out.stdout
    assert "skipped: 会议纪要.docx:" in out.stdout and "not a CSV or Excel file (.docx)" in out.stdout
    assert "skipped: readme:" in out.stdout
    assert "refused: self:" in out.stdout and "loop" in out.stdout
    assert ".hidden" not in out.stdout + out.stderr and "Traceback" not in out.stderr


# --- files that hold nothing, or the wrong encoding, or one column twice ---------------------

@left_to_full_run
def test_header_only_file_says_it_held_no_records(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text(GRID, encoding="utf-8")
    db = tmp_path / "c.duckdb"
    [res] = load_paths([path], db, progress=None)
    assert (res.status, res.rows_loaded) == ("skipped", 0) and "held no records" in res.message
    assert not db.exists()       # nothing loaded: no file was written
    out = _cli("load", str(path), db=db)
    assert out.returncode == 0 and "0 loaded, 1 skipped, 0 refused" in out.stdout
    assert "held no records" in out.stdout and "1 loaded" not in out.stdout


def test_header_only_sheet_says_it_held_no_records(tmp_path):
    path = tmp_path / "empty.xlsx"
    pd.DataFrame(columns=GRID.strip().split(",")).to_excel(path, index=False)
    [res] = load_paths([path], tmp_path / "c.duckdb", progress=None)
    assert res.status == "skipped" and "held no records" in res.message


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_utf16_file_is_refused_saying_how_to_save_it(tmp_path, encoding):
    path = _grid(tmp_path / "wide.csv", encoding=encoding)
    [res] = load_paths([path], tmp_path / "c.duckdb", progress=None)
    assert res.status == "refused"
    assert "UTF-" in res.message and "not supported" in res.message and "UTF-8 or GBK" in res.message
    assert "wide.csv" in res.message


@pytest.mark.parametrize("headers,first,second", [
    ("事件编号,上报时间,社区,网格编号,事件类型,类别,处置状态", "事件类型", "类别"),
    ("事件编号,上报时间,社区,网格编号,事件类型,处置状态,状态", "处置状态", "状态"),
    ("事件编号,上报时间,社区,网格编号,事件类型,事件描述,处置状态,事件描述", "事件描述", "事件描述"),
])
def test_two_headers_for_one_column_are_refused_naming_both(tmp_path, headers, first, second):
    n = headers.count(",") + 1
    path = tmp_path / "dup.csv"
    path.write_text(headers + "\n" + ",".join(["G1", "2026-01-01 10:00", "c", "g", "噪音"]
                                               + ["已办结"] * (n - 5)) + "\n", encoding="utf-8")
    db = tmp_path / "c.duckdb"
    [res] = load_paths([path], db, progress=None)
    assert res.status == "refused" and f'"{first}" and "{second}"' in res.message
    assert not db.exists()


# --- files left by a killed load ------------------------------------------------------------

def test_stale_next_files_of_dead_processes_are_removed_live_ones_kept(tmp_path):
    _grid(tmp_path / "x.csv")
    db = tmp_path / "cockpit.duckdb"
    dead = _dead_pid()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        stale = [tmp_path / f"cockpit.duckdb.next-{dead}", tmp_path / f"cockpit.duckdb.next-{dead}.wal"]
        live = [tmp_path / f"cockpit.duckdb.next-{alive.pid}", tmp_path / f"cockpit.duckdb.next-{alive.pid}.wal"]
        other = tmp_path / "other.duckdb.next-1"        # another database's file is not ours
        for p in (*stale, *live, other):
            p.write_bytes(b"half-written")
        [res] = load_paths([tmp_path / "x.csv"], db, progress=None)
        assert res.status == "loaded"
        assert not any(p.exists() for p in stale)
        assert all(p.exists() for p in live) and other.exists()
        assert remove_stale_next_files(db) == []       # nothing stale is left
    finally:
        alive.kill()
        alive.wait()
    assert remove_stale_next_files(db) == sorted(live)  # now that process is gone too


@left_to_full_run
def test_stale_next_files_go_even_when_every_file_was_loaded_before(tmp_path):
    path = _grid(tmp_path / "x.csv")
    db = tmp_path / "cockpit.duckdb"
    load_paths([path], db, progress=None)
    stale = tmp_path / f"cockpit.duckdb.next-{_dead_pid()}"
    stale.write_bytes(b"half-written")
    lines: list[str] = []
    [res] = load_paths([path], db, progress=lines.append)
    assert res.status == "skipped" and not stale.exists()
    assert any(stale.name in line and "killed" in line for line in lines)


def _dead_pid() -> int:
    """The id of a process that has exited (Linux hands out ids in order: not reused soon)."""
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return int(done.stdout)


# --- exports --------------------------------------------------------------------------------

def test_xlsx_cell_over_excels_limit_is_cut_with_a_visible_mark():
    long_text = "居民反映" * 10_000                        # 40,000 characters
    formula = "=" + "x" * 40_000
    df = pd.DataFrame({"text": [long_text, "short", formula]})
    ws = openpyxl.load_workbook(io.BytesIO(to_xlsx_bytes(df))).active
    cut = ws.cell(row=2, column=1).value
    assert len(cut) == XLSX_CELL_CHARS and cut.endswith(TRUNCATED_MARK)
    assert cut.startswith(long_text[:1000])
    assert ws.cell(row=3, column=1).value == "short"
    escaped = ws.cell(row=4, column=1).value
    assert escaped.startswith("'=") and escaped.endswith(TRUNCATED_MARK) and len(escaped) == XLSX_CELL_CHARS
    exact = pd.DataFrame({"text": ["a" * XLSX_CELL_CHARS]})
    assert openpyxl.load_workbook(io.BytesIO(to_xlsx_bytes(exact))).active.cell(row=2, column=1).value == "a" * XLSX_CELL_CHARS
