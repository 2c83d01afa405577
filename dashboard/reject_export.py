"""Rejected rows as a workbook a clerk can fix and upload again (pure; no streamlit).

One row per rejected source row: the original columns in the file's order (as the loader
kept them, PII masked) and, beside them, every reason for that row. The reason column's
header matches no known column, so a fixed file loads with it still in place.
"""
from __future__ import annotations

import json
from typing import Callable

import pandas as pd

from dashboard.export import to_xlsx_bytes


def fix_sheet(rejects: pd.DataFrame, reason_header: str,
              reason_text: Callable[[str], str] = str) -> pd.DataFrame:
    """rejects (row, column, reason, original_values JSON) -> one row per source row."""
    columns: list[str] = []
    rows: dict[int, dict] = {}
    reasons: dict[int, list[str]] = {}
    for r in rejects.sort_values(["row"]).to_dict("records"):
        n = int(r["row"])
        if n not in rows:
            original = json.loads(r.get("original_values") or "{}")
            columns += [c for c in original if c not in columns]
            rows[n] = original
            reasons[n] = []
        reasons[n].append(f"{r['column']}: {reason_text(r['reason'])}")
    out = pd.DataFrame([rows[n] for n in rows], columns=columns)
    out[reason_header] = ["; ".join(reasons[n]) for n in rows]
    return out


def fix_workbook(rejects: pd.DataFrame, reason_header: str,
                 reason_text: Callable[[str], str] = str) -> bytes:
    """The .xlsx bytes of fix_sheet (formulas escaped by dashboard.export)."""
    return to_xlsx_bytes(fix_sheet(rejects, reason_header, reason_text), sheet="rejects")
