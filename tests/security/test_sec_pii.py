"""Privacy: phone, landline and ID numbers are masked in every text field, in rejects and in
messages; ordinary numbers are not; nothing raw (the source-file view) outlives a load."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import xlsxwriter
from sweep import case, left_to_full_run

from etl import stage, storage
from etl.load import load_paths
from etl.pii import mask_list_sql, mask_sql, mask_text

REPO = Path(__file__).resolve().parents[2]

# (as typed in an export, as stored): every common real format
MASKED = [
    ("+8613812345670", "+86138****5670"),
    ("8613812345671", "86138****5671"),
    ("+86 138 1234 5674", "+86 138****5674"),
    ("0086-13812345679", "0086-138****5679"),
    ("13812345675", "138****5675"),
    ("138-1234-5672", "138****5672"),
    ("138 1234 5673", "138****5673"),
    ("138.1234.5676", "138****5676"),
    ("１３８１２３４５６７８", "１３８****５６７８"),
    ("１３８－１２３４－５６７７".replace("－", "-"), "１３８****５６７７"),
    ("110105900307123", "110105********123"),                     # 15-digit ID (pre-1999 cards)
    ("110105199003071234", "110105********1234"),                # 18-digit ID
    ("11010519900307123X", "110105********123X"),                # check digit X
    ("11010519900307123x", "110105********123x"),
    ("110105 19900307 123X", "110105********123X"),              # grouped 6-8-4
    ("110105 1990 0307 1234", "110105********1234"),             # grouped 6-4-4-4
    ("１１０１０５１９９００３０７１２３４", "１１０１０５********１２３４"),
    ("(010)12345679", "(010)****5679"),
    ("（010）12345679", "（010）****5679"),
    ("010-12345678", "010-****5678"),
    ("010 12345678", "010 ****5678"),
    ("01012345670", "010****5670"),
    ("0755-1234567", "0755-****4567"),
    ("0755-1234-5678", "0755-****5678"),
]
# digits that are not personal numbers stay exactly as they are
NOT_MASKED = [
    "¥1,234,567.89", "12345678元", "12345678", "20261122", "2026-11-22 10:30", "2026-11-22 10:30:59",
    "2026/11/22", "GR-2026-0001234", "工单号 202611220001", "XM-2026-0012", "P-000123", "10:30-11:30",
    "第3期 共120户", "QH-01-02", "2026年11月22日", "order 202501011234567890123", "1234567",
]
DIGITS = re.compile(r"[0-9０-９]{7,}")


@pytest.fixture(scope="module")
def mem():
    """One in-memory DuckDB for the masking cases (they only evaluate an expression; a new
    database instance per case cost more than the case)."""
    with duckdb.connect() as con:
        yield con


def _sql_mask(con, value: str) -> str:
    return con.execute(f"SELECT {mask_sql('$v')}", {"v": value}).fetchall()[0][0]


@pytest.mark.parametrize("raw,masked", MASKED)
def test_each_format_is_masked_in_sql_and_python_alike(mem, raw, masked):
    embedded = f"居民{raw}反映"
    assert _sql_mask(mem, raw) == masked
    assert _sql_mask(mem, embedded) == f"居民{masked}反映"
    assert mask_text(raw) == masked and mask_text(embedded) == f"居民{masked}反映"


@pytest.mark.parametrize("value", NOT_MASKED)
def test_ordinary_numbers_are_left_alone(mem, value):
    assert _sql_mask(mem, value) == value
    assert mask_text(value) == value


def test_numbers_side_by_side_are_all_masked(mem):
    raw = "13812345678,13912345678/110105199003071234、010-12345678;(010)87654321"
    expected = "138****5678,139****5678/110105********1234、010-****5678;(010)****4321"
    assert _sql_mask(mem, raw) == expected
    assert mask_text(raw) == expected


def test_masking_the_text_columns_at_once_gives_what_masking_each_gives(mem):
    """A small file's typing masks its text columns by one lambda over a list of them
    (etl/stage.py `mask_once`), a big file's one expression per column: the same values."""
    values = [raw for raw, _ in MASKED] + [f"居民{raw}反映" for raw, _ in MASKED] + NOT_MASKED + [
        "13812345678,13912345678/110105199003071234、010-12345678;(010)87654321", None, ""]
    rows = [(values[i], values[(i + 7) % len(values)], values[(i + 13) % len(values)])
            for i in range(len(values))]
    mem.execute("CREATE OR REPLACE TEMP TABLE cells (a VARCHAR, b VARCHAR, c VARCHAR)")
    mem.executemany("INSERT INTO cells VALUES (?, ?, ?)", rows)
    each = mem.execute(f"SELECT [{mask_sql('a')}, {mask_sql('b')}, {mask_sql('c')}] FROM cells "
                       "ORDER BY rowid").fetchall()
    at_once = mem.execute(f"SELECT {mask_list_sql(['a', 'b', 'c'])} FROM cells ORDER BY rowid").fetchall()
    assert at_once == each
    assert [r[0] for r in at_once] == [[v if v is None else mask_text(v) for v in row] for row in rows]


