"""资金流向 Fund flows: Sankey, monthly in/out, execution per project, government share, in-kind."""
import streamlit as st

from dashboard import cache, ui
from dashboard.charts import funds as charts
from dashboard.i18n import t
from dashboard.queries import funds as q
from dashboard.queries import overview as oq

f, lang = ui.context()
ui.header(t("funds.title", lang), f, lang)

with ui.panel(lang):
    k = cache.run(oq.fund_kpis, f).iloc[0]
    ui.kpi_row([
        ui.yuan_kpi("in", t("funds.kpi.in", lang), k["funds_in_yuan"], lang),
        ui.yuan_kpi("out", t("funds.kpi.out", lang), k["funds_out_yuan"], lang),
        ui.yuan_kpi("in_kind", t("funds.kpi.in_kind", lang), k["in_kind_yuan"], lang,
                    help=t("funds.kpi.in_kind_help", lang)),
    ], per_row=3)

with ui.panel(lang, t("funds.sankey", lang), t("funds.sankey_help", lang)):
    ui.chart(charts.sankey(cache.run(q.sankey_links, f), lang), key="funds_sankey")

# one of two views when chosen: each plotly chart costs the browser's main thread when the page
# is opened, so neither is drawn before a click
VIEWS = ("monthly", "government")
with ui.panel(lang, t("funds.flows", lang)):
    view = st.segmented_control(t("funds.view", lang), VIEWS, default=None, key="funds_view",
                                format_func=lambda v: t(f"funds.{v}", lang),
                                label_visibility="collapsed")
    if view is None:        # no chart until one is chosen: the Sankey is the page's only one
        st.caption(t("funds.pick_view", lang))
    elif view == "government":
        st.caption(t("funds.government_help", lang))
        ui.chart(charts.government_bars(cache.run(q.government_share, f), lang), key="funds_gov")
    else:
        ui.chart(charts.monthly_bars(cache.run(q.monthly, f), lang), key="funds_monthly")

with ui.panel(lang, t("funds.ledger_check", lang), t("funds.ledger_check_help", lang)):
    check = cache.run(q.ledger_check, f)
    if check.empty:
        st.success(t("funds.ledger_ok", lang))
    else:
        st.warning(t("funds.ledger_flagged", lang, n=len(check)))
        ui.table(check, lang, key="funds_ledger_check",
                 formats={c: "¥%,.2f" for c in ("received_yuan", "spent_yuan", "gap_yuan")},
                 preview=True)

with ui.panel(lang, t("funds.execution", lang), t("funds.execution_help", lang)):
    ui.table(cache.run(q.execution, f), lang, key="funds_execution",
             formats={c: "¥%,.0f" for c in ("budget_yuan", "received_yuan", "spent_yuan",
                                             "in_kind_yuan")}, progress=("execution_pct",),
             preview=True)

with ui.panel(lang, t("funds.in_kind_title", lang), t("funds.in_kind_help", lang)):
    kind = cache.run(q.in_kind, f)
    if kind.empty:
        ui.no_data(lang)
    else:
        ui.table(kind, lang, key="funds_in_kind", formats={"amount_yuan": "¥%,.0f"},
                 preview=True)
