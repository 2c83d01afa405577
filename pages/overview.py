"""总览 Overview: KPI cards with change vs the previous period, top pain points, alerts."""
import streamlit as st

from dashboard import cache, ui
from dashboard.charts import overview as charts
from dashboard.i18n import t
from dashboard.safe import md
from dashboard.queries import overview as q
from dashboard.safe import md
from dashboard.queries import participation as pq

# (card key, column, value kind, delta colour): 'inverse' where a rise is bad news
KPIS = (
    ("open_cases", "open_cases", "int", "inverse"),
    ("sla_share", "sla_share", "share", "normal"),
    ("median_hours", "median_resolution_hours", "hours", "inverse"),
    ("feedback", "feedback", "int", "off"),
    ("avg_rating", "avg_rating", "num", "normal"),
    ("active_projects", "active", "int", "normal"),
    ("on_schedule", "on_schedule_share", "share", "normal"),
    ("funds_in", "funds_in_yuan", "yuan", "normal"),
    ("funds_out", "funds_out_yuan", "yuan", "off"),
)
# 协商与参与 cards (issue 15): (card key, column, value kind, delta colour)
PARTICIPATION_KPIS = (
    ("usage", "usage_rate", "num", "normal"),
    ("valid_votes", "valid_vote_share", "share", "normal"),
    ("overdue", "overdue_resolutions", "int", "inverse"),
    ("top_share", "top_share", "share", "inverse"),
)
FORMAT = {"int": ui.fmt_int, "share": ui.fmt_pct, "num": ui.fmt_num, "yuan": ui.fmt_yuan,
          "hours": ui.fmt_hours}

f, lang = ui.context()
ui.header(t("overview.title", lang), f, lang)

with ui.panel(lang, t("overview.kpis", lang), t("overview.kpis_help", lang)):
    now = cache.run(q.kpis, f).iloc[0]
    compare = f.date_from is not None and f.date_to is not None
    before = cache.run(q.kpis, f.previous_period()).iloc[0] if compare else None
    cards = []
    for key, col, kind, color in KPIS:
        delta = ui.delta_text(now[col], before[col], kind, lang) if compare else None
        label, help_ = t(f"overview.kpi.{key}", lang), t(f"overview.kpi_help.{key}", lang)
        if key == "sla_share":
            help_ = f"{help_}。{ui.sla_rules(lang)}" if lang == "zh" else f"{help_}. {ui.sla_rules(lang)}"
        if kind == "yuan":
            cards.append(ui.yuan_kpi(key, label, now[col], lang, help=help_, delta=delta,
                                     delta_color=color))
        else:
            value = FORMAT[kind](now[col], lang) if kind == "hours" else FORMAT[kind](now[col])
            cards.append(ui.Kpi(key, label, value, delta, delta_color=color,
                                help=help_))
    # three cards a row, so amounts and labels are never cut, even on a laptop screen:
    # grid cases; residents and projects; schedule and money
    ui.kpi_row(cards, per_row=3)

with ui.panel(lang, t("overview.participation", lang), t("overview.participation_help", lang)):
    now_p = cache.run(pq.kpis, f).iloc[0]
    before_p = cache.run(pq.kpis, f.previous_period()).iloc[0] if compare else None
    ui.kpi_row([ui.Kpi(f"p_{key}", t(f"participation.kpi.{key}", lang), FORMAT[kind](now_p[col]),
                       ui.delta_text(now_p[col], before_p[col], kind) if compare else None,
                       delta_color=color, help=t(f"overview.pkpi_help.{key}", lang))
                for key, col, kind, color in PARTICIPATION_KPIS], per_row=4)
    ui.page_link("participation", t("overview.to_participation", lang))

left, right = st.columns([1, 1])
with left, ui.panel(lang, t("overview.painpoints", lang)):
    top = cache.run(q.top_pain_points, f)
    if top.empty:
        st.info(t("overview.no_painpoints", lang))
    else:
        ui.chart(charts.pain_point_bars(top, lang), key="overview_pain_chart")
        for row in top.itertuples():
            st.markdown(t("overview.pain_line", lang, rank=row.rank, label=md(row.label),
                          size=row.size, share=ui.fmt_pct(row.share)))
            if row.quote:
                st.caption(t("common.quote", lang, text=md(row.quote)))
        ui.page_link("painpoints", t("overview.to_painpoints", lang))

with left, ui.panel(lang, t("hotspots.title", lang), t("hotspots.help", lang)):
    spots = cache.run(q.top_hot_spots, f)
    if spots.empty:
        st.caption(t("hotspots.none", lang))
    for row in spots.itertuples():
        st.markdown(t("hotspots.line", lang, rank=row.rank, place=md(row.place), label=md(row.label),
                      size=ui.fmt_int(row.size)))
        key = "hotspots.rise" if row.baseline > 0 else "hotspots.new"
        st.caption(t(key, lang, baseline=ui.fmt_num(row.baseline), share=ui.fmt_pct(row.share)))

with right, ui.panel(lang, t("overview.alerts", lang), t("overview.alerts_help", lang)):
    alerts = cache.run(q.alerts, f)
    if alerts.empty:
        st.success(t("overview.no_alerts", lang))
    for row in alerts.itertuples():
        ui.page_link("projects", t("overview.alert_line", lang, project=md(row.project_id), name=md(row.name),
                                   value=ui.warning_value(row.rule, row.value, lang)),
                     project=row.project_id)
