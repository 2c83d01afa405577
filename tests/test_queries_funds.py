"""Fund flows: the Sankey's flows sum to the ledger; execution and ledger check; every read of
the fund_daily summary equals the same read of the entries."""
from __future__ import annotations

import dataclasses
import shutil
from datetime import date

import duckdb
import pandas as pd
import pytest
from pages_fixture import AS_OF, raw, read_only
from sweep import case

from dashboard.filters import Filters
from dashboard.queries import funds as q
from dashboard.queries import briefing, linkage, overview
from dashboard.queries.base import Scope, use_scope
from etl import marts

PERIODS = [Filters(date_to=AS_OF), Filters(date_from=date(2026, 6, 1), date_to=AS_OF),
           Filters(date_to=AS_OF, community="春晖社区")]


def _ledger(cockpit_db, f: Filters) -> pd.DataFrame:
    tx = raw(cockpit_db, "fund_transactions").merge(
        raw(cockpit_db, "projects")[["project_id", "community"]], on="project_id")
    on = pd.to_datetime(tx["txn_on"])
    keep = on <= pd.Timestamp(f.date_to)
    if f.date_from:
        keep &= on >= pd.Timestamp(f.date_from)
    if f.community:
        keep &= tx["community"] == f.community
    tx = tx[keep]
    tx["amount_yuan"] = tx["amount_yuan"].astype(float)
    return tx


@pytest.mark.parametrize("f", PERIODS)
@pytest.mark.parametrize("tops", [(25, 20), (2, 1)])
def test_sankey_layers_sum_to_ledger_totals(con, cockpit_db, f, tops):
    links = q.sankey_links(con, f, *tops)
    tx = _ledger(cockpit_db, f)
    total_in = tx.loc[tx["direction"] == "in", "amount_yuan"].sum()
    total_out = tx.loc[tx["direction"] == "out", "amount_yuan"].sum()
    sums = links.groupby("layer")["amount_yuan"].sum()
    for layer in (1, 2, 3):
        assert sums[layer] == pytest.approx(total_in)
    assert sums[4] == pytest.approx(total_out)
    # every project node is balanced with what the ledger says it received and spent
    prj_in = links[links["layer"] == 3].groupby("target_id")["amount_yuan"].sum()
    if tops[0] >= 25:
        got = tx[tx["direction"] == "in"].groupby("project_id")["amount_yuan"].sum()
        assert prj_in.rename(lambda s: s.split(":", 1)[1]).sort_index().to_dict() == \
            pytest.approx(got.sort_index().to_dict())


def test_sankey_node_ids_are_distinct_from_labels(con):
    links = q.sankey_links(con, Filters(date_to=AS_OF))
    ids = pd.concat([links["source_id"], links["target_id"]])
    assert ids.str.match(r"^(st|src|cat|prj|exp):").all()
    # 春晖社区基金会 gives money (a source node); the same name is paid by a 转拨 expense
    # and leads P05: the source node keeps its own id, so the graph has no cycle
    assert "src:春晖社区基金会" in set(ids)
    edges = set(zip(links["source_id"], links["target_id"]))
    assert not any((b, a) in edges for a, b in edges)


def test_in_kind_flows_are_marked(con, cockpit_db):
    links = q.sankey_links(con, Filters(date_to=AS_OF))
    tx = _ledger(cockpit_db, Filters(date_to=AS_OF))
    kind = links[(links["layer"] == 1) & links["in_kind"]]["amount_yuan"].sum()
    assert kind == pytest.approx(tx.loc[tx["in_kind"], "amount_yuan"].sum())
    assert set(links.loc[(links["layer"] == 1) & links["in_kind"], "source_label"]) == {"商户公益·实物折价"}


def test_ledger_check_flags_spending_above_receipts(con):
    check = q.ledger_check(con, Filters(date_to=AS_OF))
    assert list(check["project_id"]) == ["P07"]
    assert check["gap_yuan"].iloc[0] == pytest.approx(10000)


