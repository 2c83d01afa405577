"""Overview page: KPI cards equal pandas recomputations from the raw rows; filters move them."""
from __future__ import annotations

from datetime import date

import pandas as pd
from pages_fixture import AS_OF, app, expected_grid, metric_helps, metrics, page_strings, raw

from dashboard import ui
from dashboard.queries.common import DEFAULT_SLA_HOURS, SLA_HOURS
from sweep import left_to_full_run

JUNE = {"from": "2026-06-01", "to": "2026-06-30"}


def _expected(db_path, community=None, d_from=date(2026, 6, 1), d_to=AS_OF,
              exact: bool = False) -> dict:
    """Card label -> value shown; with exact=True, amount card -> exact figure in its tooltip."""
    reports = raw(db_path, "grid_reports")
    fb = raw(db_path, "feedback")
    txns = raw(db_path, "fund_transactions")
    prj = raw(db_path, "projects")
    if community:
        reports = reports[reports["community"] == community]
        fb = fb[fb["community"] == community]
        prj = prj[prj["community"] == community]
        txns = txns[txns["project_id"].isin(prj["project_id"])]
    g = expected_grid(reports, d_from, d_to, SLA_HOURS, DEFAULT_SLA_HOURS)
    lo, hi = pd.Timestamp(d_from), pd.Timestamp(d_to) + pd.Timedelta(days=1)
    fb = fb[(fb["submitted_at"] >= lo) & (fb["submitted_at"] < hi)]
    tx = txns[(pd.to_datetime(txns["txn_on"]) >= lo) & (pd.to_datetime(txns["txn_on"]) < hi)]
    started = pd.to_datetime(prj["actual_start_on"].fillna(prj["planned_start_on"]))
    ended = pd.to_datetime(prj["actual_end_on"])
    active = (started <= pd.Timestamp(d_to)) & (ended.isna() | (ended >= lo))
    funds_in = tx.loc[tx["direction"] == "in", "amount_yuan"].astype(float).sum()
    funds_out = tx.loc[tx["direction"] == "out", "amount_yuan"].astype(float).sum()
    if exact:
        return {"资金流入": ui.fmt_yuan(funds_in), "资金支出": ui.fmt_yuan(funds_out)}
    return {
        "未办结事件": ui.fmt_int(g["open_cases"]),
        "按时办结率": ui.fmt_pct(g["sla_share"]),
        "办结时长中位数": ui.fmt_hours(g["median_hours"], "zh"),
        "居民留言": ui.fmt_int(len(fb)),
        "平均满意度": ui.fmt_num(fb["rating"].mean()),
        "在实施项目": ui.fmt_int(active.sum()),
        "资金流入": ui.fmt_yuan_short(funds_in, "zh"),
        "资金支出": ui.fmt_yuan_short(funds_out, "zh"),
    }


def test_overview_kpis_match_raw_rows(db):
    at = app("overview", **JUNE)
    assert not at.exception
    shown = metrics(at)
    for label, value in _expected(db).items():
        assert shown[label] == value, label
    helps = metric_helps(at)
    for label, value in _expected(db, exact=True).items():
        assert value in helps[label], label


@left_to_full_run
def test_overview_kpis_follow_the_community_filter(db):
    at = app("overview", **JUNE)
    before = metrics(at)
    at.selectbox(key="f_community").set_value("秋实社区").run()
    assert not at.exception
    after = metrics(at)
    expected = _expected(db, community="秋实社区")
    for label, value in expected.items():
        assert after[label] == value, label
    for label, value in _expected(db, community="秋实社区", exact=True).items():
        assert value in metric_helps(at)[label], label
    assert after["未办结事件"] != before["未办结事件"]
    assert at.query_params["community"] == "秋实社区"


@left_to_full_run
def test_overview_shows_deltas_vs_previous_period(db):
    at = app("overview", **JUNE)
    card = next(m for m in at.metric if m.label == "未办结事件")
    may = expected_grid(raw(db, "grid_reports"), date(2026, 5, 2), date(2026, 5, 31),
                        SLA_HOURS, DEFAULT_SLA_HOURS)
    june = expected_grid(raw(db, "grid_reports"), date(2026, 6, 1), AS_OF,
                         SLA_HOURS, DEFAULT_SLA_HOURS)
    assert card.delta == f"{june['open_cases'] - may['open_cases']:+,}"


def test_overview_lists_pain_points_and_alerts(db):
    at = app("overview", **JUNE)
    text = " ".join(m.value for m in at.markdown)
    assert "加装电梯" in text and "噪音扰民" in text and "停车难" in text
    # one alert per early-warning project built into the fixture
    links = [x for x in page_strings(at) if x.startswith("⚠")]
    assert sorted(x.split(" · ")[1][:3] for x in links) == ["P02", "P03", "P04", "P05", "P06"]
