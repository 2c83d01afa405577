"""五社联动 page: cards and table equal counts from the raw rows; the community filter narrows."""
from __future__ import annotations

from pages_fixture import app, metrics, raw


def test_linkage_page_values(db):
    at = app("linkage", **{"to": "2026-06-30"})
    assert not at.exception and not at.error
    prj = raw(db, "projects")
    led = prj.groupby("lead_party_type").size()
    shown = metrics(at)
    assert shown["社区"] == str(led["社区"])
    card = next(m for m in at.metric if m.label == "社会工作者")
    assert (card.value, card.delta) == ("1", "协作 8 次")
    table = next(d.value for d in at.dataframe if "projects_led" in d.value.columns)
    assert table["projects_led"].sum() == len(prj)
    assert len(at.get("plotly_chart")) == 2


def test_linkage_page_follows_the_community_filter(db):
    at = app("linkage", **{"to": "2026-06-30", "community": "秋实社区"})
    table = next(d.value for d in at.dataframe if "projects_led" in d.value.columns)
    assert set(table["community"]) == {"秋实社区"}
    assert table["projects_led"].sum() == 2
