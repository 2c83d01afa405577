"""平台成效 figures: DataFrame in, plotly Figure out (no data text reaches a title or label)."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from dashboard.charts.common import PALETTE, empty, style
from dashboard.i18n import t


def monthly_effectiveness(monthly: pd.DataFrame, lang: str) -> go.Figure:
    """Per month: the mean ease score (line, left axis; gaps where too few ratings) and the median
    hours to resolve grid cases (bars, right axis)."""
    if monthly.empty:
        return empty(lang)
    x = monthly["month_on"].tolist()
    fig = go.Figure(data=[
        dict(type="bar", x=x, y=monthly["median_resolution_hours"].tolist(), yaxis="y2", opacity=0.45,
             name=t("participation.kpi.resolution_hours", lang), marker={"color": PALETTE[1]}),
        dict(type="scatter", x=x, y=monthly["avg_ease"].tolist(), mode="lines+markers", connectgaps=False,
             name=t("participation.kpi.ease", lang), line={"color": PALETTE[0]}),
    ], _validate=False)
    fig.update_layout(yaxis={"title": t("participation.ease_axis", lang), "range": [1, 5]},
                      yaxis2={"title": t("participation.hours_axis", lang), "overlaying": "y", "side": "right",
                              "rangemode": "tozero", "showgrid": False})
    fig.update_xaxes(tickformat="%Y-%m")
    return style(fig, height=320)