def _every_text_column(kind: str, value: str) -> pd.DataFrame:
    """One valid row of `kind` with `value` in every free-text and name column."""
    valid = {"grid_reports": dict(report_id="G1", reported_at="2026-01-01 10:00", community="c",
                                  grid_id="g", category="噪音", status="已办结"),
             "projects": dict(project_id="P1", name="n", community="c", category="养老", lead_party="x",
                              lead_party_type="社区", stage="实施", budget_yuan="12345678"),
             "project_milestones": dict(project_id="P1", milestone="m", planned_on="2026-01-01"),
             "fund_transactions": dict(txn_id="T1", txn_on="2026-01-01", project_id="P1", direction="收入",
                                       amount_yuan="12345678"),
             "feedback": dict(submitted_at="2026-01-01 10:00", text="t"),
             "communities": dict(community="c", households="100"),
             "meetings": dict(meeting_id="M1", held_on="2026-01-01", community="c", kind="居民议事会"),
             "resolutions": dict(resolution_id="R1", meeting_id="M1", text="t", status="执行中"),
             "votes": dict(vote_id="V1", community="c", topic="t", closed_on="2026-01-01",
                           eligible_voters="100", ballots_cast="50", yes_votes="30", no_votes="10"),
             "participation": dict(record_id="A1", resident_id="r1", community="c", activity="议事会",
                                   occurred_on="2026-01-01"),
             "redemptions": dict(redemption_id="X1", resident_id="r1", redeemed_on="2026-01-01",
                                 item="i", points="10"),
             "evaluations": dict(evaluation_id="E1", project_id="P1", submitted_at="2026-01-01 10:00",
                                 rating="4"),
             "usability_ratings": dict(rating_id="U1", submitted_at="2026-01-01 10:00", community="c",
                                       ease_score="4")}[kind]
    row = {c.name: valid.get(c.name) for c in stage.SPECS[kind]}
    for c in stage.SPECS[kind]:
        if c.type == stage.TEXT:
            row[c.name] = f"{row[c.name] or ''}联系{value}"
    return pd.DataFrame([row])


def _pseudonym(resident_id: str, salt: str = "test-salt") -> str:
    """stage's pseudonym of a resident id (etl/stage.py: 'R' || left(sha256(salt || id), 12))."""
    import hashlib
    return "R" + hashlib.sha256((salt + resident_id).encode()).hexdigest()[:12]


EVERY_FORMAT = [m for m in MASKED if m[0] in (
    "+8613812345670", "138 1234 5673", "１３８１２３４５６７８", "11010519900307123X", "110105 19900307 123X",
    "(010)12345679", "01012345670", "110105900307123")]


# the fast loop: every kind once and every format at least once (kind i with format i mod n);
# the full run every kind x every format
@pytest.mark.parametrize("raw,masked,kind", [
    case(raw, masked, kind, fast=j == i % len(EVERY_FORMAT))
    for i, kind in enumerate(stage.SPECS) for j, (raw, masked) in enumerate(EVERY_FORMAT)])
