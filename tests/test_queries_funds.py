"""Fund flows: the Sankey's flows sum to the ledger; execution and ledger check."""
from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
from pages_fixture import AS_OF, raw

from dashboard.filters import Filters
from dashboard.queries import funds as q

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
