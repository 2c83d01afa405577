"""Grid cases page: KPIs equal pandas recomputations; rankings hide small groups."""
from __future__ import annotations

import base64
import json
from datetime import date

import numpy as np

from pages_fixture import AS_OF, app, expected_grid, full_tables, metrics, previews, raw

from dashboard import ui
from dashboard.queries.common import DEFAULT_SLA_HOURS, SLA_HOURS
from dashboard.queries.grid import HEATMAP_TOP_GRIDS, MIN_GROUP_CASES


def _check(at, reports, d_from):
    e = expected_grid(reports, d_from, AS_OF, SLA_HOURS, DEFAULT_SLA_HOURS)
    shown = metrics(at)
    assert shown["期内上报"] == ui.fmt_int(e["reports"])
    assert shown["未办结"] == ui.fmt_int(e["open_cases"])
    assert shown["按时办结率"] == ui.fmt_pct(e["sla_share"])
    assert shown["办结时长中位数"] == ui.fmt_hours(e["median_hours"], "zh")


def test_grid_page_values_and_filters(db):
    at = app("grid", **{"from": "2026-05-01", "to": "2026-06-30"})
    assert not at.exception and not at.error
    reports = raw(db, "grid_reports")
    _check(at, reports, date(2026, 5, 1))
    at.selectbox(key="f_category").set_value("噪音扰民").run()
    _check(at, reports[reports["category"] == "噪音扰民"], date(2026, 5, 1))
    assert at.query_params["category"] == "噪音扰民"


def test_grid_rankings_hide_small_groups(db):
    at = app("grid", **{"from": "2026-06-24", "to": "2026-06-30"})
    at.segmented_control(key="grid_rank_by").set_value("grid_id").run()
    (preview,) = previews(at)                      # the ranking opens as a static table
    assert preview[0][0] == "网格"
    full_tables(at)
    ranking = next(d.value for d in at.dataframe if "due" in d.value.columns)
    assert "grid_id" in ranking.columns
    assert (ranking["due"] >= MIN_GROUP_CASES).all()
    assert [r[0] for r in preview[1:]] == ranking["grid_id"].head(10).tolist()
    # the volume (first of three views) and the SLA ranking; backlog and heat map when chosen
    assert len(at.get("plotly_chart")) == 2


def _spec(at, key):
    return next(json.loads(c.proto.spec) for c in at.get("plotly_chart") if key in c.proto.id)


def _values(v):
    return np.frombuffer(base64.b64decode(v["bdata"]), v["dtype"]) if isinstance(v, dict) else np.asarray(v)


def test_grid_views_draw_the_chosen_chart(db):
    at = app("grid", **{"from": "2026-05-01", "to": "2026-06-30"})
    assert at.segmented_control(key="grid_view").value == "volume"
    ids = [c.proto.id for c in at.get("plotly_chart")]
    assert any("grid_volume" in i for i in ids) and not any("grid_backlog" in i or "grid_heatmap" in i
                                                             for i in ids)
    volume = sum(_values(tr["y"]).sum() for tr in _spec(at, "grid_volume")["data"])
    assert ui.fmt_int(volume) == metrics(at)["期内上报"]
    at.segmented_control(key="grid_view").set_value("backlog").run()
    assert not at.exception and len(at.get("plotly_chart")) == 2
    backlog = sum(_values(tr["y"]).sum() for tr in _spec(at, "grid_backlog")["data"])
    assert ui.fmt_int(backlog) == metrics(at)["未办结"]
    at.segmented_control(key="grid_view").set_value("heatmap").run()
    assert not at.exception and len(at.get("plotly_chart")) == 2
    heat = _spec(at, "grid_heatmap")["data"][0]
    assert heat["type"] == "heatmap" and 0 < len(heat["y"]) <= HEATMAP_TOP_GRIDS
