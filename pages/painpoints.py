"""民意痛点 Resident pain points: the month's top-3 as cards, trends, keywords, the messages
behind each pain point, the open projects and money addressing them, on-demand re-clustering."""
import streamlit as st

from dashboard import cache, ui
from dashboard.access.gate import audit_once
from dashboard.charts import painpoints as charts
from dashboard.i18n import STRINGS, t
from dashboard.safe import md
from dashboard.queries import painpoints as q
from dashboard.queries.base import aggregates_only


f, lang = ui.context()
st.title(t("painpoints.title", lang))
scope = q.scope_of(f)
st.caption(t("painpoints.intro", lang, scope=t("common.whole_street", lang) if scope == q.STREET_SCOPE
             else md(scope)))


def growth(row) -> tuple[str, str]:
    """(delta text, arrow) for the card: up or down beyond ±5 %, no arrow when flat or new."""
    if row.growth is None or row.growth != row.growth:          # NULL / NaN: new this month
        return t("painpoints.card.new", lang), "off"
    arrow = "up" if row.growth > 0.05 else "down" if row.growth < -0.05 else "off"
    return t("painpoints.card.growth", lang, pct=f"{100 * row.growth:+.0f}%"), arrow


def streak(n: int) -> str:
    n = int(n)
    return t("painpoints.card.streak_first", lang) if n == 1 else t("painpoints.card.streak", lang, n=n)


def card(row) -> None:
    """One pain point: label, size, trend arrow, streak, keywords, three quotes."""
    with st.container(border=True):
        delta, arrow = growth(row)
        # a growing pain point is bad news: red up, green down; grey when flat or new
        st.metric(f"#{row.rank} {md(row.label)}", ui.fmt_int(row.size), delta,
                  delta_color="off" if arrow == "off" else "inverse", delta_arrow=arrow)
        st.caption(t("painpoints.card.size", lang, size=ui.fmt_int(row.size), share=ui.fmt_pct(row.share)))
        st.caption(streak(row.months_in_top3))
        st.caption(t("painpoints.card.unresolved", lang, share=ui.fmt_pct(row.unresolved_share),
                     rating=ui.fmt_num(row.avg_rating), likes=ui.fmt_int(row.likes)))
        st.markdown(t("painpoints.card.keywords", lang, words=" · ".join(md(k) for k in list(row.keywords)[:6])))
        st.markdown(f"**{t('painpoints.card.quotes', lang)}**")
        for text in list(row.representative_texts)[:3]:
            st.caption(t("common.quote", lang, text=md(text)))


def hot_spot(row) -> None:
    """One hot spot: place, pain point, size, rise against its own past, a quote."""
    with st.container(border=True):
        st.markdown(t("hotspots.line", lang, rank=row.rank, place=md(row.place), label=md(row.label),
                      size=ui.fmt_int(row.size)))
        key = "hotspots.rise" if row.baseline > 0 else "hotspots.new"
        st.caption(t(key, lang, baseline=ui.fmt_num(row.baseline), share=ui.fmt_pct(row.share)))
        for text in list(row.representative_texts)[:1]:
            st.caption(t("common.quote", lang, text=md(text)))


def where(month, pid) -> None:
    """The map-less "where" list of one pain point in one month."""
    found = cache.run(q.places, f, month, pid)
    st.markdown(f"**{t('hotspots.where', lang)}**")
    if found.empty:
        st.caption(t("hotspots.no_places", lang))
        return
    st.markdown("\n".join("- " + t("hotspots.where_line", lang, place=md(r.place), n=ui.fmt_int(r.messages))
                          for r in found.itertuples()))


if cache.connection() is None:
    ui.empty_state(lang)
    st.stop()

month, top = None, None
with ui.panel(lang, t("painpoints.top3", lang)):
    months = cache.run(q.months, f)
    if months.empty:
        st.info(t("painpoints.no_results", lang))
    else:
        options = [m.date() if hasattr(m, "date") else m for m in months["month_on"]]
        month = st.selectbox(t("painpoints.month", lang), options, key="painpoints_month",
                             format_func=lambda m: m.strftime("%Y-%m"))
        top = cache.run(q.top3, f, month)
        for col, row in zip(st.columns(3), top.itertuples()):
            with col:
                card(row)

spots = None
if month is not None:
    with ui.panel(lang, t("hotspots.title", lang), t("hotspots.help", lang)):
        spots = cache.run(q.hot_spots, f, month)
        if spots.empty:
            st.info(t("hotspots.none", lang))
        for col, row in zip(st.columns(3), spots.itertuples()):
            with col:
                hot_spot(row)

