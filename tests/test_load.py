"""Loading real files into a real DuckDB file: encodings, atomicity, idempotency, lineage."""
from __future__ import annotations

import hashlib
import os
import shutil
import threading
from pathlib import Path

import duckdb
import pytest
import xlsxwriter

from etl.extract import detect_encoding, read_sources
from etl.load import load_paths
from shared_readers import reading
from sweep import case, left_to_full_run

GRID_HEADER = "事件编号,上报时间,街道,社区,网格编号,事件类型,事件描述,处置状态,办结时间,满意度\n"


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def _rows(db: Path, sql: str, params=None):
    with reading(db) as con:
        return con.execute(sql, params or {}).fetchall()


def _digest(db: Path) -> str:
    return hashlib.sha256(db.read_bytes()).hexdigest()


@pytest.fixture
def db(tmp_path) -> Path:
    return tmp_path / "cockpit.duckdb"


def grid_csv(tmp_path: Path, name="grid.csv", encoding="utf-8", rows=None) -> Path:
    rows = rows or [
        "G-1,2025/4/25 9:32:09,清河街道,清河一社区,QH-01-01,噪音扰民,夜间施工 电话13812345678,处置中,,",
        "G-2,2025-04-08 08:37:20,清河街道,清河一社区,QH-01-02,违规停车,占用消防通道,已办结,2025-04-09 10:00:00,5",
        "G-3,2025年4月8日,清河街道,美和园社区,QH-02-01,垃圾分类,垃圾桶满溢,已处理,2025/4/10,满意",
    ]
    return _write(tmp_path / name, GRID_HEADER + "\n".join(rows) + "\n", encoding)


@pytest.fixture(scope="module")
def grid_template(tmp_path_factory) -> Path:
    """A folder with `grid_csv(folder)` loaded by the real ETL into folder/cockpit.duckdb
    (its catalog, Parquet parts and salt file), once per module."""
    folder = tmp_path_factory.mktemp("grid-template")
    [res] = load_paths([grid_csv(folder)], folder / "cockpit.duckdb", progress=None)
    assert res.status == "loaded"
    return folder


@pytest.fixture
def loaded(grid_template, tmp_path, db) -> Path:
    """`db` holding `grid_csv(tmp_path)` as the real ETL loaded it, for tests whose subject is
    the load after it: a copy of the module's template moved into this test's folder
    (tests/demo_cache.py `relocate`, as the kept demo build is moved; a fraction of the CPU of
    loading it again)."""
    from demo_cache import relocate

    shutil.copytree(grid_template, tmp_path, symlinks=True, dirs_exist_ok=True)
    relocate(tmp_path, str(grid_template))
    return db


def test_encodings_are_detected_not_configured(tmp_path):
    assert detect_encoding("编号\n".encode("utf-8")) == "utf-8"
    assert detect_encoding(b"\xef\xbb\xbf" + "编号\n".encode("utf-8")) == "utf-8-sig"
    assert detect_encoding("编号,社区\n".encode("gbk")) == "gb18030"
    for enc in ("utf-8", "utf-8-sig", "gbk"):
        src = read_sources(grid_csv(tmp_path, f"g-{enc}.csv", enc))[0]
        assert src.headers[:3] == ["事件编号", "上报时间", "街道"]


@pytest.mark.slow   # three loads of every kind
def test_gbk_utf8_bom_and_xlsx_load_the_same_records(tmp_path):
    results = {}
    for enc in ("utf-8", "utf-8-sig", "gbk"):
        db = tmp_path / f"{enc}.duckdb"
        load_paths([grid_csv(tmp_path, f"g-{enc}.csv", enc)], db, progress=None)
        results[enc] = _rows(db, "SELECT report_id, reported_at, community, status, description "
                                 "FROM grid_reports ORDER BY report_id")
    assert results["utf-8"] == results["utf-8-sig"] == results["gbk"]
    assert [r[3] for r in results["gbk"]] == ["处置中", "已办结", "已办结"]
    assert "138****5678" in results["gbk"][0][4]


