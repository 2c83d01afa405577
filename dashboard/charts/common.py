"""Shared chart styling: one palette, one layout, five-society colours. DataFrame in, Figure out."""
from __future__ import annotations

import plotly.graph_objects as go

from dashboard.i18n import t

PALETTE = ("#2F6FB2", "#E07B39", "#3A9D6B", "#C2474B", "#8A63B8", "#8C6D46", "#D06FA8",
           "#6F7F8F", "#B5A33A", "#38A3B0")
FIVE_COLORS = {"社区": "#2F6FB2", "社会组织": "#3A9D6B", "社会工作者": "#E07B39",
               "社区志愿者": "#C2474B", "社会慈善资源": "#8A63B8"}
IN_COLOR, OUT_COLOR, IN_KIND_COLOR = "#2F6FB2", "#E07B39", "#B5A33A"
FONT = "Noto Sans CJK SC, WenQuanYi Micro Hei, Microsoft YaHei, PingFang SC, sans-serif"


def style(fig: go.Figure, title: str | None = None, height: int = 360) -> go.Figure:
    """The house layout: compact margins, horizontal legend, CJK-capable fonts."""
    fig.update_layout(
        title={"text": title} if title else None, height=height, font={"family": FONT},
        margin={"l": 10, "r": 10, "t": 40 if title else 10, "b": 10},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0, "title": None},
        colorway=list(PALETTE),   # Streamlit's theme styles the rest (a template costs ~0.1 s a figure)
    )
    return fig


def empty(lang: str, height: int = 240) -> go.Figure:
    """A blank figure that says there is nothing to draw."""
    fig = go.Figure()
    fig.add_annotation(text=t("common.no_data", lang), showarrow=False, x=0.5, y=0.5,
                       xref="paper", yref="paper")
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return style(fig, height=height)
