"""Safe downloads: CSV (UTF-8 with BOM, so Excel opens Chinese correctly) and .xlsx.

Spreadsheet formula injection: a text cell that starts with `=`, `+`, `-`, `@`, tab or
carriage return is evaluated by Excel/WPS/LibreOffice as a formula (or DDE call). Resident
feedback is free text typed by anyone, so every such text cell is neutralised:
- CSV: prefixed with an apostrophe (`'=1+1`), the OWASP recommendation;
- xlsx: written as a string cell with the quote-prefix style (Excel's own "leading
  apostrophe": shown as typed, stays text even when the cell is edited) *and* the
  apostrophe prefix, so tools that ignore the style still see inert text.
Numbers stay numbers (a negative number is not a formula); only text is escaped.
A text over Excel's 32,767-character cell limit is cut with a visible "…[truncated]" mark.
No streamlit import: pages hand these to st.download_button as callables, so the bytes are
built only when someone clicks (not on every rerun).
"""
from __future__ import annotations

import datetime as dt
import decimal
import io
import math
from typing import Callable

import numpy as np
import pandas as pd

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
XLSX_CELL_CHARS = 32_767          # Excel's limit for one cell's text
TRUNCATED_MARK = "…[truncated]"
EXPORT_ROW_CAP = 100_000          # rows per download; xlsx's own hard limit is 1,048,576
CSV_MIME = "text/csv"
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def is_dangerous(value: object) -> bool:
    """True for a text value a spreadsheet would evaluate as a formula."""
    return isinstance(value, str) and value.startswith(FORMULA_PREFIXES)


def escape_cell(value: object) -> object:
    """The value made inert for a spreadsheet: dangerous text gets a leading apostrophe."""
    return "'" + value if is_dangerous(value) else value


def escape_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of df with every text cell (and header) escaped; numeric columns untouched."""
    out = df.copy()
    for col in out.columns:
        if not (pd.api.types.is_numeric_dtype(out[col]) or pd.api.types.is_datetime64_any_dtype(out[col])):
            out[col] = out[col].map(escape_cell).astype(object)
    out.columns = [escape_cell(str(c)) for c in out.columns]
    return out


def cap_rows(df: pd.DataFrame, cap: int = EXPORT_ROW_CAP) -> tuple[pd.DataFrame, bool]:
    """(the first `cap` rows, whether rows were dropped)."""
    if len(df) > cap:
        return df.head(cap), True
    return df, False


def to_csv_bytes(df: pd.DataFrame, cap: int = EXPORT_ROW_CAP) -> bytes:
    """CSV in UTF-8 with BOM, formulas escaped, at most `cap` rows."""
    capped, _ = cap_rows(df, cap)
    return escape_frame(capped).to_csv(index=False, lineterminator="\r\n").encode("utf-8-sig")


def to_xlsx_bytes(df: pd.DataFrame, cap: int = EXPORT_ROW_CAP, sheet: str = "data") -> bytes:
    """An .xlsx workbook of df: text as quote-prefixed strings, numbers and dates typed."""
    import xlsxwriter

    capped, _ = cap_rows(df, cap)
    buf = io.BytesIO()
    options = {"in_memory": True, "strings_to_formulas": False, "strings_to_numbers": False,
               "strings_to_urls": False, "nan_inf_to_errors": False}
    with xlsxwriter.Workbook(buf, options) as wb:
        ws = wb.add_worksheet(sheet[:31])
        fmt = {"text": wb.add_format({"quote_prefix": True}),
               "date": wb.add_format({"num_format": "yyyy-mm-dd"}),
               "datetime": wb.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})}
        for j, name in enumerate(capped.columns):
            _write_value(ws, 0, j, str(name), fmt)
        for i, row in enumerate(capped.itertuples(index=False, name=None), start=1):
            for j, value in enumerate(row):
                _write_value(ws, i, j, value, fmt)
        ws.freeze_panes(1, 0)
    return buf.getvalue()


def _write_value(ws, row: int, col: int, value: object, fmt: dict) -> None:
    """One cell, typed: blanks, numbers, dates, booleans, else escaped text."""
    if isinstance(value, np.generic) and not isinstance(value, (np.datetime64, np.timedelta64)):
        value = value.item()
    if value is None or value is pd.NaT or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        ws.write_blank(row, col, None)
    elif isinstance(value, bool):
        ws.write_boolean(row, col, value)
    elif isinstance(value, (int, float, decimal.Decimal)):
        number = float(value)
        if math.isfinite(number):
            ws.write_number(row, col, number)
        else:
            ws.write_string(row, col, str(value))
    elif isinstance(value, (pd.Timestamp, dt.datetime, np.datetime64)):
        ws.write_datetime(row, col, pd.Timestamp(value).to_pydatetime().replace(tzinfo=None),
                          fmt["datetime"])
    elif isinstance(value, dt.date):
        ws.write_datetime(row, col, dt.datetime.combine(value, dt.time()), fmt["date"])
    else:
        text = value if isinstance(value, str) else _text_of(value)
        if is_dangerous(text):
            ws.write_string(row, col, fit_cell("'" + text), fmt["text"])
        else:
            ws.write_string(row, col, fit_cell(text))


def fit_cell(text: str) -> str:
    """Text within Excel's cell limit; a longer text is cut and visibly marked, never cut silently
    (xlsxwriter would drop the rest without a word)."""
    if len(text) <= XLSX_CELL_CHARS:
        return text
    return text[:XLSX_CELL_CHARS - len(TRUNCATED_MARK)] + TRUNCATED_MARK


def _text_of(value: object) -> str:
    """Text for non-scalar cells (lists from DuckDB arrays, numpy scalars, ...)."""
    if isinstance(value, (list, tuple, np.ndarray)):
        return "、".join(str(v) for v in value)
    return str(value)


def audited(fmt: str, df: pd.DataFrame | Callable[[], pd.DataFrame], page: str,
            **detail) -> Callable[[], bytes]:
    """A download callable that builds the bytes and writes one audit entry when clicked.

    `df` may itself be a callable that returns the frame: then even the rows are read only
    when someone clicks (the explorer shows one page of rows and exports all of them).
    The signed-in party is captured now (in the page run): Streamlit calls the callable
    later, outside the run, where the audit's current actor is no longer set.
    """
    from dashboard.access import audit

    actor = audit.current_actor()
    build = to_csv_bytes if fmt == "csv" else to_xlsx_bytes

    def download() -> bytes:
        frame = df() if callable(df) else df
        data = build(frame)
        audit.record("export", actor=actor, page=page, format=fmt,
                     rows=min(len(frame), EXPORT_ROW_CAP), **detail)
        return data
    return download
