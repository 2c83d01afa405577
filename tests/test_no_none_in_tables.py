"""No table on any page shows None, NaN or NaT, in either language: every page is rendered
through the real entry point (AppTest of dashboard/app.py) on the demo database, with the
default period and with the whole two years, and every cell of every dataframe is inspected."""
from __future__ import annotations

import math
import re

import pandas as pd
import pytest
from pages_fixture import app, full_tables, open_drill_downs, previews
from sweep import case

from dashboard import cache
from dashboard.ui import without_missing

PAGES = ("overview", "projects", "funds", "grid", "linkage", "painpoints", "explore",
         "sql_console", "briefing")
BAD_TEXT = {"none", "nan", "nat", "<na>", "null"}
RAW_NAME = re.compile(r"[a-z][a-z0-9]*(_[a-z0-9]+)*")     # e.g. "label", "budget_yuan"


def bad_cells(df: pd.DataFrame) -> list[tuple[str, object]]:
    """(column, value) of every cell that would read None / NaN / NaT."""
    out = []
    for col in df.columns:
        for v in df[col].tolist():
            items = list(v) if isinstance(v, (list, tuple)) or hasattr(v, "tolist") and not isinstance(v, str) \
                else [v]
            for x in items:
                if x is None or x is pd.NaT or x is pd.NA \
                        or (isinstance(x, float) and math.isnan(x)) \
                        or (isinstance(x, str) and x.strip().lower() in BAD_TEXT):
                    out.append((col, x))
    return out


@pytest.fixture(autouse=True)
def demo(demo_db, use_db):
    use_db(demo_db)
    cache.clear()
    yield
    cache.clear()


def test_the_check_itself_finds_all_three():
    df = pd.DataFrame({"a": [1.0, float("nan")], "b": ["x", None],
                       "c": pd.to_datetime(["2026-01-01", None]), "d": [["k", None], ["k"]]})
    assert {c for c, _ in bad_cells(df)} == {"a", "b", "c", "d"}
    assert bad_cells(pd.DataFrame({"s": ["None", "ok"]})) == [("s", "None")]


def test_without_missing_leaves_nothing_to_find():
    df = pd.DataFrame({"n": [1.5, None], "i": pd.array([3, None], dtype="Int64"), "t": ["x", None],
                       "d": pd.to_datetime(["2026-01-01 08:00", None]), "b": [True, None],
                       "full": [1, 2]})
    shown, as_text = without_missing(df, {"n": "¥%,.0f"})
    assert bad_cells(shown) == []
    assert shown["n"].tolist() == ["¥2", "—"] and shown["t"].tolist() == ["x", ""]
    assert shown["d"].tolist() == ["2026-01-01 08:00:00", "—"] and shown["b"].tolist() == ["✓", ""]
    assert shown["full"].tolist() == [1, 2] and "full" not in as_text     # untouched without gaps
    assert df["n"].isna().sum() == 1                                          # input not mutated


# the fast loop renders every page once (two years, Chinese); the full run all four combinations
@pytest.mark.parametrize("period, lang", [
    case(period, lang, fast=False, id=f"{period}-{lang}")      # see left_to_full_run (tests/sweep.py)
    for period in ("default", "two_years") for lang in ("zh", "en")])
def test_no_page_table_shows_none_nan_or_nat(lang, period):
    """... and in Chinese no static table's header is a column's code name (untranslated)."""
    query = {"lang": lang}
    if period == "two_years":
        query.update({"from": "2024-12-01", "to": "2026-11-22"})
    found, tables = {}, 0
    for page in PAGES:
        at = app(page, timeout=180, **query)
        assert not at.exception, (page, at.exception)
        open_drill_downs(at, required=False)        # lists kept one click away (messages)
        assert not at.exception, (page, at.exception)
        for i, rows in enumerate(previews(at)):     # the static tables a page opens with
            bad = [c for row in rows for c in row if c.strip().lower() in BAD_TEXT]
            if lang == "zh":                        # a header left as its column's code name
                bad += [h for h in rows[0] if RAW_NAME.fullmatch(h.strip())]
            if bad:
                found[f"{page}#preview{i}"] = bad[:5]
        full_tables(at, required=False)             # ... and the grids they switch to
        assert not at.exception, (page, at.exception)
        for i, frame in enumerate(at.dataframe):
            tables += 1
            bad = bad_cells(frame.value)
            if bad:
                found[f"{page}#{i}"] = bad[:5]
    assert tables >= 8, tables          # the check saw real tables, not none at all
    assert found == {}


@pytest.mark.parametrize("lang", [case("zh", fast=False, id="zh"), case("en", fast=False, id="en")])
def test_tables_behind_buttons_show_no_none(lang):
    """The SQL console's result (a query with NULLs in every kind of column) and the pain-point
    page's on-demand re-clustering."""
    at = app("sql_console", timeout=180, lang=lang)
    at.text_area(key="sql_text").set_value(
        "SELECT feedback_id, rating, likes, replied_at, reply FROM feedback "
        "WHERE rating IS NULL AND reply IS NULL LIMIT 20").run()
    at.button(key="sql_run").click().run()
    assert not at.exception
    assert len(at.dataframe) == 1 and len(at.dataframe[0].value) == 20
    assert bad_cells(at.dataframe[0].value) == []
    at = app("painpoints", timeout=180, lang=lang)
    at.button(key="painpoints_recluster").click().run()
    assert not at.exception
    open_drill_downs(at)            # the message lists, one click away
    full_tables(at)                 # the page's own tables open as previews: their grids too
    assert not at.exception
    shown = [d.value for d in at.dataframe]
    assert len(shown) >= 3 and all(bad_cells(v) == [] for v in shown)
