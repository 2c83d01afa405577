"""五社联动 figures: the contribution matrix (small multiples) and the street radar."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboard.charts.common import empty, style
from dashboard.i18n import STRINGS, t
from dashboard.queries.linkage import PARTY_TYPES

MATRIX_MEASURES = ("projects_led", "partner_appearances", "led_funds_yuan", "volunteers")


def type_label(party_type: str, lang: str) -> str:
    """The five-society type's display name (the Chinese term itself in zh)."""
    key = f"linkage.type.{party_type}"
    return t(key, lang) if key in STRINGS else party_type


def _compact(v: float) -> str:
    """Yuan short enough for a heat-map cell: 190k, 1.2M."""
    if v >= 1e6:
        return f"{v / 1e6:.1f}M"
    return f"{v / 1e3:.0f}k" if v >= 1e3 else f"{v:,.0f}"


def contribution_matrix(shares: pd.DataFrame, lang: str) -> go.Figure:
    """Small multiples, one heat map per measure: rows communities, columns the five types,
    colour = the type's share of the community's total, text = the value."""
    if shares.empty:
        return empty(lang, height=320)
    titles = [t(f"linkage.m_{m}", lang) for m in MATRIX_MEASURES]
    fig = make_subplots(rows=1, cols=len(MATRIX_MEASURES), subplot_titles=titles,
                        shared_yaxes=True, horizontal_spacing=0.02)
    communities = sorted(shares["community"].unique())
    columns = [type_label(p, lang) for p in PARTY_TYPES]
    for i, measure in enumerate(MATRIX_MEASURES, start=1):
        part = shares[shares["measure"] == measure]
        share = part.pivot(index="community", columns="party_type", values="share")
        value = part.pivot(index="community", columns="party_type", values="value")
        share = share.reindex(index=communities, columns=list(PARTY_TYPES)).fillna(0)
        value = value.reindex(index=communities, columns=list(PARTY_TYPES)).fillna(0)
        text = value.map(_compact if measure.endswith("_yuan") else (lambda v: f"{v:,.0f}"))
        fig.add_trace(go.Heatmap(
            z=share.to_numpy(), x=columns, y=communities, zmin=0, zmax=1,
            colorscale="YlGnBu", showscale=(i == len(MATRIX_MEASURES)),
            text=text.to_numpy(), texttemplate="%{text}",
            colorbar={"title": {"text": t("linkage.share", lang)}, "tickformat": ".0%"},
            hovertemplate="%{y} · %{x}<br>%{text} (%{z:.0%})<extra></extra>"), row=1, col=i)
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(tickangle=-35)
    fig = style(fig, height=max(300, 44 * len(communities) + 190))
    fig.update_layout(margin={"t": 50})       # room for the subplot titles
    return fig


def radar(df: pd.DataFrame, lang: str) -> go.Figure:
    """Street-wide radar: per measure, each type's share of the street total."""
    if df.empty or df["value"].sum() == 0:
        return empty(lang, height=380)
    fig = go.Figure()
    for measure in MATRIX_MEASURES:
        part = df[df["measure"] == measure].set_index("party_type").reindex(list(PARTY_TYPES))
        r = part["share"].fillna(0).tolist()
        fig.add_trace(go.Scatterpolar(
            r=r + r[:1], theta=[type_label(p, lang) for p in (*PARTY_TYPES, PARTY_TYPES[0])],
            fill="toself",
            name=t(f"linkage.m_{measure}", lang), opacity=0.55,
            hovertemplate="%{theta}: %{r:.0%}<extra>%{fullData.name}</extra>"))
    fig.update_layout(polar={"radialaxis": {"tickformat": ".0%"}})
    fig = style(fig, height=420)
    fig.update_layout(margin={"l": 70, "r": 70, "t": 60, "b": 30})   # axis labels outside the circle
    return fig
