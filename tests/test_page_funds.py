"""Fund flows page: KPI values from the ledger, the ledger check, the Sankey present; the same
page on a catalog without the fund_daily summary."""
from __future__ import annotations

import base64
import json
import shutil

import duckdb
import numpy as np
import pandas as pd
from pages_fixture import app, full_tables, metric_helps, metrics, previews, raw

from dashboard import ui


def _tx(db, community=None, d_from="2026-06-01"):
    tx = raw(db, "fund_transactions").merge(raw(db, "projects")[["project_id", "community"]])
    tx = tx[(pd.to_datetime(tx["txn_on"]) >= pd.Timestamp(d_from))]
    if community:
        tx = tx[tx["community"] == community]
    return tx.assign(amount_yuan=tx["amount_yuan"].astype(float))


def test_funds_page_values(db):
    at = app("funds", **{"from": "2026-06-01", "to": "2026-06-30"})
    assert not at.exception and not at.error
    tx = _tx(db)
    shown, helps = metrics(at), metric_helps(at)
    for label, amount in (("流入", tx.loc[tx["direction"] == "in", "amount_yuan"].sum()),
                          ("支出", tx.loc[tx["direction"] == "out", "amount_yuan"].sum()),
                          ("其中实物折价", tx.loc[tx["in_kind"], "amount_yuan"].sum())):
        assert shown[label] == ui.fmt_yuan_short(amount, "zh"), label     # short on the card
        assert ui.fmt_yuan(amount) in helps[label], label                 # exact in the tooltip
    # the tables open as static previews (no grid code in the browser), formatted as the grid
    assert not at.dataframe
    ledger = next(p for p in previews(at) if "超支（元）" in p[0])
    assert [row[0] for row in ledger[1:]] == ["P07"]
    kind = next(p for p in previews(at) if "来源方 / 收款方" in p[0])
    assert sum(float(r[-1].lstrip("¥").replace(",", "")) for r in kind[1:]) == \
        tx.loc[tx["in_kind"], "amount_yuan"].sum()
    full_tables(at)                                       # the switch above each: the full grid
    check = next(d.value for d in at.dataframe if "gap_yuan" in d.value.columns)
    assert list(check["project_id"]) == ["P07"]
    assert ledger[1][-3:] == [f"¥{v:,.2f}" for v in check.iloc[0][["received_yuan", "spent_yuan", "gap_yuan"]]]
    assert len(at.dataframe) == 3 and not previews(at)
    sankey = json.loads(at.get("plotly_chart")[0].proto.spec)["data"][0]
    assert sankey["type"] == "sankey"
    # the Sankey alone when the page opens; monthly in/out or the government share when chosen
    charts = at.get("plotly_chart")
    assert len(charts) == 1 and "funds_sankey" in charts[0].proto.id
    assert at.segmented_control(key="funds_view").value is None
    at.segmented_control(key="funds_view").set_value("monthly").run()
    charts = at.get("plotly_chart")
    assert not at.exception and len(charts) == 2 and "funds_monthly" in charts[1].proto.id
    monthly = json.loads(charts[1].proto.spec)["data"]       # cash in, in-kind in, out
    out = monthly[2]["y"]
    out = np.frombuffer(base64.b64decode(out["bdata"]), out["dtype"]) if isinstance(out, dict) else out
    assert abs(sum(out) - tx.loc[tx["direction"] == "out", "amount_yuan"].sum()) < 0.01
    at.segmented_control(key="funds_view").set_value("government").run()
    charts = at.get("plotly_chart")
    assert not at.exception and len(charts) == 2 and "funds_gov" in charts[1].proto.id
    assert len(json.loads(charts[1].proto.spec)["data"][0]["x"]) == tx["community"].nunique()


def test_funds_page_follows_filters(db):
    at = app("funds", **{"from": "2026-06-01", "to": "2026-06-30"})
    at.selectbox(key="f_community").set_value("夏荷社区").run()
    tx = _tx(db, "夏荷社区")
    amount = tx.loc[tx["direction"] == "in", "amount_yuan"].sum()
    assert metrics(at)["流入"] == ui.fmt_yuan_short(amount, "zh")
    assert ui.fmt_yuan(amount) in metric_helps(at)["流入"]
    assert not any("超支（元）" in p[0] for p in previews(at))            # P07 is elsewhere
    full_tables(at)
    assert not any("gap_yuan" in d.value.columns for d in at.dataframe)


def test_funds_page_on_a_catalog_without_fund_daily(cockpit_db, tmp_path, monkeypatch):
    """A catalog written before the fund_daily summary existed (until its next write) shows the
    same page: the reads fall back to fund_flows' entries, nothing crashes, every number agrees."""
    query = {"from": "2026-06-01", "to": "2026-06-30"}
    monkeypatch.setenv("COCKPIT_DB", str(cockpit_db))
    with_summary = app("funds", **query)
    old = tmp_path / "old.duckdb"
    shutil.copyfile(cockpit_db, old)
    with duckdb.connect(str(old)) as con:
        con.execute("DROP TABLE fund_daily")
    monkeypatch.setenv("COCKPIT_DB", str(old))
    without = app("funds", **query)
    assert not without.exception and not without.error
    assert metrics(without) == metrics(with_summary) and metric_helps(without) == metric_helps(with_summary)
    assert previews(without) and previews(without) == previews(with_summary)
    full_tables(without), full_tables(with_summary)
    tables = [d.value.reset_index(drop=True) for d in without.dataframe]
    assert tables and len(tables) == len(with_summary.dataframe)
    for got, want in zip(tables, (d.value.reset_index(drop=True) for d in with_summary.dataframe)):
        pd.testing.assert_frame_equal(got, want)
