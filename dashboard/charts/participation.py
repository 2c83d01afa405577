"""协商与参与 figures: DataFrame in, plotly Figure out. Data text reaching a title, label or hover
goes through html.escape (plotly renders a subset of HTML there)."""
from __future__ import annotations

import html

import pandas as pd
import plotly.graph_objects as go

from dashboard.charts.common import BAD_COLOR, GOOD_COLOR, NEUTRAL_COLOR, PALETTE, category_color, empty, style
from dashboard.i18n import t


def _esc(values) -> list[str]:
    return [html.escape(str(v)) for v in values]


def _figure(traces: list[dict]) -> go.Figure:
    """A figure from plain trace dicts without plotly's per-property validation (70 ms for eight
    lines, 1 ms without): the traces are built here from code constants and query columns."""
    return go.Figure(data=traces, _validate=False)


def vote_participation(votes: pd.DataFrame, lang: str) -> go.Figure:
    """Each vote's participation share over time against the validity line; invalid votes red,
    valid-but-failed grey, passed green."""
    if votes.empty:
        return empty(lang)
    traces = []
    outcome = [("invalid", ~votes["valid"], BAD_COLOR), ("failed", votes["valid"] & ~votes["passed"], NEUTRAL_COLOR),
               ("passed", votes["passed"], GOOD_COLOR)]
    for key, mask, color in outcome:
        part = votes[mask]
        traces.append(dict(
            type="scatter", x=part["closed_on"].tolist(), y=part["participation_share"].tolist(), mode="markers",
            name=t(f"participation.vote.{key}", lang),
            marker={"color": color, "size": 11, "symbol": "x" if key == "invalid" else "circle"},
            customdata=[list(c) for c in zip(_esc(part["vote_id"]), _esc(part["community"]), _esc(part["topic"]))],
            hovertemplate="%{customdata[0]} · %{customdata[1]}<br>%{customdata[2]}<br>%{y:.1%}<extra></extra>"))
    fig = _figure(traces)
    line = float(votes["valid_share"].iloc[0])
    fig.add_hline(y=line, line_dash="dash", line_color=BAD_COLOR,
                  annotation_text=t("participation.vote.line", lang, share=f"{line:.0%}"), annotation_position="top left")
    fig.update_yaxes(tickformat=".0%", rangemode="tozero", title=t("participation.vote.share_axis", lang))
    fig.update_xaxes(tickformat="%Y-%m-%d")     # votes close on days: a month label repeats
    days = pd.to_datetime(votes["closed_on"])
    if len(days) and (days.max() - days.min()) < pd.Timedelta(days=28):
        # a few votes close together: widen to a month around them, or the axis ticks every
        # few hours and prints the same day several times
        middle = days.min() + (days.max() - days.min()) / 2
        fig.update_xaxes(range=[middle - pd.Timedelta(days=15), middle + pd.Timedelta(days=15)])
    return style(fig, height=340)


def meetings_per_month(monthly: pd.DataFrame, lang: str) -> go.Figure:
    """Meetings held per month, stacked by kind."""
    if monthly.empty:
        return empty(lang)
    per = monthly.groupby(["month_on", "kind"], as_index=False)["meetings"].sum()
    fig = _figure([dict(type="bar", x=part["month_on"].tolist(), y=part["meetings"].tolist(),
                        name=html.escape(str(kind)), marker={"color": PALETTE[i % len(PALETTE)]})
                   for i, (kind, part) in enumerate(per.groupby("kind", sort=True))])
    fig.update_layout(barmode="stack")
    fig.update_xaxes(tickformat="%Y-%m")
    fig.update_yaxes(title=t("participation.meetings_axis", lang))
    return style(fig, height=300)


def resolution_status(counts: pd.DataFrame, lang: str) -> go.Figure:
    """Resolutions per status (待执行 / 执行中 / 已完成 / 搁置)."""
    if counts.empty:
        return empty(lang)
    order = ["待执行", "执行中", "已完成", "搁置"]
    counts = counts.set_index("status").reindex(order).fillna(0).reset_index()
    colors = {"待执行": NEUTRAL_COLOR, "执行中": PALETTE[0], "已完成": GOOD_COLOR, "搁置": PALETTE[1]}
    fig = go.Figure(go.Bar(x=[t(f"participation.status.{s}", lang) for s in counts["status"]],
                           y=counts["resolutions"], marker_color=[colors[s] for s in counts["status"]],
                           text=counts["resolutions"].astype(int), textposition="outside"))
    return style(fig, height=280)


