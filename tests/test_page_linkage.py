"""五社联动 page: cards and table equal counts from the raw rows; the community filter narrows."""
from __future__ import annotations

import base64
import json

import numpy as np
from pages_fixture import app, full_tables, metrics, previews, raw

from dashboard.charts.linkage import MATRIX_MEASURES
from sweep import left_to_full_run


def test_linkage_page_values(db):
    at = app("linkage", **{"to": "2026-06-30"})
    assert not at.exception and not at.error
    prj = raw(db, "projects")
    led = prj.groupby("lead_party_type").size()
    shown = metrics(at)
    assert shown["社区"] == str(led["社区"])
    card = next(m for m in at.metric if m.label == "社会工作者")
    assert (card.value, card.delta) == ("1", "协作 8 次")
    (preview,) = previews(at)                      # the table opens as a static preview
    led_col = preview[0].index("牵头项目")
    full_tables(at)
    table = next(d.value for d in at.dataframe if "projects_led" in d.value.columns)
    assert table["projects_led"].sum() == len(prj)
    assert [int(r[led_col]) for r in preview[1:]] == table["projects_led"].head(10).tolist()
    # the contribution matrix first; the street radar when chosen
    charts = at.get("plotly_chart")
    assert len(charts) == 1 and "linkage_matrix" in charts[0].proto.id
    assert at.segmented_control(key="linkage_view").value == "matrix"


def test_linkage_radar_when_chosen(db):
    at = app("linkage", **{"to": "2026-06-30"})
    at.segmented_control(key="linkage_view").set_value("radar").run()
    assert not at.exception and not at.error
    charts = at.get("plotly_chart")
    assert len(charts) == 1 and "linkage_radar" in charts[0].proto.id
    traces = json.loads(charts[0].proto.spec)["data"]
    assert [tr["type"] for tr in traces] == ["scatterpolar"] * len(MATRIX_MEASURES)
    led = raw(db, "projects").groupby("lead_party_type").size()
    first = traces[0]      # projects led: each type's share of all projects, the ring closed
    r = first["r"]
    r = list(np.frombuffer(base64.b64decode(r["bdata"]), r["dtype"])) if isinstance(r, dict) else r
    assert r[0] == r[-1] and abs(sum(r[:-1]) - 1) < 1e-9
    assert abs(r[0] - led["社区"] / led.sum()) < 1e-9


@left_to_full_run
def test_linkage_page_follows_the_community_filter(db):
    at = app("linkage", **{"to": "2026-06-30", "community": "秋实社区"})
    assert {r[0] for r in previews(at)[0][1:]} == {"秋实社区"}
    full_tables(at)
    table = next(d.value for d in at.dataframe if "projects_led" in d.value.columns)
    assert set(table["community"]) == {"秋实社区"}
    assert table["projects_led"].sum() == 2