def test_government_share_per_community(con, cockpit_db):
    got = q.government_share(con, Filters(date_to=AS_OF)).set_index("community")
    tx = _ledger(cockpit_db, Filters(date_to=AS_OF))
    inflow = tx[tx["direction"] == "in"]
    gov = inflow[inflow["source_type"] == "财政拨款"].groupby("community")["amount_yuan"].sum()
    share = (gov / inflow.groupby("community")["amount_yuan"].sum()).fillna(0)
    assert got["government_share"].to_dict() == pytest.approx(share.to_dict())


def test_monthly_matches_ledger(con, cockpit_db):
    m = q.monthly(con, Filters(date_to=AS_OF))
    tx = _ledger(cockpit_db, Filters(date_to=AS_OF))
    assert m["amount_yuan"].sum() == pytest.approx(tx["amount_yuan"].sum())


# --- fund_daily against the entries it sums ----------------------------------------------------
FUND_READS = (q.ledger_flows, q.sankey_links, q.monthly, q.execution, q.ledger_check,
              q.government_share, q.in_kind, overview.fund_kpis, linkage.matrix, briefing.money_flows)


@pytest.fixture(scope="module")
def without_summary(demo_db, tmp_path_factory):
    """A copy of the demo catalog as written before fund_daily existed (its parts shared):
    without the summary, and with project_status summing the ledger's entries as it did then
    (the macro reads fund_daily since session 10; a catalog keeps the macro it was written with)."""
    copy = tmp_path_factory.mktemp("no-fund-daily") / "cockpit.duckdb"
    shutil.copyfile(demo_db, copy)
    status = marts.model("project_status")
    from_ledger = status.body.replace("from fund_daily t, bounds b\n    where t.day_on <= b.as_of_on",
                                      "from fund_transactions t, bounds b\n    where t.txn_on <= b.as_of_on")
    assert from_ledger != status.body
    with duckdb.connect(str(copy)) as c:
        c.execute("DROP TABLE fund_daily")
        c.execute(dataclasses.replace(status, body=from_ledger).ddl())
    return copy


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    return df.sort_values(list(df.columns)).reset_index(drop=True) if len(df) else df


def _scopes(con) -> list[Scope]:
    community, party = con.execute("SELECT community, lead_party FROM projects ORDER BY project_id LIMIT 1").fetchone()
    return [Scope(), Scope(communities=(community,), role="community"), Scope(role="partner", party=party),
            Scope(role="public")]


# every filter set is left to the full run: the fast loop's fund page tests read fund_daily by the
# same code (tests/sweep.py left_to_full_run); the full run compares every set, all four roles
@pytest.mark.parametrize("f", [case(f, fast=False, id=f"f{i}") for i, f in enumerate((
    Filters(), Filters(date_from=date(2026, 6, 15), date_to=date(2026, 10, 9)),
    Filters(date_from=date(2025, 3, 1), date_to=date(2026, 11, 22), category="养老"),
    Filters(date_from=date(2025, 9, 1), date_to=date(2025, 9, 7), street="清河街道"),
    Filters(date_from=date(2024, 1, 1), date_to=date(2026, 4, 30))))])
def test_every_fund_read_over_fund_daily_equals_the_same_read_over_the_entries(demo_db, without_summary, f):
    """The page's numbers keep their values: each read of the summary (the page) equals the same
    read of fund_flows' entries (what every read was before fund_daily, and what a catalog
    without it still reads), under every kind of scope."""
    summary, entries = read_only(demo_db), read_only(without_summary)
    try:
        assert summary.execute("SELECT count(*) FROM fund_daily").fetchone()[0] > 0
        compared = 0
        for scope in _scopes(summary):
            with use_scope(scope):
                for fn in FUND_READS:
                    got, want = fn(summary, f), fn(entries, f)
                    pd.testing.assert_frame_equal(_sorted(got), _sorted(want), check_exact=False, rtol=1e-12,
                                                  obj=f"{fn.__name__} {scope}")
                    compared += len(got)
        assert compared > 50
    finally:
        summary.close()
        entries.close()
