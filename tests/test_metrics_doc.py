"""docs/METRICS.md is true: each documented query, run through the SQL console against the demo
database, gives the number the page's own query function returns for the same filters."""
from __future__ import annotations

import math
import re
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from pages_fixture import read_only

from dashboard import sqlconsole
from dashboard.filters import Filters
from dashboard.queries import briefing, effectiveness, linkage, overview, painpoints, projects

pytestmark = pytest.mark.slow   # needs the demo build (conftest demo_build)

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "METRICS.md"
_KPI = re.compile(r"<!-- kpi: ([\w.]+) -->\s*```sql\n(.*?)```", re.S)

PERIOD = Filters(date_from=date(2026, 10, 1), date_to=date(2026, 10, 31))
WEEK = briefing.week_filters("2026-W44", None)
PAIN_MONTH = date(2026, 10, 1)


def _cell(fn, column, f=PERIOD):
    return lambda con: fn(con, f)[column].iloc[0]


def _by(fn, key, column, f=PERIOD):
    return lambda con: dict(zip(fn(con, f)[key], fn(con, f)[column]))


def _headline(key):
    def value(con):
        h = briefing.headline(con, WEEK)
        return h.loc[h["key"] == key, "value"].iloc[0]
    return value


def _warning_counts(con):
    w = projects.warnings(con, PERIOD)
    return {rule: int((w["rule"] == rule).sum()) for rule in projects.RULES}


# documented KPI id -> the value the page shows, from the page's own query function
PAGE_VALUES = {
    "grid.open_cases": _cell(overview.grid_kpis, "open_cases"),
    "grid.reports": _cell(overview.grid_kpis, "reports"),
    "grid.sla_share": _cell(overview.grid_kpis, "sla_share"),
    "grid.median_resolution_hours": _cell(overview.grid_kpis, "median_resolution_hours"),
    "feedback.feedback": _cell(overview.feedback_kpis, "feedback"),
    "feedback.avg_rating": _cell(overview.feedback_kpis, "avg_rating"),
    "projects.projects": _cell(projects.summary, "projects"),
    "projects.active": _cell(overview.project_kpis, "active"),
    "projects.running": _cell(projects.summary, "running"),
    "projects.on_schedule_share": _cell(overview.project_kpis, "on_schedule_share"),
    "projects.archive_rate": _cell(projects.summary, "archive_rate"),
    "projects.spent_yuan": _cell(projects.summary, "spent_yuan"),
    "projects.warnings": _warning_counts,
    "funds.funds_in_yuan": _cell(overview.fund_kpis, "funds_in_yuan"),
    "funds.funds_out_yuan": _cell(overview.fund_kpis, "funds_out_yuan"),
    "funds.in_kind_yuan": _cell(overview.fund_kpis, "in_kind_yuan"),
    "linkage.projects_led": _by(linkage.street_totals_for, "party_type", "projects_led"),
    "linkage.volunteers": _by(linkage.street_totals_for, "party_type", "volunteers"),
    "linkage.led_funds_yuan": _by(linkage.street_totals_for, "party_type", "led_funds_yuan"),
    "linkage.partner_appearances": _by(linkage.street_totals_for, "party_type",
                                       "partner_appearances"),
    "painpoints.size": lambda con: dict(zip(*[painpoints.top3(con, PERIOD, PAIN_MONTH)[c]
                                              for c in ("rank", "size")])),
    **{f"briefing.{key}": _headline(key) for key, _, _, _ in briefing.KPIS},
    "effectiveness.avg_ease": _cell(effectiveness.totals, "avg_ease", Filters(date_from=date(2024, 12, 1),
                                                                              date_to=date(2026, 10, 31))),
    "effectiveness.median_resolution_hours": _cell(effectiveness.totals, "median_resolution_hours"),
}


def documented() -> dict[str, str]:
    text = DOC.read_text(encoding="utf-8")
    found = _KPI.findall(text)
    ids = [kpi for kpi, _ in found]
    assert len(ids) == len(set(ids)), "a KPI id is documented twice"
    return dict(found)


def test_every_page_kpi_is_documented_and_every_documented_kpi_is_checked():
    assert set(documented()) == set(PAGE_VALUES)


def _plain(v):
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
        return None
    return float(v)


def _same(doc_value, page_value) -> bool:
    a, b = _plain(doc_value), _plain(page_value)
    if a is None or b is None:
        return a is None and b is None
    return a == pytest.approx(b, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("kpi", sorted(PAGE_VALUES))
def test_documented_query_gives_the_page_value(kpi, demo_db):
    sql = documented()[kpi]
    result = sqlconsole.run(sql, path=demo_db).df
    con = read_only(demo_db)
    try:
        page = PAGE_VALUES[kpi](con)
    finally:
        con.close()
    if isinstance(page, dict):
        doc = dict(zip(result.iloc[:, 0], result.iloc[:, 1]))
        assert set(doc) == set(page), kpi
        wrong = {k: (doc[k], page[k]) for k in page if not _same(doc[k], page[k])}
        assert not wrong, f"{kpi}: doc vs page {wrong}"
        assert any(_plain(v) for v in page.values()), f"{kpi}: all zero, checks nothing"
    else:
        assert result.shape == (1, 1), kpi
        assert _same(result.iloc[0, 0], page), f"{kpi}: doc {result.iloc[0, 0]} vs page {page}"
        assert _plain(page) is not None, f"{kpi}: empty on the demo, checks nothing"