@left_to_full_run
def test_xlsx_with_excel_datetimes_and_serials(tmp_path, db):
    from datetime import datetime
    path = tmp_path / "grid.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("事件")
    fmt = wb.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    ws.write_row(0, 0, GRID_HEADER.strip().split(","))
    ws.write_row(1, 0, ["X-1"])
    ws.write_datetime(1, 1, datetime(2025, 5, 1, 8, 30), fmt)
    ws.write_row(1, 2, ["清河街道", "清河一社区", "QH-01-01", "设施损坏", "路灯坏了", "办结"])
    ws.write_datetime(1, 8, datetime(2025, 5, 2, 9, 0), fmt)
    ws.write_number(1, 9, 4)
    ws.write_row(2, 0, ["X-2", 45800.25, "清河街道", "清河一社区", "QH-01-01", "设施损坏", "井盖", "处理中"])
    wb.close()
    [res] = load_paths([path], db, progress=None)
    assert res.status == "loaded" and res.rows_loaded == 2 and res.sheet == "事件"
    got = _rows(db, "SELECT report_id, reported_at, resolved_at, satisfaction, status FROM grid_reports ORDER BY 1")
    assert str(got[0][1]) == "2025-05-01 08:30:00" and str(got[0][2]) == "2025-05-02 09:00:00"
    assert got[0][3] == 4 and got[0][4] == "已办结"
    assert str(got[1][1]) == "2025-05-23 06:00:00"  # serial 45800.25


def test_missing_required_columns_refuses_the_file_naming_them(tmp_path, loaded):
    db = loaded
    before = _digest(db)
    bad = _write(tmp_path / "bad.csv", "事件编号,社区,事件类型\nG-9,清河一社区,噪音扰民\n")
    [res] = load_paths([bad], db, progress=None)
    assert res.status == "refused"
    assert "bad.csv" in res.message and "上报时间 (reported_at)" in res.message
    assert "网格 (grid_id)" in res.message and "处置状态 (status)" in res.message
    assert _digest(db) == before


def test_bad_rows_are_rejected_with_file_row_column_and_kept_out(tmp_path, db):
    path = grid_csv(tmp_path, rows=[
        "G-1,2025-04-01 08:00:00,清河街道,清河一社区,QH-01-01,噪音扰民,ok,处置中,,",
        "G-2,待定,清河街道,清河一社区,QH-01-01,噪音扰民,bad date,处置中,,",
        "G-3,2025-04-05 08:00:00,清河街道,清河一社区,QH-01-01,噪音扰民,early,已办结,2025-04-01 08:00:00,",
        "G-4,2025-04-05 08:00:00,清河街道,清河一社区,QH-01-01,噪音扰民,status,搁置中,,",
        "G-5,2025-04-05 08:00:00,清河街道,清河一社区,QH-01-01,噪音扰民,ok too 13912345678,处置中,,",
        "G-6,2025-04-06 08:00:00,清河街道,清河一社区,QH-01-01,噪音扰民,ok,处置中,,",
        "G-7,2025-04-07 08:00:00,清河街道,清河一社区,QH-01-01,噪音扰民,ok,处置中,,",
    ])
    [res] = load_paths([path], db, progress=None)
    assert res.status == "loaded" and (res.rows_read, res.rows_loaded, res.rows_rejected) == (7, 4, 3)
    rejects = _rows(db, "SELECT path, row_number, column_name, reason, original_values FROM etl_rejects ORDER BY 2")
    assert [(Path(p).name, r, c, why) for p, r, c, why, _ in rejects] == [
        ("grid.csv", 3, "上报时间", "unparseable date"),
        ("grid.csv", 4, "办结时间", "resolved before reported"),
        ("grid.csv", 5, "处置状态", "unknown status value")]
    assert '"事件编号": "G-2"' in rejects[0][4]
    assert _rows(db, "SELECT list(report_id ORDER BY report_id) FROM grid_reports")[0][0] == ["G-1", "G-5", "G-6", "G-7"]


def test_mostly_invalid_file_is_refused_whole_and_db_unchanged(tmp_path, loaded):
    db = loaded
    before = _digest(db)
    path = grid_csv(tmp_path, "junk.csv", rows=[f"J-{i},不是日期,清河街道,c,g,t,d,处置中,," for i in range(4)])
    [res] = load_paths([path], db, progress=None)
    assert res.status == "refused" and "4 of 4 rows invalid" in res.message and "junk.csv" in res.message
    assert _digest(db) == before


@left_to_full_run
def test_strict_refuses_any_reject(tmp_path, db):
    path = grid_csv(tmp_path, rows=["G-1,2025-04-01,清河街道,c,g,t,d,处置中,,",
                                    "G-2,bad,清河街道,c,g,t,d,处置中,,"])
    [res] = load_paths([path], db, strict=True, progress=None)
    assert res.status == "refused" and not db.exists()


