"""Writing an export deterministically: CSV in UTF-8, UTF-8 with BOM or GBK, and xlsx with fixed
workbook properties; planted rows inserted at random places."""
from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import xlsxwriter

from etl.demo import text as T
from etl.demo.world import Ctx


def emit(ctx: Ctx, name: str, headers: dict, view: pd.DataFrame, encoding: str,
          formats: dict | None = None) -> Path:
    """Write one export: canonical columns renamed to this office's headers."""
    path = ctx.inbox / name
    out = view[list(headers)].rename(columns=headers)
    if encoding == "xlsx":
        write_xlsx(ctx, path, {"Sheet1": (out, {headers[c]: f for c, f in (formats or {}).items() if c in headers})})
    else:
        with open(path, "w", encoding=encoding, newline="") as f:   # 'gbk' raises on anything outside GBK
            writer = csv.writer(f, lineterminator="\r\n" if encoding == "gbk" else "\n")
            writer.writerow(out.columns)
            writer.writerows(zip(*(["" if v is None or v != v else v for v in out[c].tolist()] for c in out.columns)))
    ctx.files.append(path)
    ctx.rows[name] = len(out)
    return path


def write_xlsx(ctx: Ctx, path: Path, sheets: dict) -> None:
    """Sheets of (frame, {column: 'date'|'datetime'}); numbers in those columns become Excel dates."""
    created = datetime(ctx.end.year, ctx.end.month, ctx.end.day, 18, 0, 0)
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_numbers": False,
                                         "strings_to_formulas": False, "strings_to_urls": False})
    wb.set_properties({"created": created, "author": T.STREET + "办事处"})
    fmts = {"date": wb.add_format({"num_format": "yyyy-mm-dd"}),
            "datetime": wb.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})}
    for name, (frame, kinds) in sheets.items():
        ws = wb.add_worksheet(name)
        ws.write_row(0, 0, list(frame.columns))
        col_fmt = [fmts.get(kinds.get(c)) for c in frame.columns]
        put_s, put_n = ws.write_string, ws.write_number
        for r, row in enumerate(zip(*(frame[c].tolist() for c in frame.columns)), 1):
            for c, v in enumerate(row):
                if isinstance(v, str):
                    if v:
                        put_s(r, c, v)
                elif v is not None and v == v:       # skip None and NaN
                    put_n(r, c, v, col_fmt[c])
    wb.close()


def insert_rows(rng: np.random.Generator, view: pd.DataFrame, extra: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """`extra` rows inserted at random places; returns the frame and their sheet rows (header = 1)."""
    key = np.concatenate([np.arange(len(view)) * 2 + 1, rng.integers(0, len(view) + 1, len(extra)) * 2])
    order = np.argsort(key, kind="stable")
    position = np.empty_like(order)
    position[order] = np.arange(len(order))
    both = pd.concat([view, extra], ignore_index=True).iloc[order].reset_index(drop=True)
    return both, position[len(view):] + 2
