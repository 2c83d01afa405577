"""民意痛点 figures: DataFrame in, plotly Figure out (no SQL, no streamlit)."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from dashboard.charts.common import PALETTE, empty, style
from dashboard.i18n import t
from dashboard.safe import plot


def trend_figure(df: pd.DataFrame, lang: str) -> go.Figure:
    """Messages per month, one line per pain point (df from queries.painpoints.trend: the 12
    months up to the chosen one). The legend sits under the plot, so the title has the top."""
    if df.empty:
        return empty(lang)
    fig = go.Figure()
    for i, (pid, g) in enumerate(df.groupby("pain_point_id", sort=False)):
        fig.add_trace(go.Scatter(x=g["month_on"], y=g["messages"], name=plot(g["label"].iloc[0]),
                                 mode="lines+markers", line={"color": PALETTE[i % len(PALETTE)]}))
    fig.update_yaxes(title=t("painpoints.messages", lang), rangemode="tozero")
    fig.update_xaxes(dtick="M1", tickformat="%Y-%m")
    fig = style(fig, t("painpoints.trend", lang), height=380)
    fig.update_layout(legend={"orientation": "h", "yanchor": "top", "y": -0.18, "x": 0},
                      margin={"b": 70})
    return fig


def keyword_figure(df: pd.DataFrame, lang: str) -> go.Figure:
    """Messages using each keyword, grouped by pain point (df from keyword_counts)."""
    if df.empty:
        return empty(lang)
    fig = go.Figure()
    for i, (label, g) in enumerate(df.groupby("label", sort=False)):
        g = g.sort_values("messages")
        fig.add_trace(go.Bar(x=g["messages"], y=[f"{plot(label)}｜{plot(k)}" for k in g["keyword"]],
                             name=plot(label),
                             orientation="h", marker_color=PALETTE[i % len(PALETTE)]))
    fig.update_xaxes(title=t("painpoints.keyword_messages", lang))
    return style(fig, t("painpoints.keywords", lang), height=max(300, 22 * len(df) + 80))


def funding_figure(df: pd.DataFrame, lang: str) -> go.Figure:
    """Budget, received and spent of open projects per top pain point (df from funding_summary)."""
    if df.empty:
        return empty(lang)
    fig = go.Figure()
    for i, col in enumerate(("budget_yuan", "received_yuan", "spent_yuan")):
        fig.add_trace(go.Bar(x=df["label"].map(plot), y=df[col], name=t(f"painpoints.{col}", lang),
                             marker_color=PALETTE[i]))
    fig.update_layout(barmode="group")
    fig.update_yaxes(title=t("common.yuan", lang))
    return style(fig, t("painpoints.funding_chart", lang))


def recluster_figure(df: pd.DataFrame, lang: str) -> go.Figure:
    """Size of each pain point found by an on-demand re-clustering."""
    if df.empty:
        return empty(lang)
    d = df.sort_values("size")
    fig = go.Figure(go.Bar(x=d["size"], y=d["label"].map(plot), orientation="h", marker_color=PALETTE[0]))
    fig.update_xaxes(title=t("painpoints.messages", lang))
    return style(fig, height=max(260, 24 * len(d) + 60))