def test_loading_the_same_file_twice_changes_nothing(tmp_path, loaded, monkeypatch):
    db, path = loaded, grid_csv(tmp_path)      # the bytes `loaded` holds, written again
    before = _digest(db)
    opened = []
    real = duckdb.connect

    def connect(database=":memory:", *args, **kwargs):
        opened.append((Path(str(database)).name, kwargs.get("read_only", False)))
        return real(database, *args, **kwargs)
    monkeypatch.setattr(duckdb, "connect", connect)
    [res] = load_paths([path], db, progress=None)
    assert res.status == "skipped"
    assert _digest(db) == before
    # what was loaded before is read on the writer's connection (to the next file, under the
    # writers' lock), not on a connection of its own to the live file
    assert [o for o in opened if o[0].startswith(db.name)] == [(f"{db.name}.next-{os.getpid()}", False)]


def test_newer_export_updates_records_latest_wins(tmp_path, loaded):
    db = loaded
    newer = grid_csv(tmp_path, "grid-update.csv", rows=[
        "G-1,2025/4/25 9:32:09,清河街道,清河一社区,QH-01-01,噪音扰民,夜间施工,已办结,2025-04-26 18:00:00,4"])
    load_paths([newer], db, progress=None)
    assert _rows(db, "SELECT count(*) FROM grid_reports")[0][0] == 3
    assert _rows(db, "SELECT status, resolved_at::VARCHAR FROM grid_reports WHERE report_id = 'G-1'") == [
        ("已办结", "2025-04-26 18:00:00")]
    assert _rows(db, "SELECT count(*) FROM etl_loads")[0][0] == 2


def test_one_bad_file_does_not_stop_the_others(tmp_path, db):
    good = grid_csv(tmp_path)
    bad = _write(tmp_path / "bad.csv", "foo,bar\n1,2\n")
    results = {r.path.name: r.status for r in load_paths([good, bad], db, progress=None)}
    assert results == {"grid.csv": "loaded", "bad.csv": "refused"}
    assert _rows(db, "SELECT count(*) FROM grid_reports")[0][0] == 3


@left_to_full_run
def test_projects_then_transactions_in_one_command_reference_check(tmp_path, db):
    projects = _write(tmp_path / "项目.csv",
                      "项目编号,项目名称,社区,项目类别,牵头单位,主体类型,项目阶段,预算(元),进度\n"
                      "XM-1,长者食堂,清河一社区,养老,清河社工站,社会工作者,实施,12.5万,40%\n")
    txns = _write(tmp_path / "流水.csv", "流水号,日期,项目编号,收支,资金来源类型,来源方,金额\n"
                  "T-1,2025-01-02,XM-1,收入,财政拨款,区民政局,\"￥50,000.00\"\n"
                  "T-2,2025-01-03,XM-9999,支出,,,100\n", "gbk")
    results = load_paths([txns, projects], db, progress=None)     # order on the command line is irrelevant
    assert [r.kind for r in results] == ["projects", "fund_transactions"]
    assert _rows(db, "SELECT txn_id, amount_yuan::VARCHAR FROM fund_transactions") == [("T-1", "50000.00")]
    assert _rows(db, "SELECT row_number, column_name, reason FROM etl_rejects") == [(3, "项目编号", "unknown project id")]


@left_to_full_run
def test_open_reader_during_load_both_succeed(tmp_path, loaded):
    db = loaded
    reader = duckdb.connect(str(db), read_only=True)
    try:
        assert reader.execute("SELECT count(*) FROM grid_reports").fetchone()[0] == 3
        newer = grid_csv(tmp_path, "more.csv", rows=[
            f"N-{i},2025-05-01 08:00:00,清河街道,清河一社区,QH-01-01,噪音扰民,d,处置中,," for i in range(50)])
        errors = []

        def keep_reading():
            try:
                for _ in range(50):
                    reader.execute("SELECT count(*), max(reported_at) FROM grid_reports").fetchall()
            except Exception as exc:  # pragma: no cover - the failure we test against
                errors.append(exc)

        t = threading.Thread(target=keep_reading)
        t.start()
        [res] = load_paths([newer], db, progress=None)
        t.join()
        assert res.status == "loaded" and not errors
        assert reader.execute("SELECT count(*) FROM grid_reports").fetchone()[0] == 3   # its snapshot
    finally:
        reader.close()
    assert _rows(db, "SELECT count(*) FROM grid_reports")[0][0] == 53   # a new reader sees the load


