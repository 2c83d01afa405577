"""五社联动 Five-society linkage: who contributes what, per community."""
import streamlit as st

from dashboard import cache, ui
from dashboard.charts import linkage as charts
from dashboard.i18n import t
from dashboard.safe import md
from dashboard.queries import linkage as q

f, lang = ui.context()
ui.header(t("linkage.title", lang), f, lang)
st.markdown(t("linkage.intro", lang))

with ui.panel(lang):
    totals = cache.run(q.street_totals_for, f)
    cards = [ui.Kpi(row.party_type, md(charts.type_label(row.party_type, lang)),
                    ui.fmt_int(row.projects_led),
                    t("linkage.card_delta", lang, partners=ui.fmt_int(row.partner_appearances)),
                    delta_color="off", delta_arrow="off",
                    help=t("linkage.card_help", lang, funds=ui.fmt_yuan(row.led_funds_yuan),
                           volunteers=ui.fmt_int(row.volunteers)))
             for row in totals.itertuples()]
    ui.kpi_row(cards, per_row=5)

# one of two views at a time: each plotly chart (the radar's polar module most) costs the
# browser's main thread when the page is opened, so the radar is drawn when chosen
VIEWS = ("matrix", "radar")
with ui.panel(lang, t("linkage.views", lang)):
    view = st.segmented_control(t("linkage.view", lang), VIEWS, default=VIEWS[0], key="linkage_view",
                                format_func=lambda v: t(f"linkage.{v}", lang),
                                label_visibility="collapsed") or VIEWS[0]
    st.caption(t(f"linkage.{view}_help", lang))
    if view == "radar":
        ui.chart(charts.radar(cache.run(q.radar, f), lang), key="linkage_radar")
    else:
        ui.chart(charts.contribution_matrix(cache.run(q.shares, f), lang), key="linkage_matrix")

with ui.panel(lang, t("linkage.table", lang), t("linkage.table_help", lang)):
    ui.table(cache.run(q.matrix, f), lang, key="linkage_table",
             formats={"led_funds_yuan": "¥%,.0f", "charity_yuan": "¥%,.0f"},
             coded={"party_type": "linkage.type"}, preview=True)
    unknown = cache.run(q.unclassified_partners, f)
    if not unknown.empty:
        st.caption(t("linkage.unclassified", lang, n=int(unknown["appearances"].sum())))
