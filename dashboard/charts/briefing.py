"""Weekly-briefing figures: daily activity and the week's money. No SQL, no streamlit.

Both figures are always drawn (an empty week gets an annotated empty chart), so the page
always holds EXPECTED_CHARTS charts - the exporter refuses a capture with fewer.
"""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from dashboard.safe import plot

EXPECTED_CHARTS = 2
FONT = "WenQuanYi Micro Hei, Microsoft YaHei, PingFang SC, Noto Sans CJK SC, sans-serif"
BLUE, TEAL, GREEN, ORANGE, GREY = "#1f6feb", "#2a9d8f", "#2e7d32", "#e07b39", "#9aa5b1"


def activity_figure(df: pd.DataFrame, weekdays: list[str], labels: dict[str, str]) -> go.Figure:
    """Bars: this week's grid reports and feedback per day; dotted lines: the week before."""
    this = df[df["this_week"]].reset_index(drop=True)
    prev = df[~df["this_week"]].reset_index(drop=True)
    fig = go.Figure()
    for col, color in (("reports", BLUE), ("feedback", TEAL)):
        fig.add_trace(go.Bar(x=weekdays[:len(this)], y=this[col], name=labels[col],
                             marker_color=color))
        fig.add_trace(go.Scatter(x=weekdays[:len(prev)], y=prev[col], mode="lines",
                                 name=f"{labels[col]} · {labels['previous']}",
                                 line=dict(color=color, dash="dot", width=2)))
    fig.update_layout(barmode="group", height=300,
                      legend=dict(orientation="h", y=-0.18, x=0))
    peak = float(df[["reports", "feedback"]].to_numpy().max()) if len(df) else 0.0
    fig.update_yaxes(rangemode="tozero", tickformat=",d", dtick=1 if peak <= 5 else None)
    return _style(fig)


def money_figure(df: pd.DataFrame, labels: dict[str, str]) -> go.Figure:
    """Horizontal bars: money in by source type, money out by expense category (yuan)."""
    fig = go.Figure()
    if df.empty:
        fig.add_annotation(text=labels["no_money"], showarrow=False, font=dict(size=16),
                           x=0.5, y=0.5, xref="paper", yref="paper")
        fig.update_xaxes(visible=False)
        fig.update_yaxes(visible=False)
    for direction, color in (("in", GREEN), ("out", ORANGE)):
        part = df[df["direction"] == direction].sort_values("amount_yuan")
        if part.empty:
            continue
        fig.add_trace(go.Bar(
            y=[f"{labels[direction]} · {plot(b)}" for b in part["bucket"]], x=part["amount_yuan"],
            orientation="h", marker_color=color, name=labels[direction],
            text=[f"¥{v:,.0f}" for v in part["amount_yuan"]], textposition="auto",
            hovertemplate="%{y}: ¥%{x:,.0f}<extra></extra>"))
    fig.update_layout(height=300, showlegend=False, xaxis_tickprefix="¥")
    return _style(fig)


def _style(fig: go.Figure) -> go.Figure:
    fig.update_layout(margin=dict(l=10, r=10, t=10, b=10), template="plotly_white",
                      font=dict(family=FONT, size=13))
    return fig