def test_folder_loads_recursively_unknown_files_skipped_missing_path_refused(tmp_path, db):
    inbox = tmp_path / "inbox"
    (inbox / "sub").mkdir(parents=True)
    grid_csv(inbox / "sub")
    (inbox / "notes.md").write_text("listed, not loaded")
    by_name = {r.path.name: r for r in load_paths([inbox, tmp_path / "nope"], db, progress=None)}
    loaded, notes, missing = by_name["grid.csv"], by_name["notes.md"], by_name["nope"]
    assert loaded.status == "loaded"
    assert (notes.path.name, notes.status) == ("notes.md", "skipped")
    assert (missing.status, "nope" in missing.message) == ("refused", True)


@pytest.mark.slow   # the real sample file
def test_real_sample_loads_completely_with_both_date_formats(real_messages, db):
    [res] = load_paths([real_messages], db, progress=None)
    assert (res.status, res.rows_read, res.rows_loaded, res.rows_rejected) == ("loaded", 2816, 2816, 0)
    got = dict(_rows(db, "SELECT feedback_id, submitted_at::VARCHAR FROM feedback WHERE feedback_id IN ('2549', '2759')"))
    assert got == {"2549": "2019-04-25 09:32:09", "2759": "2019-04-08 08:37:20"}
    assert _rows(db, "SELECT count(*) FROM feedback WHERE replied_at IS NOT NULL AND reply IS NOT NULL")[0][0] == 2816
    assert _rows(db, r"SELECT count(*) FROM feedback WHERE regexp_matches(text || reply, '(^|\D)1[3-9]\d{9}(\D|$)')")[0][0] == 0
    assert _rows(db, "SELECT count(*) FROM feedback WHERE resident_pseudonym LIKE 'A000%'")[0][0] == 0


def test_gbk_past_the_encoding_sample_is_still_read_as_gbk(tmp_path, db, monkeypatch):
    import etl.extract as extract
    monkeypatch.setattr(extract, "SAMPLE_BYTES", 64)   # the sample sees only ASCII
    rows = [f"A-{i},2025-04-01 08:00:00,x,x,x,x,x,处置中,," for i in range(5)]
    rows.append("G-9,2025-04-01 08:00:00,清河街道,清河一社区,QH-01-01,噪音扰民,楼道堆物,处置中,,")
    path = _write(tmp_path / "late-gbk.csv", "report_id,reported_at,street,community,grid_id,category,"
                  "description,status,resolved_at,satisfaction\n" + "\n".join(rows) + "\n", "gbk")
    [res] = load_paths([path], db, progress=None)
    assert res.status == "loaded", res.message
    assert _rows(db, "SELECT community, description FROM grid_reports WHERE report_id = 'G-9'") == [
        ("清河一社区", "楼道堆物")]


@left_to_full_run
def test_csv_dialect_from_the_header_quotes_crlf_semicolons_unmapped_headers(tmp_path, db):
    """DuckDB reads the CSV with the dialect parsed from its header (no sniffing pass):
    quoted cells with delimiters, doubled quotes and line breaks, CRLF, a BOM, ';' files,
    and a header the loader does not know (read, not stored). Two headers meaning one
    column are refused: tests/security/test_sec_etl_edges.py."""
    text = ('"事件编号","上报时间","社区","网格编号","事件类型","事件描述","处置状态","备用说明"\r\n'
            'G-1,2025-04-01 08:00:00,清河一社区,QH-01,噪音扰民,"楼上""装修"",\r\n很吵",处置中,副本\r\n')
    quoted = _write(tmp_path / "quoted.csv", text, "utf-8-sig")
    semi = _write(tmp_path / "semi.csv", text.replace(",", ";").replace("\"楼上\"\"装修\"\";", "\"楼上\"\"装修\"\","),
                  "utf-8")
    for path in (quoted, semi):
        [res] = load_paths([path], db, progress=None)
        assert (res.status, res.rows_loaded) == ("loaded", 1), res.message
        assert _rows(db, "SELECT description, status FROM grid_reports") == [('楼上"装修",\r\n很吵', "处置中")]


