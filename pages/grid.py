"""网格事件 Grid cases: volume by category, backlog by age, SLA compliance rankings, heat map."""
import streamlit as st

from dashboard import cache, ui
from dashboard.charts import grid as charts
from dashboard.i18n import t
from dashboard.queries import grid as q
from dashboard.queries import overview as oq

f, lang = ui.context()
ui.header(t("grid.title", lang), f, lang)

with ui.panel(lang):
    k = cache.run(oq.grid_kpis, f).iloc[0]
    ui.kpi_row([
        ui.Kpi("reports", t("grid.kpi.reports", lang), ui.fmt_int(k["reports"])),
        ui.Kpi("open", t("grid.kpi.open", lang), ui.fmt_int(k["open_cases"])),
        ui.Kpi("sla", t("grid.kpi.sla", lang), ui.fmt_pct(k["sla_share"]),
               help=ui.sla_rules(lang)),
        ui.Kpi("median", t("grid.kpi.median", lang), ui.fmt_hours(k["median_resolution_hours"], lang)),
    ], per_row=4)

# one of three views at a time: each plotly chart on a page costs the browser's main thread
# when the page is opened, so the backlog and the heat map are drawn when chosen
VIEWS = ("volume", "backlog", "heatmap")
HELP = {"volume": None, "backlog": "grid.backlog_help", "heatmap": "grid.heatmap_help"}
with ui.panel(lang, t("grid.views", lang)):
    view = st.segmented_control(t("grid.view", lang), VIEWS, default=VIEWS[0], key="grid_view",
                                format_func=lambda v: t(f"grid.{v}", lang),
                                label_visibility="collapsed") or VIEWS[0]
    if HELP[view]:
        st.caption(t(HELP[view], lang, n=q.HEATMAP_TOP_GRIDS))
    if view == "backlog":
        ui.chart(charts.backlog_bars(cache.run(q.backlog, f), lang), key="grid_backlog")
    elif view == "heatmap":
        ui.chart(charts.heatmap(cache.run(q.heatmap, f), lang), key="grid_heatmap")
    else:
        ui.chart(charts.volume_area(cache.run(q.volume, f), lang), key="grid_volume")

with ui.panel(lang, t("grid.sla", lang),
              f"{ui.sla_rules(lang)} {t('grid.rank_help', lang, n=q.MIN_GROUP_CASES)}"):
    dimension = st.segmented_control(
        t("grid.rank_by", lang), ["category", "grid_id", "responsible_party", "community"],
        default="category", key="grid_rank_by",
        format_func=lambda d: t(f"common.col.{d}", lang)) or "category"
    ranking = cache.run(q.sla_by, f, dimension)
    c1, c2 = st.columns([3, 2])
    with c1:
        ui.chart(charts.sla_ranking(ranking, dimension, lang), key="grid_sla_chart")
    with c2:
        ui.table(ranking, lang, key="grid_sla_table", formats={"share": "percent"}, preview=True)
