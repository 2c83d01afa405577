"""审计日志 (leaders only): who did what, filtered and exported; the chain's integrity; the access keys.

Reads the audit log and the key file beside the database (dashboard/access), not DuckDB.
"""
from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import export, ui
from dashboard.access import audit, keys
from dashboard.access.permissions import may_view
from dashboard.i18n import t
from dashboard.queries.base import current_scope
from dashboard.safe import md

_, lang = ui.context()
COLUMNS = ("seq", "at", "who", "via", "role", "action", "page", "rows", "format", "sql",
           "filters", "scope", "reason", "client", "hash")

if not may_view(current_scope().role, "audit"):
    st.error(t("audit.refused", lang))
    st.stop()

st.title(t("audit.title", lang))
st.caption(t("audit.intro", lang))

verdict = audit.verify()
if verdict.ok:
    st.success(t("audit.chain_ok", lang, n=ui.fmt_int(verdict.entries)))
else:
    st.error(t("audit.chain_broken", lang, problem=md(verdict.problem)))


def frame(rows: list[dict]) -> pd.DataFrame:
    """One row per audit entry; nested values (scope, filters) as compact text."""
    df = pd.DataFrame(rows)
    for col in COLUMNS:
        if col not in df.columns:
            df[col] = None
    df = df[list(COLUMNS)]
    for col in ("scope", "filters"):
        df[col] = df[col].map(lambda v: "; ".join(f"{k}={x}" for k, x in v.items() if x)
                              if isinstance(v, dict) else "")
    df["at"] = pd.to_datetime(df["at"])
    return df.iloc[::-1].reset_index(drop=True)     # newest first


log = frame(audit.entries())
if log.empty:
    st.info(t("audit.empty", lang))
else:
    c1, c2, c3, c4 = st.columns(4)
    days = c1.date_input(t("audit.period", lang), value=(log["at"].min().date(), log["at"].max().date()),
                         key="audit_period", format="YYYY-MM-DD")
    who = c2.multiselect(t("audit.who", lang), sorted(log["who"].dropna().unique()), key="audit_who")
    action = c3.multiselect(t("audit.action", lang), list(audit.ACTIONS), key="audit_action",
                            format_func=lambda a: t(f"audit.act.{a}", lang))
    role = c4.multiselect(t("audit.role", lang), sorted(log["role"].dropna().unique()),
                          key="audit_role", format_func=lambda r: t(f"auth.role.{r}", lang))
    shown = log
    if isinstance(days, (list, tuple)) and len(days) == 2:
        shown = shown[(shown["at"].dt.date >= days[0]) & (shown["at"].dt.date <= days[1])]
    for col, picked in (("who", who), ("action", action), ("role", role)):
        if picked:
            shown = shown[shown[col].isin(picked)]
    st.caption(t("audit.count", lang, n=ui.fmt_int(len(shown)), total=ui.fmt_int(len(log))))
    st.dataframe(shown, hide_index=True, key="audit_table", height=420)
    left, right = st.columns(2)
    left.download_button(t("common.download_csv", lang), export.audited("csv", shown, "audit"),
                         file_name="audit.csv", mime=export.CSV_MIME, key="audit_csv",
                         on_click="ignore")
    right.download_button(t("common.download_xlsx", lang), export.audited("xlsx", shown, "audit"),
                          file_name="audit.xlsx", mime=export.XLSX_MIME, key="audit_xlsx",
                          on_click="ignore")

st.subheader(t("audit.keys", lang))
st.caption(t("audit.keys_help", lang))
key_rows = pd.DataFrame([{"id": k.id, "name": k.name, "role": k.role,
                          "communities": "、".join(k.communities or ()), "party": k.party,
                          "created_at": k.created_at, "expires_on": k.expires_on,
                          "revoked_at": k.revoked_at} for k in keys.records()])
if key_rows.empty:
    st.info(t("audit.no_keys", lang))
else:
    st.dataframe(key_rows, hide_index=True, key="audit_keys")
