"""Project progress page: warning counts, table and drill-down from the real app."""
from __future__ import annotations

import base64
import json

import numpy as np

from pages_fixture import app, full_tables, metrics, previews, raw

from dashboard import ui
from dashboard.queries import projects as q
from sweep import left_to_full_run

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
    # one of four views (stage counts first); the others, the Gantt too, when chosen
    assert len(at.get("plotly_chart")) == 1
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
    assert len(charts) == 1 and any("projects_scatter" in c.proto.id for c in charts)
    scatter = next(json.loads(c.proto.spec) for c in charts if "projects_scatter" in c.proto.id)
    names = " ".join(scatter["data"][-1]["text"])
    assert all(name in names for name in prj["name"].dropna())
    at.segmented_control(key="projects_view").set_value("by_lead_type").run()
    assert any("projects_by_lead_type" in c.proto.id for c in at.get("plotly_chart"))


def test_projects_gantt_is_one_of_the_views(db):
    at = app("projects", **JUNE)
    assert not any("projects_gantt" in c.proto.id for c in at.get("plotly_chart"))
    at.segmented_control(key="projects_view").set_value("gantt").run()
    assert not at.exception
    charts = at.get("plotly_chart")
    assert len(charts) == 1 and "projects_gantt" in charts[0].proto.id
    spec = json.loads(charts[0].proto.spec)
    bars = [tr for tr in spec["data"] if tr["type"] == "bar"]
    shown = {label.split(" ")[0] for tr in bars for label in tr["y"]}
    prj = raw(db, "projects")
    assert shown and shown <= set(prj["project_id"])
    # every milestone of the drawn projects is a marker; the overdue one among the late ones
    ms = raw(db, "project_milestones")
    markers = [tr for tr in spec["data"] if tr["type"] == "scatter" and tr.get("mode") == "markers"]
    assert sum(len(tr["x"]) for tr in markers) == ms["project_id"].isin(shown).sum()


@left_to_full_run
def test_projects_page_follows_filters(db):
    at = app("projects", **JUNE)
    at.selectbox(key="f_community").set_value("秋实社区").run()
    shown = metrics(at)
    assert shown["项目数"] == "2"
    assert shown["进度落后"] == "1" and shown["超预算"] == "0"


@left_to_full_run
def test_drill_down_from_a_link(db):
    at = app("projects", **JUNE, project="P03")
    assert at.selectbox(key="projects_pick").value == "P03"
    assert at.text_input(key="projects_search").value in (None, "")
    frames = [d.value for d in at.dataframe]
    ms = next(f for f in frames if "milestone" in f.columns)
    assert ms["overdue"].sum() == 1
    assert at.query_params["project"] == "P03"


@left_to_full_run
def test_project_picker_is_search_first(db):
    at = app("projects", **JUNE)
    prj = raw(db, "projects")
    pick = at.selectbox(key="projects_pick")
    assert pick.value is None and len(pick.options) == min(len(prj), q.PICK_LIMIT)
    name = prj.sort_values("project_id")["name"].iloc[2]
    at.text_input(key="projects_search").set_value(name[1:]).run()      # part of a name
    assert not at.exception
    options = at.selectbox(key="projects_pick").options
    assert options and all(name[1:] in o for o in options)
    assert f"{prj.sort_values('project_id')['project_id'].iloc[2]} {name}" in options
    at.selectbox(key="projects_pick").set_value(options[0].split(" ")[0]).run()
    chosen = at.selectbox(key="projects_pick").value
    assert at.query_params["project"] == chosen and at.tabs
    # another search keeps the chosen project (and its detail) until another is chosen
    at.text_input(key="projects_search").set_value("no such project").run()
    assert at.selectbox(key="projects_pick").value == chosen
    assert at.selectbox(key="projects_pick").options == [f"{chosen} {dict(zip(prj['project_id'], prj['name']))[chosen]}"]
