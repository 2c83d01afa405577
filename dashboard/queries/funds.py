"""Fund flows: the Sankey's links, monthly in/out, execution per project, government share.

The ledger (`fund_transactions`) is the only source; amounts in yuan, always positive.
Period reads use entries dated in the filters' period; the per-project ledger check is
cumulative up to the as-of day (spending is compared with everything received so far).
"""
from __future__ import annotations

import duckdb
import pandas as pd

from dashboard.filters import Filters
from dashboard.queries.base import fetch, filter_sql
from dashboard.queries.common import period_params

GOVERNMENT_SOURCE = "财政拨款"
SANKEY_TOP_PROJECTS = 25      # the rest are drawn as one "other projects" node
SANKEY_TOP_SOURCES = 20       # the rest are drawn as one "other sources" node
OTHER = "__other__"           # label sentinel, translated by the chart
UNSPECIFIED = "__unspecified__"

_PERIOD = "($date_from IS NULL OR t.txn_on >= $date_from) AND t.txn_on <= $as_of"


def _scope() -> str:
    return filter_sql("p", None, category="category")


def ledger_flows(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """One row per (direction, source type, party, project, expense category, in-kind) in the
    period, summed in yuan: the Sankey's raw material."""
    return fetch(con, f"""
        SELECT t.direction, t.source_type, t.source_name, p.category, t.project_id, p.name,
               t.expense_category, t.in_kind, sum(t.amount_yuan)::DOUBLE AS amount_yuan
        FROM {{fund_transactions}} t JOIN {{projects}} p USING (project_id)
        WHERE {_scope()} AND {_PERIOD}
        GROUP BY ALL
    """, period_params(con, f))


def _top(values: pd.Series, weights: pd.Series, n: int) -> set:
    totals = weights.groupby(values).sum().sort_values(ascending=False)
    return set(totals.index[:n])


def sankey_links(con: duckdb.DuckDBPyConnection, f: Filters,
                 top_projects: int = SANKEY_TOP_PROJECTS,
                 top_sources: int = SANKEY_TOP_SOURCES) -> pd.DataFrame:
    """One row per Sankey link: source/target node id and label, layer, in-kind, yuan.

    Layers: 1 source type -> party, 2 party -> project category, 3 category -> project,
    4 project -> expense category. Node ids carry their layer ("src:…", "exp:…") so a party
    that gives and is paid stays two nodes. Layers 1-3 each sum to the inflow total and
    layer 4 to the outflow total.
    """
    flows = ledger_flows(con, f)
    if flows.empty:
        return pd.DataFrame(columns=["layer", "source_id", "source_label", "target_id",
                                     "target_label", "in_kind", "amount_yuan"])
    flows = flows.copy()
    keep_projects = _top(flows["project_id"], flows["amount_yuan"], top_projects)
    other_project = ~flows["project_id"].isin(keep_projects)
    flows["prj_id"] = "prj:" + flows["project_id"].where(~other_project, OTHER)
    flows["prj_label"] = flows["name"].where(~other_project, OTHER)
    inflow = flows[flows["direction"] == "in"].copy()
    keep_sources = _top(inflow["source_name"].fillna(UNSPECIFIED), inflow["amount_yuan"],
                        top_sources)
    party = inflow["source_name"].fillna(UNSPECIFIED)
    party = party.where(party.isin(keep_sources), OTHER)
    stype = inflow["source_type"].fillna(UNSPECIFIED)
    inflow = inflow.assign(st_id="st:" + stype, st_label=stype, src_id="src:" + party,
                           src_label=party, cat_id="cat:" + inflow["category"],
                           cat_label=inflow["category"])
    outflow = flows[flows["direction"] == "out"].copy()
    exp = outflow["expense_category"].fillna(UNSPECIFIED)
    outflow = outflow.assign(exp_id="exp:" + exp, exp_label=exp)
    layers = [
        (1, inflow, "st", "src"), (2, inflow, "src", "cat"), (3, inflow, "cat", "prj"),
        (4, outflow, "prj", "exp"),
    ]
    parts = []
    for layer, frame, a, b in layers:
        part = (frame.groupby([f"{a}_id", f"{a}_label", f"{b}_id", f"{b}_label", "in_kind"],
                              as_index=False)["amount_yuan"].sum())
        part.columns = ["source_id", "source_label", "target_id", "target_label", "in_kind",
                        "amount_yuan"]
        part.insert(0, "layer", layer)
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def monthly(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """One row per (month, direction): yuan in the period, in-kind part shown separately."""
    return fetch(con, f"""
        SELECT date_trunc('month', t.txn_on)::DATE AS month_on, t.direction,
               sum(t.amount_yuan)::DOUBLE AS amount_yuan,
               COALESCE(sum(t.amount_yuan) FILTER (WHERE t.in_kind), 0)::DOUBLE AS in_kind_yuan
        FROM {{fund_transactions}} t JOIN {{projects}} p USING (project_id)
        WHERE {_scope()} AND {_PERIOD}
        GROUP BY ALL ORDER BY month_on, direction
    """, period_params(con, f))


def execution(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """One row per project with ledger entries up to as-of: budget, received, spent, rates,
    and the ledger check (spent more than received)."""
    df = fetch(con, f"""
        SELECT p.project_id, p.name, p.community, p.category, p.budget_yuan::DOUBLE AS budget_yuan,
               COALESCE(sum(t.amount_yuan) FILTER (WHERE t.direction = 'in'), 0)::DOUBLE
                   AS received_yuan,
               COALESCE(sum(t.amount_yuan) FILTER (WHERE t.direction = 'out'), 0)::DOUBLE
                   AS spent_yuan,
               COALESCE(sum(t.amount_yuan) FILTER (WHERE t.direction = 'in' AND t.in_kind), 0)::DOUBLE
                   AS in_kind_yuan
        FROM {{fund_transactions}} t JOIN {{projects}} p USING (project_id)
        WHERE {_scope()} AND t.txn_on <= $as_of
        GROUP BY ALL ORDER BY p.project_id
    """, period_params(con, f))
    budget = df["budget_yuan"].where(df["budget_yuan"] > 0)
    received = df["received_yuan"].where(df["received_yuan"] > 0)
    df["execution_pct"] = (100.0 * df["spent_yuan"] / budget).round(1)
    df["spent_of_received_pct"] = (100.0 * df["spent_yuan"] / received).round(1)
    df["overspent"] = df["spent_yuan"] > df["received_yuan"] + 0.005
    return df


def ledger_check(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """One row per project whose spending up to as-of exceeds what it received; gap in yuan."""
    df = execution(con, f)
    out = df[df["overspent"]].copy()
    out["gap_yuan"] = out["spent_yuan"] - out["received_yuan"]
    return out[["project_id", "name", "community", "received_yuan", "spent_yuan", "gap_yuan"]]


def government_share(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """One row per community: inflow in the period, the 财政拨款 part, its share (0..1)."""
    df = fetch(con, f"""
        SELECT p.community, sum(t.amount_yuan)::DOUBLE AS funds_in_yuan,
               COALESCE(sum(t.amount_yuan) FILTER (WHERE t.source_type = $gov), 0)::DOUBLE
                   AS government_yuan
        FROM {{fund_transactions}} t JOIN {{projects}} p USING (project_id)
        WHERE {_scope()} AND {_PERIOD} AND t.direction = 'in'
        GROUP BY p.community ORDER BY p.community
    """, period_params(con, f, gov=GOVERNMENT_SOURCE))
    df["government_share"] = df["government_yuan"] / df["funds_in_yuan"].where(df["funds_in_yuan"] > 0)
    return df


def in_kind(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """One row per giver of in-kind help in the period: entries and value in yuan."""
    return fetch(con, f"""
        SELECT t.source_name, t.source_type, count(*) AS entries,
               sum(t.amount_yuan)::DOUBLE AS amount_yuan
        FROM {{fund_transactions}} t JOIN {{projects}} p USING (project_id)
        WHERE {_scope()} AND {_PERIOD} AND t.direction = 'in' AND t.in_kind
        GROUP BY ALL ORDER BY amount_yuan DESC
    """, period_params(con, f))
