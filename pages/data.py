"""数据管理 Data management: upload with a dry run and confirm, load history, undo a load.

Leader: everything. Partner: uploads for its own projects and its own history. Others: refused
(app.py also hides the page from them).
"""
import streamlit as st

from dashboard import datahistory, dataui, ui
from dashboard.i18n import t

f, lang = ui.context()
scope, actor = dataui.viewer()
if not dataui.allowed(scope):
    st.error(t("data.forbidden", lang))
    st.stop()

st.title(t("data.title", lang))
names = ["upload", "history"] + (["undo"] if scope.role == "leader" else [])
tabs = dict(zip(names, st.tabs([t(f"data.tab.{n}", lang) for n in names])))
with tabs["upload"]:
    dataui.upload_panel(scope, actor, lang)
with tabs["history"], ui.panel(lang):
    datahistory.history_panel(scope, actor, f, lang)
if "undo" in tabs:
    with tabs["undo"], ui.panel(lang):
        datahistory.undo_panel(actor, f, lang)
