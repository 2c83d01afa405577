"""Project progress page: warning counts, table and drill-down from the real app."""
from __future__ import annotations

from pages_fixture import app, metrics, raw

from dashboard import ui

JUNE = {"from": "2026-06-01", "to": "2026-06-30"}


def test_projects_page_values(db):
    at = app("projects", **JUNE)
    assert not at.exception and not at.error
    shown = metrics(at)
    prj = raw(db, "projects")
    assert shown["项目数"] == ui.fmt_int(len(prj))
    assert shown["建档率"] == ui.fmt_pct(prj["archived"].mean())
    for rule in ("进度落后", "里程碑逾期", "长期未更新", "支出超前", "超预算"):
        assert shown[rule] == "1", rule
    table = next(d.value for d in at.dataframe if "elapsed_pct" in d.value.columns)
    assert sorted(table["project_id"]) == sorted(prj["project_id"])
    assert len(at.get("plotly_chart")) == 4


def test_projects_page_follows_filters(db):
    at = app("projects", **JUNE)
    at.selectbox(key="f_community").set_value("秋实社区").run()
    shown = metrics(at)
    assert shown["项目数"] == "2"
    assert shown["进度落后"] == "1" and shown["超预算"] == "0"


def test_drill_down_from_a_link(db):
    at = app("projects", **JUNE, project="P03")
    assert at.selectbox(key="projects_pick").value == "P03"
    frames = [d.value for d in at.dataframe]
    ms = next(f for f in frames if "milestone" in f.columns)
    assert ms["overdue"].sum() == 1
    assert at.query_params["project"] == "P03"
