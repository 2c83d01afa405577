"""The rejects workbook: one row per rejected source row with its reasons beside it, formulas
inert, and - once fixed - loadable again by the real ETL."""
from __future__ import annotations

import io

import duckdb
import openpyxl

from dashboard.reject_export import fix_sheet, fix_workbook
from etl import dryrun
from etl.load import load_paths

GRID = ("事件编号,上报时间,街道,社区,网格编号,事件类型,事件描述,处置状态,办结时间\n"
        "G-1,2026-11-01 08:00:00,清河街道,清河一社区,QH-01-01,噪音扰民,=HYPERLINK(\"x\"),处置中,\n"
        "G-2,坏日期,清河街道,清河一社区,QH-01-01,噪音扰民,=HYPERLINK(\"x\"),搁置,\n"
        "G-3,2026-11-03 08:00:00,清河街道,清河一社区,QH-01-01,噪音扰民,ok,已办结,2026-11-01\n"
        "G-4,2026-11-04 08:00:00,清河街道,清河一社区,QH-01-01,噪音扰民,ok,处置中,\n"
        "G-5,2026-11-05 08:00:00,清河街道,清河一社区,QH-01-01,噪音扰民,ok,处置中,\n")


def test_rejects_round_trip_through_the_workbook(tmp_path):
    db = tmp_path / "cockpit.duckdb"
    (tmp_path / "in").mkdir()
    src = tmp_path / "in" / "grid.csv"
    src.write_text(GRID, encoding="utf-8")
    p = dryrun.preview([src], db, workdir=dryrun.new_workdir(db), loaded_by="t")
    [rep] = p.reports
    assert rep.rejected == 2
    sheet = fix_sheet(rep.rejects, "拒收原因", str.upper)
    assert sheet["事件编号"].tolist() == ["G-2", "G-3"]
    assert sheet["拒收原因"].tolist() == ["上报时间: UNPARSEABLE DATE; 处置状态: UNKNOWN STATUS VALUE",
                                      "办结时间: RESOLVED BEFORE REPORTED"]
    wb = openpyxl.load_workbook(io.BytesIO(fix_workbook(rep.rejects, "拒收原因")))
    ws = wb.active
    header = [c.value for c in ws[1]]
    assert ws.cell(2, header.index("事件描述") + 1).value == "'=HYPERLINK(\"x\")"   # never a formula
    dryrun.confirm(p, painpoints=False)
    # the clerk fixes both rows in the workbook and uploads it again
    ws.cell(2, header.index("上报时间") + 1, "2026-11-02 08:00:00")
    ws.cell(2, header.index("处置状态") + 1, "处置中")
    ws.cell(3, header.index("办结时间") + 1, "2026-11-04 08:00:00")
    fixed = tmp_path / "in" / "grid-rejects.xlsx"
    wb.save(fixed)
    [res] = load_paths([fixed], db, progress=None)
    assert (res.status, res.rows_loaded, res.rows_rejected) == ("loaded", 2, 0)
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM grid_reports").fetchall() == [(5,)]
