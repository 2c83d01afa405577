"""Fund figures: the Sankey, monthly in/out, government-money dependence."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from dashboard.charts.common import IN_COLOR, IN_KIND_COLOR, OUT_COLOR, PALETTE, empty, style
from dashboard.i18n import t
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


def sankey(links: pd.DataFrame, lang: str) -> go.Figure:
    """Source type -> party -> project category -> project -> expense category.

    Nodes are keyed by id (layer-prefixed), labelled by name: a party that gives money and
    is paid appears twice. In-kind flows are drawn in their own colour.
    """
    if links.empty:
        return empty(lang, height=420)
    ids = pd.unique(pd.concat([links["source_id"], links["target_id"]], ignore_index=True))
    index = {node: i for i, node in enumerate(ids)}
    raw_labels = dict(zip(links["source_id"], links["source_label"]))
    raw_labels.update(zip(links["target_id"], links["target_label"]))
    labels = [_label(raw_labels[n], n, lang) for n in ids]
    colors = [_LAYER_COLORS.get(n.split(":", 1)[0], PALETTE[7]) for n in ids]
    link_colors = ["rgba(181,163,58,0.55)" if k else "rgba(120,130,150,0.28)"
                   for k in links["in_kind"].fillna(False)]
    fig = go.Figure(go.Sankey(
        arrangement="snap",
        node={"label": labels, "color": colors, "pad": 12, "thickness": 14,
              "customdata": list(ids),
              "hovertemplate": "%{label}<br>¥%{value:,.0f}<extra></extra>"},
        link={"source": links["source_id"].map(index), "target": links["target_id"].map(index),
              "value": links["amount_yuan"], "color": link_colors,
              "hovertemplate": "%{source.label} → %{target.label}<br>¥%{value:,.0f}<extra></extra>"},
    ))
    height = max(420, 18 * links["target_id"].nunique())
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
    fig.update_yaxes(title=t("funds.axis_yuan", lang))
    fig.update_xaxes(title=None, dtick="M1", tickformat="%Y-%m")
    return style(fig, height=320)


def government_bars(df: pd.DataFrame, lang: str) -> go.Figure:
    """Bars per community: share of inflow that is 财政拨款 (0..1)."""
    if df.empty:
        return empty(lang)
    d = df.sort_values("government_share", ascending=False)
    fig = go.Figure(go.Bar(x=d["community"], y=d["government_share"], marker_color=IN_COLOR,
                           hovertemplate="%{x}: %{y:.1%}<extra></extra>"))
    fig.update_yaxes(title=t("funds.axis_gov_share", lang), tickformat=".0%", range=[0, 1])
    fig.update_xaxes(title=None)
    return style(fig, height=300)