def test_every_text_column_of_every_kind_is_masked(kind, raw, masked):
    clean, rejects = stage.stage(kind, _every_text_column(kind, raw), known_projects=["P1"],
                                 context={"meetings": {"M1": "c"},       # the meeting exists
                                          "earned": {_pseudonym("r1"): 100}})   # and the points
    assert rejects.empty and len(clean) == 1
    text_cols = [c.name for c in stage.SPECS[kind] if c.type == stage.TEXT]
    assert len(text_cols) >= 1
    for col in text_cols:
        assert clean[col][0].endswith(f"联系{masked}"), (kind, col, clean[col][0])
    if kind in ("projects", "fund_transactions"):   # an amount is a number, not a phone
        amount = "budget_yuan" if kind == "projects" else "amount_yuan"
        assert float(clean[amount][0]) == 12345678


GRID = "事件编号,上报时间,社区,网格编号,网格员,事件类型,事件描述,事发地点,处置状态,满意度\n"


def _all_text(db: Path) -> list[str]:
    """Every VARCHAR value in every table of the loaded file."""
    out = []
    with duckdb.connect(str(db), read_only=True) as con:
        cols = con.execute("SELECT table_name, column_name FROM information_schema.columns "
                           "WHERE table_schema = 'main' AND data_type = 'VARCHAR' AND column_name <> 'sha256'").fetchall()
        for table, column in cols:   # names from the catalogue of a file this test just built
            out += [v for (v,) in con.execute(f'SELECT "{column}" FROM "{table}"').fetchall() if v]
    return out


@left_to_full_run
def test_loaded_file_holds_no_raw_number_in_records_rejects_or_lineage(tmp_path):
    rows = [f"G{i},2026-01-0{i} 10:00,c,g,网格员{raw},噪音,电话{raw},地点{raw},已办结,{'5' if i % 2 else '9'}"
            for i, (raw, _) in enumerate(MASKED[:9], 1)]
    path = tmp_path / "grid.csv"
    path.write_text(GRID + "\n".join(rows) + "\n", encoding="utf-8")
    db = tmp_path / "c.duckdb"
    [res] = load_paths([path], db, progress=None)
    assert res.status == "loaded" and res.rows_rejected == 4       # rating 9 is out of range
    values = _all_text(db)
    with duckdb.connect(str(db), read_only=True) as con:
        rejects = [v for (v,) in con.execute("SELECT original_values FROM etl_rejects").fetchall()]
        reporters = [v for (v,) in con.execute("SELECT reporter FROM grid_reports ORDER BY report_id").fetchall()]
    assert len(rejects) == 4 and all("****" in r for r in rejects)
    assert reporters[0] == "网格员+86138****5670"
    # every number in those rows hides the digits 1234 (ASCII or full-width): none may remain
    assert len(values) > 30
    assert [v for v in values if "1234" in v or "１２３４" in v or DIGITS.search(v)] == []


def _objects(db: Path) -> set[str]:
    with duckdb.connect(str(db), read_only=True) as con:
        views = con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()
        tables = con.execute("SELECT table_name FROM duckdb_tables()").fetchall()
    return {r[0] for r in views + tables}


def test_nothing_raw_outlives_a_load_csv_gbk_xlsx_or_refused(tmp_path):
    db = tmp_path / "c.duckdb"
    good = tmp_path / "grid.csv"
    good.write_text(GRID + "G1,2026-01-01 10:00,c,g,w,噪音,电话13812345678,x,已办结,5\n", encoding="utf-8")
    gbk = tmp_path / "grid-gbk.csv"
    gbk.write_bytes((GRID + "G2,2026-01-02 10:00,c,g,w,噪音,电话13912345678,x,已办结,5\n").encode("gbk"))
    xlsx = tmp_path / "grid.xlsx"
    with xlsxwriter.Workbook(str(xlsx)) as wb:
        ws = wb.add_worksheet()
        ws.write_row(0, 0, GRID.strip().split(","))
        ws.write_row(1, 0, "G3,2026-01-03 10:00,c,g,w,噪音,电话13712345678,x,已办结,5".split(","))
    ragged = tmp_path / "ragged.csv"
    ragged.write_text(GRID + "G4,2026-01-04 10:00,c,g,w,噪音,13612345678,x,已办结,5,extra\n", encoding="utf-8")
    results = load_paths([good, gbk, xlsx, ragged], db, progress=None)
    assert sorted(r.status for r in results) == ["loaded", "loaded", "loaded", "refused"]
    objects = _objects(db)
    assert not [o for o in objects if o.startswith("_")], objects
    assert "grid_reports" in objects and "etl_rejects" in objects
    with duckdb.connect(str(db), read_only=True) as con:
        # the only views are the documented ones (marts, vote_results, ...): none reads a file
        views = dict(con.execute("SELECT view_name, sql FROM duckdb_views() WHERE NOT internal").fetchall())
        assert {"grid_cases", "fund_flows", "feedback_enriched"} <= set(views), views
        assert [v for v, sql in views.items() if v.startswith("_") or re.search(
            r"read_(csv|json|xlsx|text|blob)|\.csv|\.xlsx", sql, re.I)] == []
        # the only files a view reads are the storage layer's own Parquet parts (etl/storage.py)
        parts = str(db) + ".parts/"
        readers = {v for v, sql in views.items() if "read_parquet" in sql}
        assert readers <= set(storage.PARTITIONED) | set(storage.WHOLE), readers
        for v in readers:
            paths = re.findall(r"'([^']*\.parquet)'", views[v])
            assert paths and all(p.startswith(parts) for p in paths), (v, paths)
        assert con.execute("SELECT count(*) FROM grid_reports").fetchall() == [(3,)]


