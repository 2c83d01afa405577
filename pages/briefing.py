"""周报: one ISO week, one scope, laid out to be read - and captured by `python -m etl briefing` - as one screen.

The URL drives it: ?week=2026-W47&community=NAME (community absent: the whole street).
With ?embed=true the controls and the sidebar are hidden, leaving only the briefing.
"""
from __future__ import annotations

import streamlit as st

from dashboard import cache, ui
from dashboard.charts import briefing as charts
from dashboard.filters import Filters
from dashboard.i18n import t
from dashboard.safe import md
from dashboard.queries import briefing as q
from dashboard.queries.base import current_scope
from dashboard.safe import md

f, lang = ui.context()
MAX_ITEMS = 6              # list rows per panel; the rest is summarised as "and N more"
QUOTE_CHARS = 70
FORMATS = {"int": ui.fmt_int, "share": ui.fmt_pct, "num": ui.fmt_num, "yuan": ui.fmt_yuan}
RULE_FORMATS = {"behind_schedule": ui.fmt_num, "spending_ahead": ui.fmt_num,
                "overdue_milestones": ui.fmt_int, "stalled": ui.fmt_int, "over_budget": ui.fmt_yuan,
                "low_rating": ui.fmt_num}


def set_week() -> None:
    st.query_params["week"] = st.session_state["briefing_week"]


def set_scope() -> None:
    scope = st.session_state["briefing_scope"]
    if "f_community" in st.session_state:     # under app.py: the sidebar filter is the truth
        st.session_state["f_community"] = scope
        st.session_state["f_grid"] = None
    if scope:
        st.query_params["community"] = scope
    else:
        st.query_params.pop("community", None)


def week_and_scope(communities: list[str]) -> tuple[str, str | None]:
    """The week and scope asked for in the URL; an invalid one stops the page with an error."""
    asked = st.query_params.get("week")
    week = asked or cache.run(q.default_week, Filters())
    if q.parse_week(week) is None:
        st.error(t("briefing.bad_week", lang, week=md(week)))
        st.stop()
    own = communities if current_scope().communities is not None else []
    # a party that sees one community gets that community's briefing, not a "whole street" title
    scope = f.community or st.query_params.get("community") or (own[0] if len(own) == 1 else None)
    if scope is not None and scope not in communities:
        st.error(t("briefing.bad_scope", lang, scope=md(scope)))
        st.stop()
    return week, scope


def controls(week: str, scope: str | None, communities: list[str]) -> None:
    latest = cache.run(q.last_load, Filters())["latest_on"].iloc[0]
    weeks = q.recent_weeks(latest) if latest else []
    if week not in weeks:
        weeks = sorted({*weeks, week}, reverse=True)
    st.session_state["briefing_week"] = week
    st.session_state["briefing_scope"] = scope
    c1, c2, _ = st.columns([1, 1, 2])
    c1.selectbox(t("briefing.week", lang), weeks, key="briefing_week", on_change=set_week,
                 format_func=lambda w: f"{w}（{_range(w)}）")
    c2.selectbox(t("briefing.scope", lang), [None, *communities], key="briefing_scope",
                 on_change=set_scope, placeholder=t("common.whole_street", lang),
                 format_func=lambda c: t("common.whole_street", lang) if c is None else c)


def _range(week: str) -> str:
    monday, sunday = q.week_bounds(week)
    return f"{monday:%m-%d}—{sunday:%m-%d}"


def header(week: str, scope: str | None) -> None:
    monday, sunday = q.week_bounds(week)
    scope_name = md(scope) if scope else t("common.whole_street", lang)
    st.title(t("briefing.heading", lang, scope=scope_name, week=week))
    load = cache.run(q.last_load, Filters()).iloc[0]
    loaded = load["loaded_at"]
    st.caption(t("briefing.stamp", lang, start=f"{monday:%Y-%m-%d}", end=f"{sunday:%Y-%m-%d}",
                 loaded="–" if loaded is None or str(loaded) == "NaT" else f"{loaded:%Y-%m-%d %H:%M}",
                 latest=load["latest_on"] or "–"))


def kpis(bf) -> None:
    rows = cache.run(q.headline, bf)
    cards = [ui.Kpi(key=r.key, label=t(f"briefing.kpi.{r.key}", lang),
                    value=FORMATS[r.kind](r.value),
                    delta=ui.delta_text(r.value, r.previous, r.kind),
                    delta_color="inverse" if r.rise_is_bad else "normal",
                    help=t("briefing.vs_previous", lang))
             for r in rows.itertuples()]
    ui.kpi_row(cards, per_row=4)