def test_a_row_with_extra_cells_refuses_the_file_naming_file_and_line(tmp_path, loaded):
    db = loaded
    before = _digest(db)
    bad = _write(tmp_path / "ragged.csv", GRID_HEADER + "G-7,2025-04-01 08:00:00,清河街道,清河一社区,QH-01,噪音扰民,x,处置中,,,多余\n")
    [res] = load_paths([bad], db, progress=None)
    assert res.status == "refused"
    assert "ragged.csv" in res.message and "line 2 of the file" in res.message
    assert _digest(db) == before


TITLED_ROWS = [
    "G-1,2025-04-01 08:00:00,清河街道,清河一社区,QH-01-01,噪音扰民,ok,处置中,,",
    "G-2,待定,清河街道,清河一社区,QH-01-01,噪音扰民,bad date,处置中,,",
    "G-3,2025-04-03 08:00:00,清河街道,清河一社区,QH-01-01,噪音扰民,ok,处置中,,",
]


# the fast loop keeps GBK; the others: tests/sweep.py left_to_full_run
@pytest.mark.parametrize("encoding", [case(e, fast=e == "gbk", id=e) for e in ("utf-8", "utf-8-sig", "gbk")])
def test_csv_title_rows_above_the_header_are_skipped_rows_keep_their_numbers(tmp_path, db, encoding):
    text = ("2025年4月 清河街道网格事件台账,,,,,,,,,\n导出时间：2025-05-01,,,,,,,,,\n"
            + GRID_HEADER + "\n".join(TITLED_ROWS) + "\n")
    path = _write(tmp_path / "titled.csv", text, encoding)
    [res] = load_paths([path], db, progress=None)
    assert (res.status, res.rows_read, res.rows_loaded) == ("loaded", 3, 2), res.message
    assert _rows(db, "SELECT row_number, column_name FROM etl_rejects") == [(5, "上报时间")]
    assert _rows(db, "SELECT list(report_id ORDER BY 1) FROM grid_reports")[0][0] == ["G-1", "G-3"]


def test_xlsx_title_rows_blank_rows_and_empty_sheets(tmp_path, db):
    path = tmp_path / "titled.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("台账")
    ws.merge_range(1, 0, 1, 9, "2025年4月 清河街道网格事件台账")     # row 1 blank, title on row 2
    ws.write_row(2, 0, GRID_HEADER.strip().split(","))              # header on row 3
    for i, row in enumerate(TITLED_ROWS):                           # data on rows 4..6
        ws.write_row(3 + i, 0, row.split(","))
    wb.add_worksheet("Sheet2")                                      # empty: skipped, not refused
    wb.close()
    [res] = load_paths([path], db, progress=None)
    assert (res.status, res.sheet, res.rows_read, res.rows_loaded) == ("loaded", "台账", 3, 2), res.message
    assert _rows(db, "SELECT row_number, column_name FROM etl_rejects") == [(5, "上报时间")]


def test_header_row_index_finds_the_header_below_titles():
    from etl.aliases import header_row_index
    header = GRID_HEADER.strip().split(",")
    assert header_row_index([[None, ""], ["网格事件台账", None], header, ["G-1"]]) == 2
    assert header_row_index([header]) == 0
    assert header_row_index([[None], ["甲", "乙"], ["丙"]]) == 1    # no header: the first non-blank row
    assert header_row_index([[None, " "], []]) == -1


def test_pseudonym_salt_lives_beside_the_database_not_in_it(tmp_path, db, monkeypatch):
    import os
    import stat
    monkeypatch.delenv("COCKPIT_PSEUDONYM_SALT", raising=False)
    feedback = _write(tmp_path / "留言.csv", "留言时间,留言详情,留言用户\n2025-05-01 10:00:00,电梯坏了,老王\n")
    load_paths([feedback], db, progress=None)
    salt_file = db.parent / ".cockpit_salt"
    assert stat.S_IMODE(os.stat(salt_file).st_mode) == 0o600
    salt = salt_file.read_text().strip()
    assert len(salt) == 32
    assert _rows(db, "SELECT count(*) FROM etl_meta WHERE value = $s", {"s": salt})[0][0] == 0
    first = _rows(db, "SELECT resident_pseudonym FROM feedback")[0][0]
    more = _write(tmp_path / "留言2.csv", "留言时间,留言详情,留言用户\n2025-05-02 10:00:00,又坏了,老王\n")
    load_paths([more], db, progress=None)
    assert {r[0] for r in _rows(db, "SELECT resident_pseudonym FROM feedback")} == {first}
