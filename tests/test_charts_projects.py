"""The projects page's schedule scatter: one marker per position, every project still there."""
from __future__ import annotations

import pandas as pd

from dashboard.charts.projects import STACK_NAMES, schedule_scatter, stacked_points


def projects(rows: list[tuple[str, float, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["name", "elapsed_pct", "progress_pct"])


def test_projects_at_one_position_share_a_marker_and_are_named_in_its_hover():
    d = projects([("甲", 100.0, 100.0), ("乙", 100.0, 100.0), ("丙", 40.5, 12.0), ("<b>丁</b>", 100.0, 100.0)])
    got = stacked_points(d, "zh")
    assert list(zip(got["elapsed_pct"], got["progress_pct"])) == [(40.5, 12.0), (100.0, 100.0)]
    assert got["text"].iloc[0] == "丙"
    assert got["text"].iloc[1] == "3 个项目在此处：<br>甲<br>乙<br>&lt;b&gt;丁&lt;/b&gt;"


def test_a_crowded_position_lists_the_first_names_and_counts_the_rest():
    n = STACK_NAMES + 3
    d = projects([(f"P{i}", 100.0, 100.0) for i in range(n)])
    text = stacked_points(d, "en")["text"].iloc[0]
    lines = text.split("<br>")
    assert lines[0] == f"{n} projects here:"
    assert lines[1:-1] == [f"P{i}" for i in range(STACK_NAMES)]
    assert lines[-1] == "… and 3 more"


def test_the_scatter_draws_each_position_once_at_its_exact_coordinates():
    d = projects([("a", 10.0, 5.0), ("b", 10.0, 5.0), ("c", 55.3, 61.2), ("d", None, 3.0)])
    fig = schedule_scatter(d, "zh")
    points = fig.data[-1]
    assert sorted(zip(points.x, points.y)) == [(10.0, 5.0), (55.3, 61.2)]
    assert sorted(points.text) == ["2 个项目在此处：<br>a<br>b", "c"]