def chart(fig, key: str) -> None:
    """Embedded (captured) charts are static: no mode bar, less work for the browser."""
    if st.context.is_embedded:
        st.plotly_chart(fig, key=key, width="stretch", config={"staticPlot": True})
    else:
        ui.chart(fig, key=key)


def activity(bf) -> None:
    labels = {"reports": t("briefing.reports", lang), "feedback": t("briefing.feedback", lang),
              "previous": t("briefing.previous_week", lang)}
    fig = charts.activity_figure(cache.run(q.daily_activity, bf),
                                 t("briefing.weekdays", lang).split(","), labels)
    chart(fig, key="briefing_activity")


def money(bf) -> None:
    labels = {"in": t("briefing.money_in", lang), "out": t("briefing.money_out", lang),
              "no_money": t("briefing.no_money", lang)}
    chart(charts.money_figure(cache.run(q.money_flows, bf), labels), key="briefing_money")


def pain_points(bf) -> None:
    df = cache.run(q.pain_points, bf)
    if df.empty:
        st.caption(t("briefing.no_pain_points", lang))
        return
    for r in df.itertuples():
        st.markdown(t("briefing.pain_point", lang, rank=r.rank, label=md(r.label), size=r.size,
                      share=ui.fmt_pct(r.share)))
        if isinstance(r.quote, str) and r.quote:
            quote = r.quote if len(r.quote) <= QUOTE_CHARS else r.quote[:QUOTE_CHARS] + "…"
            st.markdown(t("common.quote_block", lang, text=md(quote)))


def hot_spots(bf) -> None:
    df = cache.run(q.hot_spots, bf)
    if df.empty:
        st.caption(t("hotspots.none", lang))
        return
    for r in df.itertuples():
        st.markdown(t("hotspots.briefing_line", lang, rank=r.rank, place=md(r.place), label=md(r.label),
                      size=ui.fmt_int(r.size)))


def item_list(lines: list[str], empty_key: str) -> None:
    if not lines:
        st.caption(t(empty_key, lang))
        return
    shown = "\n".join(f"- {line}" for line in lines[:MAX_ITEMS])
    more = len(lines) - MAX_ITEMS
    st.markdown(shown + (f"\n\n{t('briefing.more', lang, n=more)}" if more > 0 else ""))


def due_projects(bf) -> None:
    df = cache.run(q.projects_due, bf)
    item_list([t("briefing.due_line", lang, name=md(r.name), community=md(r.community),
                 flag=t("briefing.overdue" if r.overdue else "briefing.due", lang),
                 end=f"{r.planned_end_on:%Y-%m-%d}", progress=ui.fmt_num(r.progress_pct, 0))
               for r in df.itertuples()], "briefing.no_due")


def warnings(bf) -> None:
    df = cache.run(q.new_warnings, bf)
    item_list([t("briefing.warning_line", lang, name=md(r.name), community=md(r.community),
                 rule=t(f"briefing.rule.{r.rule}", lang),
                 value=RULE_FORMATS.get(r.rule, ui.fmt_num)(r.value))
               for r in df.itertuples()], "briefing.no_warnings")


def hide_chrome() -> None:
    """Embedded (the exporter's capture): no sidebar, nothing but the briefing."""
    st.html("<style>[data-testid='stSidebar'],[data-testid='stSidebarCollapsedControl'],"
            "[data-testid='stExpandSidebarButton']{display:none !important}</style>")


if not cache.has_data():
    ui.empty_state(lang)
    st.stop()
all_communities = cache.run(q.communities, Filters())
week, scope = week_and_scope(all_communities)
bf = q.week_filters(week, scope, lang)
if st.context.is_embedded:
    hide_chrome()
header(week, scope)
if not st.context.is_embedded:
    controls(week, scope, all_communities)
with ui.panel(lang):
    kpis(bf)
left, right = st.columns(2)
with left, ui.panel(lang, t("briefing.activity", lang)):
    activity(bf)
with right, ui.panel(lang, t("briefing.money", lang)):
    money(bf)
c1, c2, c3 = st.columns(3)
with c1, ui.panel(lang, t("briefing.pain_points", lang)):
    pain_points(bf)
with c1, ui.panel(lang, t("hotspots.title", lang)):
    hot_spots(bf)
with c2, ui.panel(lang, t("briefing.projects_due", lang)):
    due_projects(bf)
with c3, ui.panel(lang, t("briefing.new_warnings", lang)):
    warnings(bf)