def usage_lines(monthly: pd.DataFrame, lang: str) -> go.Figure:
    """Active residents per 1,000 households, one line per community."""
    if monthly.empty or monthly["per_1000_households"].isna().all():
        return empty(lang)
    fig = _figure([dict(type="scatter", x=part["month_on"].tolist(), y=part["per_1000_households"].tolist(),
                        mode="lines+markers", name=html.escape(str(comm)), line={"color": category_color(comm)})
                   for comm, part in monthly.groupby("community", sort=True)])
    fig.update_xaxes(tickformat="%Y-%m")
    fig.update_yaxes(title=t("participation.usage_axis", lang), rangemode="tozero")
    return style(fig, height=320)


def concentration_bars(conc: pd.DataFrame, lang: str) -> go.Figure:
    """Top-10% share of tasks per community (bars) with the Gini written on each."""
    if conc.empty:
        return empty(lang)
    fig = go.Figure(go.Bar(
        x=_esc(conc["scope"]), y=conc["top_share"], marker_color=PALETTE[0],
        text=[t("participation.gini_label", lang, share=f"{s:.0%}", gini=f"{g:.2f}")
              for s, g in zip(conc["top_share"], conc["gini"])], textposition="outside",
        textfont={"size": 11}, cliponaxis=False))
    fig.update_yaxes(tickformat=".0%", range=[0, 1], title=t("participation.top_axis", lang))
    fig.update_xaxes(tickangle=-30)
    return style(fig, height=320)


def concentration_trend(monthly: pd.DataFrame, lang: str) -> go.Figure:
    """Top-10% share and Gini per month."""
    if monthly.empty:
        return empty(lang)
    fig = _figure([dict(type="scatter", x=monthly["scope"].tolist(), y=monthly[col].tolist(), mode="lines+markers",
                        name=t(f"participation.col.{col}", lang), line={"color": color})
                   for col, color in (("top_share", PALETTE[0]), ("gini", PALETTE[1]))])
    fig.update_xaxes(tickformat="%Y-%m")
    fig.update_yaxes(range=[0, 1])
    return style(fig, height=300)


def lorenz_curve(points: pd.DataFrame, lang: str) -> go.Figure:
    """Cumulative share of tasks against cumulative share of participants (fewest tasks first)."""
    if points.empty:
        return empty(lang)
    x = [0.0, *points["participants_share"].tolist()]
    y = [0.0, *points["tasks_share"].tolist()]
    fig = _figure([
        dict(type="scatter", x=[0, 1], y=[0, 1], mode="lines", name=t("participation.lorenz_equal", lang),
             line={"dash": "dot", "color": NEUTRAL_COLOR}),
        dict(type="scatter", x=x, y=y, mode="lines", name=t("participation.lorenz_curve", lang),
             fill="tonexty", line={"color": PALETTE[0]})])
    fig.update_xaxes(tickformat=".0%", title=t("participation.lorenz_x", lang), range=[0, 1])
    fig.update_yaxes(tickformat=".0%", title=t("participation.lorenz_y", lang), range=[0, 1])
    return style(fig, height=340)


def young_bars(young: pd.DataFrame, lang: str) -> go.Figure:
    """Share of decisions with a participant under 35, per community."""
    young = young.dropna(subset=["young_share"])
    if young.empty:
        return empty(lang)
    fig = go.Figure(go.Bar(x=_esc(young["community"]), y=young["young_share"], marker_color=PALETTE[2],
                           text=[f"{v:.0%}" for v in young["young_share"]], textposition="outside"))
    fig.update_yaxes(tickformat=".0%", range=[0, 1], title=t("participation.young_axis", lang))
    return style(fig, height=300)


def rating_bars(ev: pd.DataFrame, lang: str, limit: int = 15) -> go.Figure:
    """The `limit` lowest-rated projects: average rating (red when the rule flags it), count as text."""
    if ev.empty:
        return empty(lang)
    part = ev.sort_values(["avg_rating", "project_id"]).head(limit).iloc[::-1]
    fig = go.Figure(go.Bar(
        y=[f"{html.escape(str(p))} {html.escape(str(n))}" for p, n in zip(part["project_id"], part["name"])],
        x=part["avg_rating"], orientation="h",
        marker_color=[BAD_COLOR if low else PALETTE[0] for low in part["low_rated"]],
        text=[t("participation.rating_label", lang, avg=f"{a:.1f}", n=int(n))
              for a, n in zip(part["avg_rating"], part["ratings"])], textposition="outside"))
    fig.update_xaxes(range=[0, 5.8], title=t("participation.rating_axis", lang))
    return style(fig, height=max(260, 26 * len(part) + 60))
