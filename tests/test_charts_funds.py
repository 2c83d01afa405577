"""The funds Sankey: the array-based greedy pass places every node exactly where the
frame-filtering pass it replaced does (a reference copy below), on the test ledger's links and on
random links with zero amounts and nodes nothing placed flows into; the order of the nodes does
not depend on the last bits of the amounts; links are drawn in the order of the nodes they join."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pages_fixture import AS_OF

from dashboard.charts import funds as charts
from dashboard.filters import Filters
from dashboard.queries import funds as q


def reference_positions(links: pd.DataFrame, ids: list[str]) -> tuple[list[float], list[float]]:
    """The earlier implementation, kept as the definition: for each node, filter the links
    into it from nodes already placed and take their amount-weighted mean height."""
    layer = {n: n.split(":", 1)[0] for n in ids}
    inflow = links.groupby("target_id")["amount_yuan"].sum()
    outflow = links.groupby("source_id")["amount_yuan"].sum()
    size = {n: max(float(inflow.get(n, 0)), float(outflow.get(n, 0))) for n in ids}
    y: dict[str, float] = {}
    for name in charts._LAYERS:
        nodes = [n for n in ids if layer[n] == name]
        if not nodes:
            continue

        def rank(n: str) -> tuple[float, float]:
            inc = links[(links["target_id"] == n) & links["source_id"].isin(list(y))]
            if inc.empty or inc["amount_yuan"].sum() == 0:
                return (2.0, -round(size[n], 2))
            w = inc["amount_yuan"].astype(float)
            mean = float((inc["source_id"].map(y) * w).sum() / w.sum())
            return (round(mean, charts._RANK_DIGITS), -round(size[n], 2))

        nodes.sort(key=rank)
        total = sum(size[n] for n in nodes) or 1.0
        free = 0.3 if len(nodes) > 1 else 0.0
        gap = free / max(len(nodes) - 1, 1)
        top = 0.0
        for n in nodes:
            h = (1 - free) * size[n] / total
            y[n] = 0.01 + 0.95 * (top + h / 2)
            top += h + gap
    return [charts._LAYER_X.get(layer[n], 0.5) for n in ids], [y.get(n, 0.5) for n in ids]


def node_ids(links: pd.DataFrame) -> list[str]:
    return list(pd.unique(pd.concat([links["source_id"], links["target_id"]], ignore_index=True)))


@pytest.mark.parametrize("tops", [(25, 20), (3, 2)])
def test_positions_equal_the_reference_on_the_ledger(con, tops):
    links = q.sankey_links(con, Filters(date_to=AS_OF), *tops)
    assert len(links) > 10
    ids = node_ids(links)
    got = charts._positions(links, ids)
    assert got == reference_positions(links, ids)
    assert len(set(got[1])) > len(charts._LAYERS)        # nodes spread, not all at 0.5


def random_links(seed: int) -> pd.DataFrame:
    """Five layers of random nodes; some links carry 0 yuan, some project nodes get nothing from
    a placed category (their inflow comes from a node listed later), amounts of every size."""
    rng = np.random.default_rng(seed)
    layers = {name: [f"{name}:{i}" for i in range(rng.integers(1, 9))] for name in charts._LAYERS}
    rows = []
    for a, b in zip(charts._LAYERS, charts._LAYERS[1:]):
        for _ in range(int(rng.integers(1, 25))):
            amount = float(rng.choice([0.0, rng.uniform(0.01, 10), rng.uniform(1e3, 1e7)]))
            rows.append((rng.choice(layers[a]), rng.choice(layers[b]), amount))
    rows.append(("exp:0", "prj:late", 5.0))            # flows in only from a later layer
    d = pd.DataFrame(rows, columns=["source_id", "target_id", "amount_yuan"])
    return d.sample(frac=1.0, random_state=seed).reset_index(drop=True)


@pytest.mark.parametrize("seed", range(8))
def test_positions_equal_the_reference_on_random_links(seed):
    links = random_links(seed)
    ids = node_ids(links)
    assert charts._positions(links, ids) == reference_positions(links, ids)


def column_order(links: pd.DataFrame) -> dict[str, list[str]]:
    ids = node_ids(links)
    _, y = charts._positions(links, ids)
    by_layer: dict[str, list[tuple[float, str]]] = {}
    for node, height in zip(ids, y):
        by_layer.setdefault(node.split(":", 1)[0], []).append((height, node))
    return {layer: [n for _, n in sorted(nodes)] for layer, nodes in by_layer.items()}


@pytest.mark.parametrize("seed", range(5))
def test_node_order_does_not_depend_on_how_the_sums_were_added(seed):
    """Amounts that differ only in their last bits (the same rows summed in another order, as an
    unordered GROUP BY hands them over) give the same picture: many projects fed by one category
    in the same proportions tie, and go by size then id."""
    rng = np.random.default_rng(seed)
    rows = [("st:gov", "src:a", 5e5), ("src:a", "cat:lift", 3e5), ("src:a", "cat:care", 2e5)]
    rows += [("cat:lift", f"prj:{i}", float(rng.choice([1e4, 2e4, 3e4]))) for i in range(12)]
    rows += [("cat:care", f"prj:c{i}", 7e3) for i in range(5)]
    links = pd.DataFrame(rows, columns=["source_id", "target_id", "amount_yuan"])
    before = column_order(links)
    noisy = links.assign(amount_yuan=links["amount_yuan"] * (1 + rng.uniform(-4e-16, 4e-16, len(links))))
    assert (noisy["amount_yuan"] != links["amount_yuan"]).any()
    assert column_order(noisy) == before


def test_links_are_drawn_in_the_order_of_the_nodes_they_join(con):
    """plotly keeps the input order (link.sort "input", no d3-sankey re-sorting in the browser):
    the links come ordered by their target node's height, then their source node's, and every
    link of the query is there once with its amount and colour."""
    links = q.sankey_links(con, Filters(date_to=AS_OF))
    trace = charts.sankey(links, "zh").data[0]
    assert trace.link.sort == "input"
    y = list(trace.node.y)
    source, target = list(trace.link.source), list(trace.link.target)
    keys = [(y[t], y[s]) for s, t in zip(source, target)]
    assert keys == sorted(keys) and len(set(keys)) > 10
    ids = node_ids(links)
    drawn = sorted(zip([ids[s] for s in source], [ids[t] for t in target], trace.link.value,
                       [c.startswith("rgba(181") for c in trace.link.color]))
    assert drawn == sorted(zip(links["source_id"], links["target_id"], links["amount_yuan"],
                               links["in_kind"]))
