"""五社联动 figures: the contribution matrix (small multiples) and the street radar."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboard.charts.common import empty, style, yuan_short
from dashboard.i18n import STRINGS, t
from dashboard.safe import plot
from dashboard.queries.linkage import PARTY_TYPES

MATRIX_MEASURES = ("projects_led", "partner_appearances", "led_funds_yuan", "volunteers")


def type_label(party_type: str, lang: str) -> str:
    """The five-society type's display name (the Chinese term itself in zh)."""
    key = f"linkage.type.{party_type}"
    return t(key, lang) if key in STRINGS else party_type


def contribution_matrix(shares: pd.DataFrame, lang: str) -> go.Figure:
    """Small multiples, one heat map per measure: rows communities, columns the five types,
    colour = the type's share of the community's total, text = the value."""
    if shares.empty:
        return empty(lang, height=320)
    titles = [t(f"linkage.m_{m}", lang) for m in MATRIX_MEASURES]
    # two by two, not one row of four: each panel keeps room for its numbers and titles
    fig = make_subplots(rows=2, cols=2, subplot_titles=titles, shared_yaxes=True,
                        horizontal_spacing=0.03, vertical_spacing=0.08)
    communities = sorted(shares["community"].unique())
    columns = [type_label(p, lang) for p in PARTY_TYPES]
    for i, measure in enumerate(MATRIX_MEASURES, start=1):
        part = shares[shares["measure"] == measure]
        share = part.pivot(index="community", columns="party_type", values="share")
        value = part.pivot(index="community", columns="party_type", values="value")
        share = share.reindex(index=communities, columns=list(PARTY_TYPES)).fillna(0)
        value = value.reindex(index=communities, columns=list(PARTY_TYPES)).fillna(0)
        text = value.map((lambda v: yuan_short(v, lang)) if measure.endswith("_yuan")
                         else (lambda v: f"{v:,.0f}"))
        fig.add_trace(go.Heatmap(
            z=share.to_numpy(), x=columns, y=[plot(c) for c in communities], zmin=0, zmax=1,
            colorscale="YlGnBu", showscale=(i == len(MATRIX_MEASURES)),
            text=text.to_numpy(), texttemplate="%{text}",
            colorbar={"title": {"text": t("linkage.share", lang)}, "tickformat": ".0%"},
            hovertemplate="%{y} · %{x}<br>%{text} (%{z:.0%})<extra></extra>"),
            row=(i - 1) // 2 + 1, col=(i - 1) % 2 + 1)
    fig.update_yaxes(autorange="reversed")
    # the columns repeat the same five types: name them once, under the bottom row
    fig.update_xaxes(tickfont={"size": 11}, tickangle=-30)
    fig.update_xaxes(showticklabels=False, row=1)
    fig.update_annotations(font={"size": 14})
    fig = style(fig, height=max(420, 2 * (30 * len(communities) + 40) + 130))
    fig.update_layout(margin={"t": 40})
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
    top = float(df["share"].max() or 0)
    fig.update_layout(polar={
        "radialaxis": {"tickformat": ".0%", "range": [0, min(1.0, top * 1.1 or 1.0)],
                       "nticks": 4, "angle": 90, "tickangle": 90, "tickfont": {"size": 9},
                       "showline": False},
        "angularaxis": {"tickfont": {"size": 12}, "rotation": 90, "direction": "clockwise"}})
    fig = style(fig, height=440)
    fig.update_layout(margin={"l": 90, "r": 90, "t": 30, "b": 60},   # axis labels outside the circle
                      legend={"yanchor": "top", "y": -0.05, "x": 0.5, "xanchor": "center"})
    return fig
