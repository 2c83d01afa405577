"""Grid-case figures: volume over time, backlog by age, SLA rankings, grid x category heat map."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from dashboard.charts.common import BAD_COLOR, GOOD_COLOR, NEUTRAL_COLOR, category_color, date_ticks, empty, style
from dashboard.i18n import t
from dashboard.safe import plot
from dashboard.queries.grid import AGE_BUCKETS


def volume_area(df: pd.DataFrame, lang: str) -> go.Figure:
    """Stacked bars per week or month, one colour per category."""
    if df.empty:
        return empty(lang)
    fig = go.Figure()
    # biggest category at the bottom of each stack, where its trend is easiest to read
    order = df.groupby("category")["reports"].sum().sort_values(ascending=False).index
    for category in order:
        part = df[df["category"] == category]
        fig.add_trace(go.Bar(x=part["period_on"], y=part["reports"], name=plot(category),
                             marker_color=category_color(category),
                             hovertemplate="%{x|%Y-%m-%d}: %{y}<extra>%{fullData.name}</extra>"))
    grain = df["grain"].iloc[0]
    fig.update_layout(barmode="stack")
    fig.update_xaxes(title=t(f"grid.per_{grain}", lang),
                     tickformat=date_ticks(lang) if grain == "week" else "%Y-%m")
    fig.update_yaxes(title=t("grid.axis_reports", lang))
    return style(fig, height=340)


def backlog_bars(df: pd.DataFrame, lang: str) -> go.Figure:
    """Stacked bars: open cases per age bucket, split by category."""
    if df.empty:
        return empty(lang)
    order = [key for key, _, _ in AGE_BUCKETS]
    names = {key: t(f"grid.{key}", lang) for key in order}
    fig = go.Figure()
    biggest = df.groupby("category")["cases"].sum().sort_values(ascending=False).index
    for category in biggest:
        part = df[df["category"] == category]
        part = part.set_index("age_bucket").reindex(order).fillna({"cases": 0})
        fig.add_trace(go.Bar(x=[names[k] for k in order], y=part["cases"], name=plot(category),
                             marker_color=category_color(category),
                             hovertemplate="%{x}: %{y}<extra>%{fullData.name}</extra>"))
    fig.update_layout(barmode="stack")
    fig.update_xaxes(title=t("grid.axis_age", lang))
    fig.update_yaxes(title=t("grid.axis_open", lang))
    return style(fig, height=320)


def sla_ranking(df: pd.DataFrame, dimension: str, lang: str, top: int = 15) -> go.Figure:
    """Horizontal bars: share resolved within SLA per group (best on top), cases in hover.

    Green at or above the ranked groups' overall share, red below; the dotted line is that share.
    """
    if df.empty:
        return empty(lang)
    overall = df["met"].sum() / df["due"].sum() if df["due"].sum() else None
    d = df.head(top).iloc[::-1]
    colors = [NEUTRAL_COLOR if overall is None else GOOD_COLOR if s >= overall else BAD_COLOR
              for s in d["share"]]
    fig = go.Figure(go.Bar(
        x=d["share"], y=d[dimension].astype(str).map(plot), orientation="h", marker_color=colors,
        customdata=d[["due", "met"]].to_numpy(), text=[f"{s:.0%}" for s in d["share"]],
        textposition="outside", cliponaxis=False,
        hovertemplate=t("grid.hover_sla", lang) + "<extra></extra>"))
    if overall is not None:
        fig.add_vline(x=overall, line={"color": "#555555", "dash": "dot", "width": 1},
                      annotation_text=t("grid.overall_sla", lang, share=f"{overall:.0%}"),
                      annotation_position="top", annotation_font_size=11)
    fig.update_xaxes(title=t("grid.axis_sla_share", lang), tickformat=".0%", range=[0, 1.08])
    fig.update_yaxes(title=None)
    fig = style(fig, height=max(220, 24 * len(d) + 80))
    fig.update_layout(margin={"t": 30})
    return fig


def heatmap(df: pd.DataFrame, lang: str) -> go.Figure:
    """Grid x category: reports in the period."""
    if df.empty:
        return empty(lang)
    pivot = df.pivot_table(index="grid_id", columns="category", values="reports",
                           aggfunc="sum", fill_value=0)
    fig = go.Figure(go.Heatmap(
        z=pivot.to_numpy(), x=[plot(c) for c in pivot.columns],
        y=[plot(g) for g in pivot.index], colorscale="Blues",
        hovertemplate="%{y} · %{x}: %{z}<extra></extra>",
        colorbar={"title": {"text": t("grid.axis_reports", lang)}}))
    fig.update_yaxes(autorange="reversed", title=None)
    return style(fig, height=max(260, 22 * len(pivot) + 90))