if top is not None and not top.empty:
    # one of two views at a time: each plotly chart costs the browser's main thread when the
    # page is opened, so the keyword bars are drawn when chosen
    with ui.panel(lang, t("painpoints.views", lang)):
        view = st.segmented_control(t("painpoints.view", lang), ("trend", "keywords"), default="trend",
                                    key="painpoints_view", format_func=lambda v: t(f"painpoints.{v}", lang),
                                    label_visibility="collapsed") or "trend"
        if view == "keywords":
            ui.chart(charts.keyword_figure(cache.run(q.keyword_counts, f, month), lang),
                     key="painpoints_keywords")
        else:
            st.caption(t("painpoints.trend_help", lang))
            trend = cache.run(q.trend, f, tuple(top["pain_point_id"]), month)
            ui.chart(charts.trend_figure(trend, lang), key="painpoints_trend")

    with ui.panel(lang, t("painpoints.drill", lang), t("painpoints.drill_help", lang)):
        labels = dict(zip(top["pain_point_id"], top["label"]))
        if aggregates_only("feedback"):
            st.info(t("scope.no_messages", lang))
        # the lists are one click away: their pickers, pagers and 50-row tables cost the browser
        # ~0.1 s when the page opens, and reading single messages is a drill-down (audited)
        elif st.toggle(t("painpoints.drill_show", lang), key="painpoints_drill_show"):
            pid = st.selectbox(t("painpoints.pick", lang), list(labels), key="painpoints_pick",
                               format_func=lambda p: labels[p])
            where(month, pid)
            total = int(cache.run(q.message_count, f, pid)["messages"].sum())
            st.caption(t("painpoints.drill_count", lang, n=ui.fmt_int(total)))
            offset = ui.pager(total, lang, key="painpoints_messages_page", page_size=q.PAGE_SIZE,
                              context=(pid, f))
            rows = cache.run(q.messages, f, pid, q.PAGE_SIZE, offset)
            # rows: what this person received (one page); total and offset: where it sits
            audit_once("drill_down", slot="messages", page="painpoints", pain_point=pid,
                       label=labels[pid], rows=len(rows), total=total, offset=offset)
            ui.table(rows, lang, key="painpoints_messages", height=360, preview=True)

    if spots is not None and not spots.empty:
        with ui.panel(lang, t("hotspots.drill", lang)):
            if aggregates_only("feedback"):      # the messages behind a hot spot are resident rows
                st.info(t("scope.no_messages", lang))
            elif st.toggle(t("hotspots.drill_show", lang), key="hotspots_drill_show"):
                options = list(spots.itertuples(index=False))
                pick = st.selectbox(t("hotspots.pick", lang), range(len(options)), key="hotspots_pick",
                                    format_func=lambda i: t("hotspots.option", lang,
                                                            place=options[i].place,
                                                            label=options[i].label))
                chosen = options[pick]
                spot = (month, chosen.place, chosen.pain_point_id)
                total = int(cache.run(q.hot_spot_message_count, f, *spot)["messages"].sum())
                st.caption(t("hotspots.drill_count", lang, n=ui.fmt_int(total)))
                offset = ui.pager(total, lang, key="hotspots_messages_page", page_size=q.PAGE_SIZE,
                                  context=(spot, f))
                rows = cache.run(q.hot_spot_messages, f, *spot, q.PAGE_SIZE, offset)
                audit_once("drill_down", slot="hot_spot", page="painpoints", hot_spot=chosen.place,
                           pain_point=chosen.pain_point_id, rows=len(rows), total=total,
                           offset=offset)
                ui.table(rows, lang, key="hotspots_messages", height=300, preview=True)

    with ui.panel(lang, t("painpoints.funding", lang), t("painpoints.funding_help", lang)):
        summary = cache.run(q.funding_summary, f, month)
        for row in summary.itertuples():
            if row.projects:
                st.markdown(t("painpoints.projects_line", lang, label=md(row.label), n=row.projects,
                              budget=ui.fmt_yuan(row.budget_yuan)))
            else:
                st.markdown(t("painpoints.no_project", lang, label=md(row.label)))
        # the money chart when asked for (one plotly chart less when the page opens)
        if st.toggle(t("painpoints.funding_show_chart", lang), key="painpoints_funding_chart"):
            ui.chart(charts.funding_figure(summary[summary["projects"] > 0], lang),
                     key="painpoints_funding")
        detail = cache.run(q.funding, f, month).dropna(subset=["project_id"])
        ui.table(detail.rename(columns={c: t(f"painpoints.col.{c}", lang) for c in ("rank", "label", "size")}),
                 lang, key="painpoints_projects", preview=True)

with ui.panel(lang, t("painpoints.recluster", lang), t("painpoints.recluster_help", lang)):
    if aggregates_only("feedback"):      # re-clustering reads and quotes single messages
        st.info(t("scope.no_messages", lang))
    elif st.button(t("painpoints.recluster_run", lang), key="painpoints_recluster") \
            or st.session_state.get("painpoints_reclustered") == f:
        st.session_state["painpoints_reclustered"] = f
        found = cache.run(q.recluster, f)
        if found.empty:
            ui.no_data(lang)
        else:
            st.caption(t("painpoints.recluster_result", lang, messages=ui.fmt_int(found["messages"].iloc[0]),
                         k=int(found["k"].iloc[0]), n=len(found)))
            ui.chart(charts.recluster_figure(found, lang), key="painpoints_recluster_chart")
            columns = ["label", "keywords", "size", "share", "quotes"]
            shown = found[columns].rename(columns={c: t(f"painpoints.col.{c}", lang) for c in columns
                                                   if f"painpoints.col.{c}" in STRINGS})
            st.dataframe(ui.without_missing(shown)[0], hide_index=True, key="painpoints_recluster_table",
                         width="stretch")
