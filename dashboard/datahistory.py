"""The 数据管理 page's history and undo: every load (who, when, file, sha256, counts), one
load's rejects, and - for a leader - rolling back to the kept version before a load, after a
confirmation that lists what will disappear. Rollbacks go to the history and the audit log.
"""
from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import cache, dataui
from dashboard.filters import Filters
from dashboard.i18n import STRINGS, t
from dashboard.queries import data as q
from dashboard.queries.base import Scope
from etl import history, versions

PLAN = "data_undo_plan"


def _headers(df: pd.DataFrame, lang: str) -> pd.DataFrame:
    return df.rename(columns={c: t(f"data.col.{c}", lang) for c in df.columns if f"data.col.{c}" in STRINGS})


def _statuses(df: pd.DataFrame, lang: str) -> pd.DataFrame:
    return df.assign(status=[t(f"data.status.{s.replace(' ', '_')}", lang)
                             if f"data.status.{s.replace(' ', '_')}" in STRINGS else s for s in df["status"]])


def _load_label(row, lang: str) -> str:
    name = row.file + (f"[{row.sheet}]" if isinstance(row.sheet, str) and row.sheet else "")
    return t("data.load_label", lang, id=row.load_id, file=name, by=row.loaded_by or "?",
             at=f"{pd.Timestamp(row.finished_at):%Y-%m-%d %H:%M}")


def history_panel(scope: Scope, actor: str, f: Filters, lang: str) -> None:
    by = actor if scope.role == "partner" else None        # a partner sees its own loads only
    loads = cache.run(q.load_history, f, by)
    if loads.empty:
        st.caption(t("data.no_history", lang))
        return
    st.dataframe(_headers(_statuses(loads, lang), lang), hide_index=True, key="data_history")
    labels = {int(r.load_id): _load_label(r, lang) for r in loads.itertuples()}
    pick = st.selectbox(t("data.open_load", lang), list(labels), index=None, key="data_history_pick",
                        format_func=labels.get, placeholder=t("data.open_load_placeholder", lang))
    if pick is not None:
        rejects = cache.run(q.load_rejects, f, pick, by)
        if rejects.empty:
            st.caption(t("data.no_rejects", lang))
        else:
            st.dataframe(dataui.rejects_table(rejects, lang), hide_index=True, key="data_history_rejects")
            dataui.rejects_download(rejects, labels[pick].split(" · ")[1], lang, key="data_history_xlsx")
    if scope.role == "leader":
        done = cache.run(q.rollbacks, f)
        if not done.empty:
            st.markdown(t("data.rollbacks", lang))
            st.dataframe(_headers(done, lang), hide_index=True, key="data_rollbacks")


def undo_panel(actor: str, f: Filters, lang: str) -> None:
    """Leader only (the page checks): roll back to before a chosen load."""
    st.caption(t("data.undo_help", lang, n=versions.keep_count()))
    dataui.show_flash("undo")
    loads = cache.run(q.undoable_loads, f)
    if loads.empty:
        st.caption(t("data.no_history", lang))
        return
    labels = {int(r.load_id): _load_label(r, lang) for r in loads.itertuples()}
    pick = st.selectbox(t("data.undo_pick", lang), list(labels), index=None, key="data_undo_pick",
                        format_func=labels.get, placeholder=t("data.open_load_placeholder", lang))
    if pick is None:
        return
    shown = st.session_state.get(PLAN)
    try:
        plan = versions.plan_rollback(pick)
    except versions.NoVersion:
        st.warning(t("data.undo_none", lang, n=versions.keep_count()))
        return
    st.session_state[PLAN] = plan
    st.warning(t("data.undo_warning", lang, loads=len(plan.removed), rows=plan.rows_removed,
                 at=f"{plan.version.kept_at:%Y-%m-%d %H:%M:%S}"))
    removed = pd.DataFrame(plan.removed).assign(file=lambda d: d["path"].str.rsplit("/", n=1).str[-1])
    st.dataframe(_headers(removed[["load_id", "finished_at", "loaded_by", "file", "sheet", "source_kind",
                                   "rows_loaded"]], lang), hide_index=True, key="data_undo_removed")
    rows = pd.DataFrame([{"table": dataui.kind_label(k, lang), "now": a, "after": b}
                         for k, (a, b) in plan.table_rows.items() if a != b])
    if not rows.empty:
        st.dataframe(_headers(rows, lang), hide_index=True, key="data_undo_rows")
    sure = st.checkbox(t("data.undo_sure", lang), key="data_undo_sure")
    if st.button(t("data.undo_go", lang), key="data_undo_go", type="primary", disabled=not sure):
        # roll back what the user was shown (the plan of the previous run), not a newer one
        confirmed = shown if shown is not None and shown.load_id == pick else plan
        try:
            rollback_id = versions.rollback(confirmed, actor)
        except versions.StaleDatabase:
            dataui.flash("warning", t("data.undo_stale", lang), "undo")
            history.audit("data.rollback_refused_stale", by=actor, before_load_id=pick)
        else:
            history.audit("data.rollback", by=actor, rollback_id=rollback_id, before_load_id=pick,
                          removed_load_ids=[int(r["load_id"]) for r in confirmed.removed],
                          rows_removed=confirmed.rows_removed, version=confirmed.version.path.name)
            dataui.flash("success", t("data.undone", lang, loads=len(confirmed.removed),
                                      rows=confirmed.rows_removed), "undo")
        st.session_state.pop(PLAN, None)
        st.session_state.pop("data_undo_pick", None)
        st.session_state.pop("data_undo_sure", None)
        st.rerun()
