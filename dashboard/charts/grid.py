"""Grid-case figures: volume over time, backlog by age, SLA rankings, grid x category heat map."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from dashboard.charts.common import PALETTE, empty, style
from dashboard.i18n import t
from dashboard.queries.grid import AGE_BUCKETS


def volume_area(df: pd.DataFrame, lang: str) -> go.Figure:
    """Stacked bars per week or month, one colour per category."""
    if df.empty:
        return empty(lang)
    fig = go.Figure()
    for i, (category, part) in enumerate(df.groupby("category", sort=True)):
        fig.add_trace(go.Bar(x=part["period_on"], y=part["reports"], name=category,
                             marker_color=PALETTE[i % len(PALETTE)],
                             hovertemplate="%{x|%Y-%m-%d}: %{y}<extra>%{fullData.name}</extra>"))
    grain = df["grain"].iloc[0]
    fig.update_layout(barmode="stack")
    fig.update_xaxes(title=t(f"grid.per_{grain}", lang))
    fig.update_yaxes(title=t("grid.axis_reports", lang))
    return style(fig, height=340)


def backlog_bars(df: pd.DataFrame, lang: str) -> go.Figure:
    """Stacked bars: open cases per age bucket, split by category."""
    if df.empty:
        return empty(lang)
    order = [key for key, _, _ in AGE_BUCKETS]
    names = {key: t(f"grid.{key}", lang) for key in order}
    fig = go.Figure()
    for i, (category, part) in enumerate(df.groupby("category", sort=True)):
        part = part.set_index("age_bucket").reindex(order).fillna({"cases": 0})
        fig.add_trace(go.Bar(x=[names[k] for k in order], y=part["cases"], name=category,
                             marker_color=PALETTE[i % len(PALETTE)],
                             hovertemplate="%{x}: %{y}<extra>%{fullData.name}</extra>"))
    fig.update_layout(barmode="stack")
    fig.update_xaxes(title=t("grid.axis_age", lang))
    fig.update_yaxes(title=t("grid.axis_open", lang))
    return style(fig, height=320)


def sla_ranking(df: pd.DataFrame, dimension: str, lang: str, top: int = 15) -> go.Figure:
    """Horizontal bars: share resolved within SLA per group (best on top), cases in hover."""
    if df.empty:
        return empty(lang)
    d = df.head(top).iloc[::-1]
    fig = go.Figure(go.Bar(
        x=d["share"], y=d[dimension].astype(str), orientation="h", marker_color=PALETTE[2],
        customdata=d[["due", "met"]].to_numpy(),
        hovertemplate=t("grid.hover_sla", lang) + "<extra></extra>"))
    fig.update_xaxes(title=t("grid.axis_sla_share", lang), tickformat=".0%", range=[0, 1])
    fig.update_yaxes(title=None)
    return style(fig, height=max(220, 24 * len(d) + 70))


def heatmap(df: pd.DataFrame, lang: str) -> go.Figure:
    """Grid x category: reports in the period."""
    if df.empty:
        return empty(lang)
    pivot = df.pivot_table(index="grid_id", columns="category", values="reports",
                           aggfunc="sum", fill_value=0)
    fig = go.Figure(go.Heatmap(
        z=pivot.to_numpy(), x=list(pivot.columns), y=list(pivot.index), colorscale="Blues",
        hovertemplate="%{y} · %{x}: %{z}<extra></extra>",
        colorbar={"title": {"text": t("grid.axis_reports", lang)}}))
    fig.update_yaxes(autorange="reversed", title=None)
    return style(fig, height=max(260, 22 * len(pivot) + 90))
