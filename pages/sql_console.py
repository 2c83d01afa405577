"""SQL 控制台: one sandboxed read-only query at a time (rules in dashboard/sqlconsole.py)."""
from __future__ import annotations

import streamlit as st

from dashboard import export, sqlconsole, ui
from dashboard.access import audit
from dashboard.i18n import t
from dashboard.safe import md
from dashboard.queries.base import console_allowed

_, lang = ui.context()

st.title(t("sql.title", lang))
if not console_allowed():           # a scoped role: raw SQL would bypass row-level scope
    st.warning(t("scope.console_off", lang))
    st.stop()
st.caption(t("sql.intro", lang))
limits = sqlconsole.limits()
st.caption(t("sql.limits", lang, seconds=f"{limits.timeout_s:g}", cpu=limits.cpu_s,
             memory_mb=f"{limits.memory_mb:,}", rows=f"{limits.row_cap:,}",
             result_mb=f"{limits.byte_cap / sqlconsole.MB:g}"))

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
        audit.record("sql_query", page="sql_console", sql=st.session_state["sql_text"],
                     rows=len(st.session_state["sql_result"].df))
    except sqlconsole.ConsoleError as err:
        # values may echo the query or the data: shown as text, never as Markdown
        st.session_state["sql_error"] = t(err.key, lang, **{k: md(v) for k, v in err.values.items()})
        st.session_state.pop("sql_result", None)

if st.session_state.get("sql_error"):
    st.error(st.session_state["sql_error"])
result: sqlconsole.ConsoleResult | None = st.session_state.get("sql_result")
if result is not None:
    st.caption(t("sql.result_info", lang, rows=len(result.df), seconds=result.seconds))
    if result.truncated_by == "bytes":
        st.warning(t("sql.truncated_bytes", lang, mb=f"{result.byte_cap / sqlconsole.MB:g}",
                     rows=f"{len(result.df):,}"))
    elif result.truncated:
        st.warning(t("sql.truncated", lang, cap=f"{result.row_cap:,}"))
    st.dataframe(ui.without_missing(result.df)[0], hide_index=True, key="sql_table")   # no None shown
    left, right = st.columns(2)
    left.download_button(t("common.download_csv", lang), export.audited("csv", result.df, "sql_console"),
                         file_name="query.csv", mime=export.CSV_MIME, key="sql_csv",
                         on_click="ignore")
    right.download_button(t("common.download_xlsx", lang), export.audited("xlsx", result.df, "sql_console"),
                          file_name="query.xlsx", mime=export.XLSX_MIME, key="sql_xlsx",
                          on_click="ignore")
