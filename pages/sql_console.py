"""SQL 控制台: one sandboxed read-only query at a time (rules in dashboard/sqlconsole.py)."""
from __future__ import annotations

import streamlit as st

from dashboard import export, sqlconsole, ui
from dashboard.i18n import t

_, lang = ui.context()

st.title(t("sql.title", lang))
st.caption(t("sql.intro", lang, seconds=f"{sqlconsole.TIMEOUT_S:g}", cap=f"{sqlconsole.ROW_CAP:,}"))

example_titles = {t(key, lang): sql for key, sql in sqlconsole.EXAMPLES}


def _use_example() -> None:
    chosen = st.session_state.get("sql_example")
    if chosen in example_titles:
        st.session_state["sql_text"] = example_titles[chosen]


st.selectbox(t("sql.examples", lang), list(example_titles), index=None, key="sql_example",
             on_change=_use_example, placeholder=t("sql.examples", lang))
if "sql_text" not in st.session_state:
    st.session_state["sql_text"] = sqlconsole.EXAMPLES[1][1]
st.text_area(t("sql.editor", lang), key="sql_text", height=180)

if st.button(t("sql.run", lang), key="sql_run", type="primary"):
    try:
        st.session_state["sql_result"] = sqlconsole.run(st.session_state["sql_text"])
        st.session_state.pop("sql_error", None)
    except sqlconsole.ConsoleError as err:
        st.session_state["sql_error"] = t(err.key, lang, **err.values)
        st.session_state.pop("sql_result", None)

if st.session_state.get("sql_error"):
    st.error(st.session_state["sql_error"])
result: sqlconsole.ConsoleResult | None = st.session_state.get("sql_result")
if result is not None:
    st.caption(t("sql.result_info", lang, rows=len(result.df), seconds=result.seconds))
    if result.truncated:
        st.warning(t("sql.truncated", lang, cap=f"{result.row_cap:,}"))
    st.dataframe(ui.without_missing(result.df)[0], hide_index=True, key="sql_table")   # no None shown
    left, right = st.columns(2)
    left.download_button(t("common.download_csv", lang), lambda: export.to_csv_bytes(result.df),
                         file_name="query.csv", mime=export.CSV_MIME, key="sql_csv",
                         on_click="ignore")
    right.download_button(t("common.download_xlsx", lang), lambda: export.to_xlsx_bytes(result.df),
                          file_name="query.xlsx", mime=export.XLSX_MIME, key="sql_xlsx",
                          on_click="ignore")
