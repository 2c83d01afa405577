"""Fund flows: the Sankey's links, monthly in/out, execution per project, government share.

Every read sums the fund_daily summary (etl/marts/fund_daily.sql: the fund_flows mart's ledger
entries summed per day, project, direction, source and expense category, with the project's
community and category and the government flag; written at load time, so a read neither scans
the ledger's Parquet parts nor joins the projects). Amounts in yuan, always positive; sums are
exact (DECIMAL) until the final cast. Period reads use entries dated in the filters' period;
the per-project ledger check is cumulative up to the as-of day (spending is compared with
everything received so far). Rates are finished in SQL.

A catalog written before fund_daily existed is read through fund_flows' entries instead
(dashboard/queries/fund_reads.py: `summed` composes each query both ways, `read` picks).
"""
from __future__ import annotations

import duckdb
import pandas as pd

from dashboard.filters import Filters
from dashboard.queries.base import sql
from dashboard.queries.common import period_params
from dashboard.queries.fund_reads import FLOW_FILTERS, IN_PERIOD, read, summed

SANKEY_TOP_PROJECTS = 25      # the rest are drawn as one "other projects" node
SANKEY_TOP_SOURCES = 20       # the rest are drawn as one "other sources" node
OTHER = "__other__"           # label sentinel, translated by the chart
UNSPECIFIED = "__unspecified__"

LEDGER_FLOWS = summed("""
    SELECT t.direction, t.source_type, t.source_name, t.project_category AS category,
           t.project_id, t.project_name AS name, t.expense_category, t.in_kind,
           sum(t.amount_yuan)::DOUBLE AS amount_yuan
    FROM {flows} t
    WHERE {where} AND {in_period}
    GROUP BY ALL
""", where=FLOW_FILTERS, in_period=IN_PERIOD)

MONTHLY = summed("""
    SELECT t.month_on, t.direction,
           sum(t.amount_yuan)::DOUBLE AS amount_yuan,
           COALESCE(sum(t.amount_yuan) FILTER (WHERE t.in_kind), 0)::DOUBLE AS in_kind_yuan
    FROM {flows} t
    WHERE {where} AND {in_period}
    GROUP BY ALL ORDER BY month_on, direction
""", where=FLOW_FILTERS, in_period=IN_PERIOD)

_EXECUTION = """
    WITH money AS (
        SELECT t.project_id, t.project_name AS name, t.community,
               t.project_category AS category,
               COALESCE(sum(t.amount_yuan) FILTER (WHERE t.direction = 'in'), 0)::DOUBLE
                   AS received_yuan,
               COALESCE(sum(t.amount_yuan) FILTER (WHERE t.direction = 'out'), 0)::DOUBLE
                   AS spent_yuan,
               COALESCE(sum(t.amount_yuan) FILTER (WHERE t.direction = 'in' AND t.in_kind), 0)::DOUBLE
                   AS in_kind_yuan
        FROM {flows} t
        WHERE {where} AND t.day_on <= $as_of
        GROUP BY ALL)
    SELECT m.project_id, m.name, m.community, m.category, p.budget_yuan::DOUBLE AS budget_yuan,
           m.received_yuan, m.spent_yuan, m.in_kind_yuan,
           round(100.0 * m.spent_yuan / NULLIF(p.budget_yuan, 0), 1) AS execution_pct,
           round(100.0 * m.spent_yuan / NULLIF(m.received_yuan, 0), 1) AS spent_of_received_pct,
           m.spent_yuan > m.received_yuan + 0.005 AS overspent
    FROM money m JOIN {projects} p USING (project_id)
    ORDER BY m.project_id
"""
EXECUTION = summed(_EXECUTION, where=FLOW_FILTERS)

LEDGER_CHECK = summed(sql("""
    SELECT project_id, name, community, received_yuan, spent_yuan,
           spent_yuan - received_yuan AS gap_yuan
    FROM ({execution}) WHERE overspent
    ORDER BY project_id
""", execution=_EXECUTION), where=FLOW_FILTERS)

GOVERNMENT_SHARE = summed("""
    SELECT t.community, sum(t.amount_yuan)::DOUBLE AS funds_in_yuan,
           COALESCE(sum(t.amount_yuan) FILTER (WHERE t.government), 0)::DOUBLE AS government_yuan,
           COALESCE(sum(t.amount_yuan) FILTER (WHERE t.government), 0)::DOUBLE
               / NULLIF(sum(t.amount_yuan), 0)::DOUBLE AS government_share
    FROM {flows} t
    WHERE {where} AND {in_period} AND t.direction = 'in'
    GROUP BY t.community ORDER BY t.community
""", where=FLOW_FILTERS, in_period=IN_PERIOD)

IN_KIND = summed("""
    SELECT t.source_name, t.source_type, sum(t.entries)::BIGINT AS entries,
           sum(t.amount_yuan)::DOUBLE AS amount_yuan
    FROM {flows} t
    WHERE {where} AND {in_period} AND t.direction = 'in' AND t.in_kind
    GROUP BY ALL ORDER BY amount_yuan DESC
""", where=FLOW_FILTERS, in_period=IN_PERIOD)


def ledger_flows(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """One row per (direction, source type, party, project, expense category, in-kind) in the
    period, summed in yuan: the Sankey's raw material (party: the giver of an inflow; NULL on
    outflows, whose payee the Sankey does not draw)."""
    return read(con, LEDGER_FLOWS, period_params(con, f))


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
    return read(con, MONTHLY, period_params(con, f))


def execution(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """One row per project with ledger entries up to as-of: budget, received, spent, rates
    (percent, one decimal), and the ledger check (spent more than received)."""
    return read(con, EXECUTION, period_params(con, f))


def ledger_check(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """One row per project whose spending up to as-of exceeds what it received; gap in yuan."""
    return read(con, LEDGER_CHECK, period_params(con, f))


def government_share(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """One row per community: inflow in the period, the government part (the fund_flows flag: 财政拨款), its share (0..1)."""
    return read(con, GOVERNMENT_SHARE, period_params(con, f))


def in_kind(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """One row per giver of in-kind help in the period: entries and value in yuan."""
    return read(con, IN_KIND, period_params(con, f))
