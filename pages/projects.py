"""项目进度 Project progress: early warnings, table, one chosen view (counts, schedule, Gantt),
drill-down into one project."""
import streamlit as st

from dashboard import cache, ui
from dashboard.charts import projects as charts
from dashboard.i18n import t
from dashboard.queries import common
from dashboard.queries import participation as pq
from dashboard.queries import projects as q
from dashboard.queries.base import aggregates_only

f, lang = ui.context()
ui.header(t("projects.title", lang), f, lang)

with ui.panel(lang):
    s = cache.run(q.summary, f).iloc[0]
    ui.kpi_row([
        ui.Kpi("projects", t("projects.kpi.projects", lang), ui.fmt_int(s["projects"])),
        ui.Kpi("running", t("projects.kpi.running", lang), ui.fmt_int(s["running"])),
        ui.Kpi("on_schedule", t("projects.kpi.on_schedule", lang), ui.fmt_pct(s["on_schedule_share"])),
        ui.Kpi("archive_rate", t("projects.kpi.archive_rate", lang), ui.fmt_pct(s["archive_rate"]),
               help=t("projects.kpi.archive_help", lang)),
        ui.yuan_kpi("spent", t("projects.kpi.spent", lang), s["spent_yuan"], lang),
    ], per_row=5)

with ui.panel(lang, t("projects.warnings", lang),
              t("projects.warnings_help", lang, behind=q.BEHIND_SCHEDULE_POINTS,
                stalled=q.STALLED_DAYS, ahead=q.SPEND_AHEAD_POINTS)):
    w = cache.run(q.warnings, f)
    if w.empty:
        st.success(t("projects.no_warnings", lang))
    else:
        cols = st.columns(len(q.ALL_RULES))
        for col, rule in zip(cols, q.ALL_RULES):
            col.metric(t(f"projects.rule.{rule}", lang), ui.fmt_int((w["rule"] == rule).sum()))
        ui.table(w, lang, key="projects_warnings_table", coded={"rule": "projects.rule"},
                 warning_values=True, preview=True)

with ui.panel(lang, t("projects.table", lang)):
    table = cache.run(q.project_table, f)
    ui.table(table, lang, key="projects_table", formats={"budget_yuan": "¥%,.0f",
                                                          "spent_yuan": "¥%,.0f"},
             progress=("progress_pct", "elapsed_pct"), coded={"stage": "projects.stage"},
             preview=True)

# one view at a time: each plotly chart on a page costs the browser's main thread when the page
# is opened (the Gantt with its milestone markers most, ~0.4 s), so the others are drawn when
# chosen; the stage counts open first (docs/BENCHMARKS.md, "The projects page on opening")
VIEWS = ("by_stage", "by_lead_type", "schedule", "gantt")
with ui.panel(lang, t("projects.views", lang)):
    view = st.segmented_control(t("projects.view", lang), VIEWS, default=VIEWS[0],
                                key="projects_view", format_func=lambda v: t(f"projects.{v}", lang),
                                label_visibility="collapsed") or VIEWS[0]
    if view == "gantt":
        ui.chart(charts.gantt(cache.run(q.timeline, f), cache.run(q.milestones, f), lang,
                              as_of=cache.run(common.as_of, f)), key="projects_gantt")
    elif view == "schedule":
        ui.chart(charts.schedule_scatter(cache.run(q.project_table, f), lang), key="projects_scatter")
    else:
        column = "stage" if view == "by_stage" else "lead_party_type"
        ui.chart(charts.count_bars(cache.run(q.counts_by, f, column), column, lang),
                 key=f"projects_{view}")

with ui.panel(lang, t("projects.drill", lang)):
    # search first: the picker lists q.PICK_LIMIT matches, not all 2,000 projects
    table = cache.run(q.project_table, f)
    wanted = st.query_params.get("project")
    if wanted in set(table["project_id"]) and st.session_state.get("projects_pick") is None:
        st.session_state["projects_pick"] = wanted
    search = st.text_input(t("projects.search", lang), key="projects_search",
                           placeholder=t("projects.pick_placeholder", lang))
    names = q.matching_projects(table, search, keep=st.session_state.get("projects_pick"))
    pick = st.selectbox(t("projects.pick", lang), list(names), index=None, key="projects_pick",
                        format_func=lambda pid: f"{pid} {names.get(pid, '')}",
                        placeholder=t("projects.pick_choose", lang))
    if len(names) < len(table):
        st.caption(t("projects.pick_more", lang, shown=ui.fmt_int(len(names)),
                     total=ui.fmt_int(len(table))))
    if pick:
        st.query_params["project"] = pick
        tabs = st.tabs([t("projects.tab_milestones", lang), t("projects.tab_ledger", lang),
                        t("projects.tab_reports", lang), t("projects.tab_feedback", lang),
                        t("projects.tab_evaluations", lang)])
        with tabs[0]:
            ui.table(cache.run(q.milestones, f, pick), lang, key="projects_ms")
        with tabs[1]:
            ui.table(cache.run(q.ledger, f, pick), lang, key="projects_ledger",
                     formats={"amount_yuan": "¥%,.2f"})
        with tabs[2]:
            if aggregates_only("grid_reports"):
                st.info(t("scope.no_reports", lang))
            else:
                ui.table(cache.run(q.related_reports, f, pick), lang, key="projects_reports")
        with tabs[3]:
            if aggregates_only("feedback"):
                st.info(t("scope.no_messages", lang))
            else:
                ui.table(cache.run(q.related_feedback, f, pick), lang, key="projects_feedback")
        with tabs[4]:   # residents' evaluations (issue 15): the feedback loop of the project
            if aggregates_only("evaluations"):
                st.info(t("scope.no_messages", lang))
            else:
                ui.table(cache.run(pq.project_evaluations, f, pick), lang, key="projects_evaluations")
    elif "project" in st.query_params:
        del st.query_params["project"]