def test_the_writer_refuses_to_publish_a_scratch_view(tmp_path):
    """The last line of defence: a view left by a loader bug aborts the swap."""
    from etl.dbfile import writer

    db = tmp_path / "c.duckdb"
    with writer(db) as con:
        con.execute("CREATE TABLE keep AS SELECT 1 AS x")
    before = db.read_bytes()
    csv = tmp_path / "x.csv"
    csv.write_text("a\n13812345678\n", encoding="utf-8")
    with pytest.raises(RuntimeError, match="_raw_src"):
        with writer(db) as con:
            con.read_csv(str(csv)).to_view("_raw_src")
    assert db.read_bytes() == before


@left_to_full_run
def test_malformed_csv_cli_prints_one_masked_sentence(tmp_path):
    bad = tmp_path / "台账.csv"
    bad.write_text(GRID
                   + "G1,2026-01-01 10:00,c,g,w,噪音,电话13812345678,x,已办结,5\n"
                   + "G2,2026-01-02 10:00,c,g,w,噪音,电话13912345678,身份证110105199003071234,已办结,5,多余\n",
                   encoding="utf-8")
    env = {**os.environ, "COCKPIT_DB": str(tmp_path / "c.duckdb")}
    out = subprocess.run([sys.executable, "-m", "etl", "load", str(bad), "--no-painpoints"], cwd=REPO,
                         env=env, capture_output=True, text=True, timeout=120)
    text = out.stdout + out.stderr
    assert out.returncode == 1
    assert "台账.csv" in text and "line 3 of the file has 11 cells where the header has 10" in text
    for raw in ("13912345678", "110105199003071234", "1391234", "19900307"):
        assert raw not in text
    for dump in ("Possible fixes", "strict_mode", "null_padding", "Original Line", "Traceback"):
        assert dump not in text
    refusal = [line for line in text.splitlines() if "REFUSED" in line or "refused:" in line]
    assert refusal and all(len(line) < 300 for line in text.splitlines())


@pytest.mark.parametrize("content,expected", [
    ('"unterminated 13812345678\n', "opens a quoted cell that is never closed"),
    ("13812345678\n", "has 7 cells where the header has 10"),
])
def test_other_csv_faults_are_one_sentence_too(tmp_path, content, expected):
    bad = tmp_path / "bad.csv"
    bad.write_text(GRID + "G1,2026-01-01 10:00,c,g,w,噪音,d,x,已办结,5\nG2,2026-01-01 10:00,c,g,w,噪音,"
                   + content, encoding="utf-8")
    [res] = load_paths([bad], tmp_path / "c.duckdb", progress=None)
    assert res.status == "refused" and expected in res.message and "line 3" in res.message
    assert "13812345678" not in res.message and "\n" not in res.message


def test_refusal_messages_mask_numbers_in_headers(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("联系人13812345678,金额\n1,2\n", encoding="utf-8")
    lines: list[str] = []
    [res] = load_paths([path], tmp_path / "c.duckdb", progress=lines.append)
    assert res.status == "refused" and "138****5678" in res.message
    assert not any("13812345678" in line for line in lines) and lines
