"""The static HTML preview tables (dashboard/htmltable.py): formatted as the grid, data inert."""
from __future__ import annotations

from datetime import date
from html.parser import HTMLParser

import pandas as pd

from dashboard import htmltable
from dashboard.safe import html_text

HOSTILE = "<img src=http://127.0.0.1:18999/i.png onerror=alert(1)>\"' & <a href='http://x'>x</a>"


class Parsed(HTMLParser):
    """Tags with their attributes, and each row's cell texts as a reader sees them."""

    def __init__(self, body: str):
        super().__init__(convert_charrefs=True)
        self.tags, self.rows, self.cell = [], [], None
        self.feed(body)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self.cell = ""

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self.rows[-1].append(self.cell)
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data


def test_hostile_text_is_inert_text():
    df = pd.DataFrame({"name": [HOSTILE, "清河社区"], HOSTILE: [1, 2]})
    body = htmltable.render(df, {"name": "名称"})
    parsed = Parsed(body)
    # only the preview's own tags and attributes: nothing a browser would fetch or run
    assert {tag for tag, _ in parsed.tags} <= {"style", "div", "table", "thead", "tbody", "tr",
                                              "th", "td", "span", "i"}
    assert all(set(attrs) <= {"class", "title", "style"} for _, attrs in parsed.tags)
    assert "<img" not in body and "<a " not in body
    header, first, second = parsed.rows
    assert header == ["名称", HOSTILE]                    # an unlabelled column name, as text
    cut = HOSTILE[:htmltable.CELL_CHARS - 1] + "…"
    assert first == [cut, "1"] and second == ["清河社区", "2"]
    titles = [attrs["title"] for _, attrs in parsed.tags if "title" in attrs]
    assert titles == [HOSTILE]                           # the whole text one hover away
    assert html_text(HOSTILE).count("&lt;") == HOSTILE.count("<")


def test_cells_are_formatted_as_the_grid_shows_them():
    df = pd.DataFrame({"budget_yuan": [1234567.4, None], "share": [0.1234, 0.5],
                       "progress_pct": [45.4, 150.0], "on": [date(2026, 6, 1), None],
                       "at": [pd.Timestamp("2026-06-01 08:30:00"), pd.Timestamp("2026-06-02")],
                       "flag": [True, False], "n": [3, 4]})
    body = htmltable.render(df, {}, formats={"budget_yuan": "¥%,.0f", "share": "percent"},
                            progress=("progress_pct",))
    parsed = Parsed(body)
    assert parsed.rows[1] == ["¥1,234,567", "12.34%", "45%", "2026-06-01", "2026-06-01 08:30:00", "✓", "3"]
    assert parsed.rows[2] == ["", "50.00%", "150%", "", "2026-06-02", "✗", "4"]
    widths = [attrs["style"] for tag, attrs in parsed.tags if tag == "i"]
    assert widths == ["width:45%", "width:100%"]          # the bar stays inside its track


def test_first_rows_or_a_scrolling_box():
    df = pd.DataFrame({"id": [f"P{i:03d}" for i in range(25)]})
    shown = Parsed(htmltable.render(df, {"id": "编号"})).rows
    assert len(shown) == 1 + htmltable.PREVIEW_ROWS and shown[-1] == ["P009"]
    boxed = htmltable.render(df, {"id": "编号"}, rows=len(df), height=360)
    assert len(Parsed(boxed).rows) == 26
    assert '<div class="ck-tbl" style="max-height:360px;overflow-y:auto">' in boxed
