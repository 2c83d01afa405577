"""A page's table as it opens: its first rows as one static, escaped HTML table (pure).

Why: Streamlit's interactive grid (st.dataframe) loads and starts its own 1.2 MB of code
(glide-data-grid, Arrow formatting) in every new browser document, about 0.2 s of the main
thread per page opened by its URL (docs/BENCHMARKS.md, "Lighter elements on opening"). A
page's big tables therefore open as this preview - the rows a grid shows before any scroll,
formatted as the grid formats them - with the full grid (sort, search, download) one switch
away (dashboard.ui.table, `preview=True`).

Data is never markup: every header and cell goes through `dashboard.safe.html_text` (`<`, `>`,
`&` and quotes as entities), the only attributes are fixed class names and a `title` (the
cell's escaped text, so a cut name stays readable on hover), and progress bars are widths
computed from numbers. Nothing in the data can make the browser fetch anything.
"""
from __future__ import annotations

import math
import re
from datetime import date, datetime

import pandas as pd

from dashboard.safe import html_text

PREVIEW_ROWS = 10          # about what st.dataframe's default height shows before scrolling
CELL_CHARS = 40            # longer text is cut with "…"; the title attribute holds all of it
_BAR = "#2F6FB2"           # the house "in progress" blue, as ui.table's ProgressColumn
STYLE = (
    "<style>"
    ".ck-tbl{overflow-x:auto;max-width:100%;border:1px solid rgba(49,51,63,.1);"
    "border-radius:.5rem}"
    ".ck-tbl table{border-collapse:collapse;width:100%;font-size:14px;line-height:1.4}"
    ".ck-tbl th{background:rgba(49,51,63,.04);color:rgba(49,51,63,.75);font-weight:400;"
    "text-align:left;white-space:nowrap;padding:6px 8px;border-bottom:1px solid rgba(49,51,63,.1)}"
    ".ck-tbl td{padding:5px 8px;white-space:nowrap;border-bottom:1px solid rgba(49,51,63,.06)}"
    ".ck-tbl td.n,.ck-tbl th.n{text-align:right;font-variant-numeric:tabular-nums}"
    ".ck-tbl .bar{display:inline-block;width:60px;height:6px;margin-right:6px;border-radius:3px;"
    "background:rgba(49,51,63,.1);vertical-align:middle}"
    f".ck-tbl .bar i{{display:block;height:6px;border-radius:3px;background:{_BAR}}}"
    "</style>"
)


def _missing(v) -> bool:
    return v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and math.isnan(v))


_PRINTF = re.compile(r"^(?P<pre>[^%]*)%(?P<comma>,?)\.(?P<digits>\d+)f(?P<post>.*)$")


def number_text(x: float, fmt: str | None) -> str:
    """One number as the grid shows it with `fmt` (our subset of Streamlit's formats); ui's
    gap-filled columns use it too."""
    if fmt == "percent":
        return f"{100 * x:.2f}%"
    m = _PRINTF.match(fmt or "")
    if m:
        spec = f"{',' if m['comma'] else ''}.{m['digits']}f"
        return f"{m['pre']}{format(x, spec)}{m['post']}"
    return f"{x:.0f}" if float(x).is_integer() else f"{x:,.2f}".rstrip("0").rstrip(".")


def _text(v) -> str:
    if isinstance(v, bool):
        return "✓" if v else "✗"
    if isinstance(v, (pd.Timestamp, datetime)):
        ts = pd.Timestamp(v)
        return ts.strftime("%Y-%m-%d") if ts == ts.normalize() else ts.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(v, date):
        return v.isoformat()
    return str(v)


def cell(v, *, fmt: str | None = None, progress: bool = False) -> tuple[str, bool]:
    """One cell's inner HTML and whether it is a number (right-aligned)."""
    if _missing(v):
        return "", False
    if progress and isinstance(v, (int, float)) and not isinstance(v, bool):
        width = max(0.0, min(100.0, float(v)))
        return (f'<span class="bar"><i style="width:{width:.0f}%"></i></span>'
                f"{float(v):.0f}%", True)
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return html_text(number_text(float(v), fmt)), True
    text = _text(v)
    if len(text) > CELL_CHARS:
        return f'<span title="{html_text(text)}">{html_text(text[:CELL_CHARS - 1] + "…")}</span>', False
    return html_text(text), False


def render(df: pd.DataFrame, labels: dict[str, str], *, formats: dict[str, str] | None = None,
           progress: tuple[str, ...] = (), rows: int = PREVIEW_ROWS,
           height: int | None = None) -> str:
    """The first `rows` rows of `df` as an HTML table with the headers `labels` (pure);
    `height` (pixels) makes it a box of that height that scrolls, as the grid would be."""
    formats = formats or {}
    head = df.head(rows)
    numeric = {c: pd.api.types.is_numeric_dtype(df[c].dtype) and not pd.api.types.is_bool_dtype(df[c].dtype)
               for c in df.columns}
    ths = "".join(f'<th class="{"n" if numeric[c] else ""}">{html_text(labels.get(c, c))}</th>'
                  for c in df.columns)
    body = []
    for values in head.itertuples(index=False, name=None):
        tds = []
        for c, v in zip(df.columns, values):
            inner, is_number = cell(v, fmt=formats.get(c), progress=c in progress)
            tds.append(f'<td class="{"n" if is_number else ""}">{inner}</td>')
        body.append("<tr>" + "".join(tds) + "</tr>")
    box = f' style="max-height:{int(height)}px;overflow-y:auto"' if height else ""
    return (f'{STYLE}<div class="ck-tbl"{box}><table><thead><tr>{ths}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table></div>')
