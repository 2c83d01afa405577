"""The shell: URL <-> filters round trip, navigation over ten pages, empty database, panels
that fail alone, and no Chinese UI strings left in English mode."""
from __future__ import annotations

import shutil
from datetime import date

import duckdb
import pytest
from pages_fixture import (AS_OF, CJK, PAGE_FILES, app, cjk_leftovers, data_values, page_strings,
                           publish_changed)
from sweep import case, left_to_full_run

from dashboard.filters import Filters
from etl.dbfile import ensure_schema

ALL_PAGES = ("overview", "projects", "funds", "grid", "linkage", "painpoints", "explore",
             "sql_console", "briefing", "data")
EN_PAGES = (*PAGE_FILES, "explore", "sql_console")
# the fast loop's slice of the two per-page sweeps: the console in English, the briefing, the data
# page and the pain points in Chinese (the other pages' code runs in their own page tests:
# tests/sweep.py left_to_full_run); the full run sweeps every page in both
EN_FAST = {"sql_console"}
ZH_FAST = {"briefing", "data", "painpoints"}


@left_to_full_run
def test_url_restores_filters(db):
    at = app("overview", **{"from": "2026-01-01", "community": "秋实社区", "lang": "en"})
    assert not at.exception
    f = at.session_state["filters"]
    assert f == Filters(date_from=date(2026, 1, 1), date_to=AS_OF, street=None,
                        community="秋实社区", lang="en")
    assert at.selectbox(key="f_community").value == "秋实社区"
    assert at.radio(key="f_lang").value == "en"
    assert at.title[0].value == "Overview"
    # the URL now carries the whole view, including the defaulted end date
    assert at.query_params["from"] == "2026-01-01"
    assert at.query_params["to"] == AS_OF.isoformat()
    assert at.query_params["community"] == "秋实社区"


def test_widget_changes_flow_back_into_the_url(db):
    at = app("overview", **{"from": "2026-06-01", "to": "2026-06-30"})
    at.selectbox(key="f_community").set_value("春晖社区").run()
    grids = at.selectbox(key="f_grid").options
    assert grids[1:] == ["CH-01", "CH-02"]          # the grid list cascades from the community
    at.selectbox(key="f_grid").set_value("CH-02").run()
    at.radio(key="f_lang").set_value("en").run()
    assert at.query_params["grid"] == "CH-02"
    assert at.query_params["lang"] == "en"
    assert at.session_state["filters"].grid_id == "CH-02"
    # a link made of those parameters restores the same filters in a new session
    again = app("overview", **at.query_params)
    assert again.session_state["filters"] == at.session_state["filters"]


@left_to_full_run
def test_malformed_url_values_are_ignored(db):
    at = app("overview", **{"from": "not-a-date", "community": "没有这个社区"})
    assert not at.exception
    f = at.session_state["filters"]
    assert f.community is None and f.date_from == date(2026, 6, 1)


@left_to_full_run
def test_navigation_registers_all_ten_pages(db):
    at = app("overview")
    for name in ALL_PAGES:
        at.switch_page(f"../pages/{name}.py")      # raises when the page is not registered


@pytest.mark.parametrize("kind", ["missing", "schema_only"])
def test_empty_database_shows_how_to_load(kind, tmp_path, monkeypatch):
    path = tmp_path / "cockpit.duckdb"
    if kind == "schema_only":
        con = duckdb.connect(str(path))
        ensure_schema(con)
        con.close()
    monkeypatch.setenv("COCKPIT_DB", str(path))
    for page in PAGE_FILES:
        at = app(page)
        assert not at.exception, page
        assert any("python -m etl demo" in i.value for i in at.info), page


def test_a_failing_panel_shows_an_error_and_the_page_goes_on(cockpit_db, tmp_path, monkeypatch):
    broken = tmp_path / "broken.duckdb"
    shutil.copyfile(cockpit_db, broken)
    con = duckdb.connect(str(broken))
    con.execute("DROP TABLE pain_points")     # an older file without the pain-point tables
    con.close()
    monkeypatch.setenv("COCKPIT_DB", str(broken))
    at = app("overview", **{"from": "2026-06-01", "to": "2026-06-30"})
    assert not at.exception
    assert len(at.error) == 1 and "pain_points" in at.error[0].value.replace("\\", "")   # escaped as text
    assert len(at.metric) == 9 + 4              # the KPI panel and the participation cards rendered
    assert [s.value for s in at.subheader][-2] == "预警"   # so did the panel after the failing one


@pytest.mark.parametrize("page", [case(p, fast=p in EN_FAST, id=p) for p in EN_PAGES])
def test_english_pages_have_no_chinese_ui_strings(page, db):
    at = app(page, **{"from": "2026-01-01", "to": "2026-06-30", "lang": "en"})
    assert not at.exception
    if page == "projects":                      # open the drill-down too
        at.selectbox(key="projects_pick").set_value("P03").run()
        assert not at.exception
    allowed = data_values(db) | {"中文"}          # the language switch names itself
    assert cjk_leftovers(page_strings(at), allowed) == []


@pytest.mark.parametrize("page", [case(p, fast=p in ZH_FAST, id=p) for p in ALL_PAGES])
def test_chinese_pages_show_no_streamlit_default_placeholders(page, db):
    """An empty select shows our placeholder, never Streamlit's English 'Choose an option'."""
    at = app(page, **{"from": "2026-01-01", "to": "2026-06-30"})
    assert not at.exception
    if page == "explore":                       # a filter on a category column opens a multi-select
        at.selectbox(key="explore_c0_col").set_value("community").run()
        assert not at.exception
    empty = [w for w in at.selectbox if w.value is None] + list(at.multiselect)
    assert empty, "every page has at least the sidebar's 'all' selects"
    blank = [w.label for w in empty if not CJK.search(w.proto.placeholder)]
    assert blank == []


@pytest.mark.slow   # builds the demo through the real ETL and pain-point engine
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_pages_render_on_the_etl_built_demo(lang, request, monkeypatch):
    """The demo database built by the real generator and loader (tests/conftest.py)."""
    pytest.importorskip("etl.demo")
    demo_db = request.getfixturevalue("demo_db")
    monkeypatch.setenv("COCKPIT_DB", str(demo_db))
    for page in PAGE_FILES:
        at = app(page, lang=lang)
        assert not at.exception, (page, [e.value for e in at.exception])
        assert not at.error, (page, [e.value for e in at.error])
        assert at.metric, page


def test_a_swapped_database_file_shows_up_without_restart(cockpit_db, tmp_path, monkeypatch):
    live = tmp_path / "cockpit.duckdb"
    shutil.copyfile(cockpit_db, live)
    monkeypatch.setenv("COCKPIT_DB", str(live))
    at = app("projects", **{"from": "2026-06-01", "to": "2026-06-30"})
    assert next(m.value for m in at.metric if m.label == "项目数") == "8"
    publish_changed(cockpit_db, live, "DELETE FROM projects WHERE project_id = 'P08'")
    at.run()
    assert next(m.value for m in at.metric if m.label == "项目数") == "7"


@left_to_full_run
def test_the_sql_console_can_connect_while_the_pages_hold_the_file(db):
    from dashboard.sqlconsole import open_sandbox

    at = app("overview")
    assert not at.exception
    con = open_sandbox(db)          # same process, same file: must not clash with the cache's
    try:
        assert con.execute("SELECT count(*) FROM projects").fetchone()[0] == 8
    finally:
        con.close()
