"""Explorer result -> plotly Figure. No SQL, no streamlit."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from dashboard.safe import plot

MAX_BARS = 30          # more categories than this are shown as the top 30 by value


def result_figure(df: pd.DataFrame, group_by: tuple[str, ...], period: bool,
                  labels: dict[str, str], value_label: str) -> go.Figure | None:
    """A bar chart (line over months) of `value` by the group columns; None when ungrouped."""
    if not group_by or df.empty:
        return None
    first = group_by[0]
    second = group_by[1] if len(group_by) > 1 else None
    if not period and second is None:
        df = df.nlargest(MAX_BARS, "value").iloc[::-1]
        fig = go.Figure(go.Bar(x=df["value"], y=df[first].astype(str).map(plot), orientation="h",
                               marker_color="#1f6feb", hovertemplate="%{y}: %{x:,}<extra></extra>"))
        fig.update_layout(height=max(260, 24 * len(df) + 80),
                          xaxis_title=value_label, yaxis_title=labels.get(first, first))
        return _style(fig)
    fig = go.Figure()
    series = df.groupby(second, sort=False) if second else [(None, df)]
    top = _top_series(df, second) if second else None
    for name, part in series:
        if top is not None and name not in top:
            continue
        if period:
            part = part.sort_values(first)
        x = part[first].astype(str).map(plot)
        label = plot(name) if second else value_label
        if period:
            fig.add_trace(go.Scatter(x=x, y=part["value"], mode="lines+markers", name=label))
        else:
            fig.add_trace(go.Bar(x=x, y=part["value"], name=label))
    fig.update_layout(barmode="stack", height=420, xaxis_title=labels.get(first, first),
                      yaxis_title=value_label, legend_title=labels.get(second, "") if second else "")
    return _style(fig)


def _top_series(df: pd.DataFrame, column: str, n: int = 12) -> set:
    """The n colour series with the largest totals (a legend of 200 entries helps nobody)."""
    return set(df.groupby(column)["value"].sum().nlargest(n).index)


def _style(fig: go.Figure) -> go.Figure:
    fig.update_layout(margin=dict(l=10, r=10, t=30, b=10), template="plotly_white",
                      font=dict(family="WenQuanYi Micro Hei, Microsoft YaHei, PingFang SC, sans-serif"))
    return fig
