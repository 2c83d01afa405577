"""Fund figures: the Sankey, monthly in/out, government-money dependence."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboard.charts.common import IN_COLOR, IN_KIND_COLOR, OUT_COLOR, PALETTE, empty, style
from dashboard.i18n import t
from dashboard.safe import plot
from dashboard.queries.funds import OTHER, UNSPECIFIED

_LAYER_COLORS = {"st": PALETTE[0], "src": PALETTE[9], "cat": PALETTE[2], "prj": PALETTE[4],
                 "exp": PALETTE[1]}


def _label(raw: str, node_id: str, lang: str) -> str:
    if raw == OTHER:
        kind = node_id.split(":", 1)[0]
        return t("funds.other_projects" if kind == "prj" else "funds.other_sources", lang)
    if raw == UNSPECIFIED:
        return t("funds.unspecified", lang)
    return raw


_LAYERS = ("st", "src", "cat", "prj", "exp")
# more room between projects and expense categories: project names are the longest labels
_LAYER_X = {"st": 0.001, "src": 0.19, "cat": 0.40, "prj": 0.57, "exp": 0.999}
_LABEL_CHARS = 12       # longer names are cut in the picture; the hover shows them whole
# a node's rank is rounded so that nodes fed by the same nodes in the same proportions tie (and
# go by size, then by id) instead of by the last bits of float sums, which change with the order
# the ledger's rows arrive in (an unordered GROUP BY): the picture is the same on every run
_RANK_DIGITS = 9


def _cents(yuan: float) -> float:
    return round(yuan, 2)


def _short(label: str) -> str:
    return label if len(label) <= _LABEL_CHARS else label[:_LABEL_CHARS - 1] + "…"


def _positions(links: pd.DataFrame, ids: list[str]) -> tuple[list[float], list[float]]:
    """Node x by layer (a node with nothing flowing in stays in its own column) and y by the
    weighted mean height of what flows in, so lines cross as little as a greedy pass can.

    Each link row is looked at once per layer through plain arrays (a boolean filter of the
    whole frame per node cost ~0.08 s a page run at ~70 nodes); the sums are numpy's over the
    same rows in the same order as the frame's. Ranks are rounded (_RANK_DIGITS) so that ties
    are ties whatever the order the rows were summed in."""
    layer = {n: n.split(":", 1)[0] for n in ids}
    inflow = links.groupby("target_id")["amount_yuan"].sum()
    outflow = links.groupby("source_id")["amount_yuan"].sum()
    size = {n: max(float(inflow.get(n, 0)), float(outflow.get(n, 0))) for n in ids}
    sources = links["source_id"].to_numpy(dtype=object)
    amounts = links["amount_yuan"].to_numpy()
    weights = links["amount_yuan"].astype(float).to_numpy()
    rows_into: dict[str, list[int]] = {}
    for i, target in enumerate(links["target_id"]):
        rows_into.setdefault(target, []).append(i)
    y: dict[str, float] = {}
    for name in _LAYERS:
        nodes = [n for n in ids if layer[n] == name]
        if not nodes:
            continue

        def rank(n: str) -> tuple[float, float]:
            rows = np.array([i for i in rows_into.get(n, ()) if sources[i] in y], dtype=np.intp)
            if not len(rows) or amounts[rows].sum() == 0:
                return (2.0, -_cents(size[n]))  # nothing placed flows in: at the bottom
            w = weights[rows]
            heights = np.array([y[s] for s in sources[rows]], dtype=float)
            return (round(float((heights * w).sum() / w.sum()), _RANK_DIGITS), -_cents(size[n]))

        nodes.sort(key=rank)
        total = sum(size[n] for n in nodes) or 1.0
        free = 0.3 if len(nodes) > 1 else 0.0    # share of the height left for gaps
        gap = free / max(len(nodes) - 1, 1)
        top = 0.0
        for n in nodes:
            h = (1 - free) * size[n] / total
            y[n] = 0.01 + 0.95 * (top + h / 2)    # a margin so the last node is not cut
            top += h + gap
    return [_LAYER_X.get(layer[n], 0.5) for n in ids], [y.get(n, 0.5) for n in ids]


def _in_drawing_order(links: pd.DataFrame, height: dict[str, float]) -> pd.DataFrame:
    """The links ordered by the height of their target node, then of their source node (the
    input order keeping the frame's order among equals), so that with the trace's
    `link.sort="input"` every node stacks its outgoing ribbons by where they go and its incoming
    ribbons by where they come from, as the nodes are placed. plotly's default sort ("auto")
    orders them by d3-sankey's own layout, computed in 50 relaxation passes that re-sort every
    node's links each time (~0.2 s of the browser's main thread at ~340 links) and then
    discarded for our positions."""
    # np.lexsort is stable and sorts by its last key first
    order = np.lexsort((links["source_id"].map(height).to_numpy(dtype=float),
                        links["target_id"].map(height).to_numpy(dtype=float)))
    return links.iloc[order]


def sankey(links: pd.DataFrame, lang: str) -> go.Figure:
    """Source type -> party -> project category -> project -> expense category.

    Nodes are keyed by id (layer-prefixed), labelled by name: a party that gives money and
    is paid appears twice. In-kind flows are drawn in their own colour.
    """
    if links.empty:
        return empty(lang, height=420)
    ids = list(pd.unique(pd.concat([links["source_id"], links["target_id"]], ignore_index=True)))
    index = {node: i for i, node in enumerate(ids)}
    raw_labels = dict(zip(links["source_id"], links["source_label"]))
    raw_labels.update(zip(links["target_id"], links["target_label"]))
    full = [_label(raw_labels[n], n, lang) for n in ids]
    colors = [_LAYER_COLORS.get(n.split(":", 1)[0], PALETTE[7]) for n in ids]
    x, y = _positions(links, ids)
    links = _in_drawing_order(links, dict(zip(ids, y)))
    link_colors = ["rgba(181,163,58,0.55)" if k else "rgba(120,130,150,0.28)"
                   for k in links["in_kind"].fillna(False)]
    fig = go.Figure(go.Sankey(
        arrangement="snap",
        node={"label": [plot(_short(v)) for v in full], "color": colors, "pad": 10, "thickness": 14,
              "x": x, "y": y, "customdata": [plot(v) for v in full],
              "hovertemplate": "%{customdata}<br>¥%{value:,.0f}<extra></extra>"},
        link={"source": links["source_id"].map(index), "target": links["target_id"].map(index),
              "value": links["amount_yuan"], "color": link_colors, "sort": "input",
              "hovertemplate": "%{source.customdata} → %{target.customdata}<br>¥%{value:,.0f}<extra></extra>"},
    ))
    fig.update_traces(textfont={"size": 11}, selector={"type": "sankey"})
    height = max(460, 18 * links["target_id"].nunique())
    return style(fig, height=min(height, 900))


def monthly_bars(df: pd.DataFrame, lang: str) -> go.Figure:
    """Grouped bars per month: cash in, in-kind in, out (yuan)."""
    if df.empty:
        return empty(lang)
    fig = go.Figure()
    inflow = df[df["direction"] == "in"]
    outflow = df[df["direction"] == "out"]
    fig.add_trace(go.Bar(x=inflow["month_on"], y=inflow["amount_yuan"] - inflow["in_kind_yuan"],
                         name=t("funds.in_cash", lang), marker_color=IN_COLOR,
                         offsetgroup="in", hovertemplate="%{x|%Y-%m} ¥%{y:,.0f}<extra></extra>"))
    fig.add_trace(go.Bar(x=inflow["month_on"], y=inflow["in_kind_yuan"],
                         name=t("funds.in_kind", lang), marker_color=IN_KIND_COLOR,
                         offsetgroup="in", base=inflow["amount_yuan"] - inflow["in_kind_yuan"],
                         hovertemplate="%{x|%Y-%m} ¥%{y:,.0f}<extra></extra>"))
    fig.add_trace(go.Bar(x=outflow["month_on"], y=outflow["amount_yuan"],
                         name=t("funds.out", lang), marker_color=OUT_COLOR, offsetgroup="out",
                         hovertemplate="%{x|%Y-%m} ¥%{y:,.0f}<extra></extra>"))
    fig.update_layout(barmode="group")
    fig.update_yaxes(title=t("funds.axis_yuan", lang), separatethousands=True,
                     exponentformat="none", tickprefix="¥")
    fig.update_xaxes(title=None, dtick="M1", tickformat="%Y-%m")
    return style(fig, height=320)


def government_bars(df: pd.DataFrame, lang: str) -> go.Figure:
    """Bars per community: share of inflow that is 财政拨款 (0..1)."""
    if df.empty:
        return empty(lang)
    d = df.sort_values("government_share", ascending=False)
    fig = go.Figure(go.Bar(x=d["community"].map(plot), y=d["government_share"], marker_color=IN_COLOR,
                           text=[f"{v:.0%}" for v in d["government_share"].fillna(0)],
                           textposition="outside", cliponaxis=False,
                           hovertemplate="%{x}: %{y:.1%}<extra></extra>"))
    fig.update_yaxes(title=t("funds.axis_gov_share", lang), tickformat=".0%", range=[0, 1.1])
    fig.update_xaxes(title=None)
    return style(fig, height=300)
