"""Project progress page: warning counts, table and drill-down from the real app."""
from __future__ import annotations

import base64
import json

import numpy as np

from pages_fixture import app, full_tables, metrics, previews, raw

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
    # both tables open as static previews of their first rows, the grid one switch away
    assert not at.dataframe
    warn, listed = previews(at)
    assert warn[0][:2] == ["项目编号", "名称"] and len(warn) == 1 + 5    # header + one project per rule
    assert {r[0] for r in listed[1:]} == set(sorted(prj["project_id"])[:10])
    full_tables(at)
    table = next(d.value for d in at.dataframe if "elapsed_pct" in d.value.columns)
    assert sorted(table["project_id"]) == sorted(prj["project_id"])
    first = table.iloc[0]              # the preview's first row, formatted as the grid shows it
    assert listed[1][listed[0].index("预算（元）")] == f"¥{first['budget_yuan']:,.0f}"
    assert listed[1][listed[0].index("进度 %")] == f"{first['progress_pct']:.0f}%"
    # the Gantt and one of three views (stage counts first); the others when chosen
    assert len(at.get("plotly_chart")) == 2
    assert at.segmented_control(key="projects_view").value == "by_stage"


def test_projects_views_draw_the_chosen_chart(db):
    at = app("projects", **JUNE)
    prj = raw(db, "projects")
    bars = [c for c in at.get("plotly_chart") if "projects_by_stage" in c.proto.id]
    assert len(bars) == 1
    y = json.loads(bars[0].proto.spec)["data"][0]["y"]
    counts = np.frombuffer(base64.b64decode(y["bdata"]), y["dtype"]) if isinstance(y, dict) else y
    assert sum(counts) == len(prj)
    at.segmented_control(key="projects_view").set_value("schedule").run()
    assert not at.exception
    charts = at.get("plotly_chart")
    assert len(charts) == 2 and any("projects_scatter" in c.proto.id for c in charts)
    scatter = next(json.loads(c.proto.spec) for c in charts if "projects_scatter" in c.proto.id)
    names = " ".join(scatter["data"][-1]["text"])
    assert all(name in names for name in prj["name"].dropna())
    at.segmented_control(key="projects_view").set_value("by_lead_type").run()
    assert any("projects_by_lead_type" in c.proto.id for c in at.get("plotly_chart"))


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
