"""Overview figures: the month's top pain points."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from dashboard.charts.common import PALETTE, empty, style
from dashboard.i18n import t
from dashboard.safe import plot


def pain_point_bars(df: pd.DataFrame, lang: str) -> go.Figure:
    """Horizontal bars: messages per top pain point (rank 1 on top)."""
    if df.empty:
        return empty(lang)
    d = df.sort_values("rank", ascending=False)
    fig = go.Figure(go.Bar(
        x=d["size"], y=[f"#{r} {plot(label)}" for r, label in zip(d["rank"], d["label"])],
        orientation="h", marker_color=PALETTE[1],
        hovertemplate=t("overview.hover_pain", lang) + "<extra></extra>"))
    fig.update_xaxes(title=t("overview.axis_messages", lang))
    return style(fig, height=200)
