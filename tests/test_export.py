"""Exports: UTF-8-BOM CSV and xlsx, with every dangerous formula prefix neutralised."""
from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import openpyxl
import pandas as pd
import pytest

from dashboard import export

DANGEROUS = ["=1+1", "+1+2", "-1+2", "@SUM(A1)", "\t=cmd", "\r=cmd",
             "=HYPERLINK(\"http://x\",\"点我\")", "-", "=cmd|' /C calc'!A0"]
SAFE = ["加装电梯", "1+1", "a=b", " =not-first", "", "'already"]


@pytest.mark.parametrize("text", DANGEROUS)
def test_escape_cell_prefixes_every_dangerous_start(text):
    assert export.is_dangerous(text)
    assert export.escape_cell(text) == "'" + text


@pytest.mark.parametrize("text", SAFE)
def test_escape_cell_leaves_safe_text(text):
    assert export.escape_cell(text) == text


@pytest.mark.parametrize("number", [-1, -2.5, 0, 3, Decimal("-4.50")])
def test_numbers_are_never_escaped(number):
    assert export.escape_cell(number) == number


def _frame() -> pd.DataFrame:
    return pd.DataFrame({
        "text": DANGEROUS + SAFE[:2],
        "amount_yuan": [-1.5, 2.0, -3.0, 4.0, 5.0, 6.0, 7.0, 8.0, -9.0, 10.0, 11.0],
        "count": list(range(-5, 6)),
        "on": [dt.date(2026, 1, i + 1) for i in range(11)],
    })


def _read_csv(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf"), "CSV must start with a UTF-8 BOM"
    return list(csv.reader(io.StringIO(data[3:].decode("utf-8"), newline="")))


def test_csv_has_bom_chinese_and_escaped_cells():
    rows = _read_csv(export.to_csv_bytes(_frame()))
    assert rows[0] == ["text", "amount_yuan", "count", "on"]
    texts = [r[0] for r in rows[1:]]
    for original, written in zip(DANGEROUS, texts):
        assert written == "'" + original
    assert texts[-2:] == SAFE[:2]
    assert [r[1] for r in rows[1:4]] == ["-1.5", "2.0", "-3.0"]   # numbers stay numbers
    assert rows[1][2] == "-5"


def test_csv_escapes_dangerous_header():
    rows = _read_csv(export.to_csv_bytes(pd.DataFrame({"=evil": ["x"]})))
    assert rows[0] == ["'=evil"]


def test_xlsx_text_is_inert_and_numbers_are_numbers():
    wb = openpyxl.load_workbook(io.BytesIO(export.to_xlsx_bytes(_frame())))
    ws = wb.active
    assert [c.value for c in ws[1]] == ["text", "amount_yuan", "count", "on"]
    for i, original in enumerate(DANGEROUS, start=2):
        cell = ws.cell(row=i, column=1)
        assert cell.data_type == "s", "a dangerous cell must be a string, never a formula"
        # OOXML stores CR as _x000D_ (Excel decodes it; openpyxl does not)
        assert cell.value.replace("_x000D_", "\r") == "'" + original
        assert cell.quotePrefix, "Excel's quote prefix keeps it text even when edited"
    safe = ws.cell(row=len(DANGEROUS) + 2, column=1)
    assert safe.value == SAFE[0] and not safe.quotePrefix
    assert ws.cell(row=2, column=2).value == -1.5 and ws.cell(row=2, column=2).data_type == "n"
    assert ws.cell(row=2, column=3).value == -5
    assert ws.cell(row=2, column=4).value == dt.datetime(2026, 1, 1)
    assert not any(c.data_type == "f" for row in ws.iter_rows() for c in row)


def test_xlsx_handles_nulls_decimals_timestamps_and_lists():
    df = pd.DataFrame({"a": [None, "x"], "b": [Decimal("1.25"), None],
                       "c": pd.to_datetime(["2026-11-16 08:30", None]),
                       "d": [["停车", "噪音"], None], "e": [True, False]})
    ws = openpyxl.load_workbook(io.BytesIO(export.to_xlsx_bytes(df))).active
    assert ws.cell(row=2, column=1).value is None
    assert ws.cell(row=2, column=2).value == 1.25
    assert ws.cell(row=2, column=3).value == dt.datetime(2026, 11, 16, 8, 30)
    assert ws.cell(row=3, column=3).value is None
    assert ws.cell(row=2, column=4).value == "停车、噪音"
    assert ws.cell(row=2, column=5).value is True


def test_row_cap_applies_to_both_formats():
    df = pd.DataFrame({"n": range(25)})
    capped, truncated = export.cap_rows(df, 10)
    assert len(capped) == 10 and truncated
    assert export.cap_rows(df, 25)[1] is False
    assert len(_read_csv(export.to_csv_bytes(df, cap=10))) == 11
    ws = openpyxl.load_workbook(io.BytesIO(export.to_xlsx_bytes(df, cap=10))).active
    assert ws.max_row == 11
