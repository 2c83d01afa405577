"""The 数据管理 page's parts: who is asking, upload with a dry-run report, confirm.

Roles: a leader gets everything; a partner uploads only its projects' records and sees only
its own loads; every other role is refused (and app.py hides the page from them).
Every upload, confirmation and discarded dry run goes to the audit log (etl.history.audit).
"""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import streamlit as st

from dashboard.i18n import STRINGS, t
from dashboard.queries.base import Scope, current_scope
from dashboard.reject_export import fix_workbook
from dashboard.safe import md
from etl import dryrun, history, versions
from etl.extract import file_sha256

ROLES = ("leader", "partner")
PENDING, FLASH, UPLOADS = "data_pending", "data_flash", "data_uploads"
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# --- who -------------------------------------------------------------------------------------
def viewer() -> tuple[Scope, str]:
    """(the signed-in Scope, the name written to the history and the audit log)."""
    scope = st.session_state.get("scope")
    scope = scope if isinstance(scope, Scope) else current_scope()
    from dashboard.access.audit import current_actor   # the signed-in party (sign-in gate)
    name = current_actor().name
    if not name or name.startswith("("):           # open mode has no person behind it
        name = scope.party if scope.role == "partner" and scope.party else scope.role
    return scope, name


def allowed(scope: Scope) -> bool:
    return scope.role == "leader" or (scope.role == "partner" and bool(scope.party))


def partner_of(scope: Scope) -> str | None:
    return scope.party if scope.role == "partner" else None


def limit_mb() -> int:
    """The upload limit Streamlit enforces (server.maxUploadSize, .streamlit/config.toml)."""
    return int(st.get_option("server.maxUploadSize"))


def reason_text(reason: str, lang: str) -> str:
    """A loader reason ('unparseable date') in the UI language; unknown ones as they are."""
    key = "data.reason." + re.sub(r"[^a-z0-9]+", "_", str(reason).lower()).strip("_")
    return t(key, lang) if key in STRINGS else str(reason)


def kind_label(kind: str, lang: str) -> str:
    """'网格事件（grid_reports）'; a kind registered without a label shows its table name."""
    return t(f"data.kind.{kind}", lang) if f"data.kind.{kind}" in STRINGS else md(kind)


def flash(kind: str, text: str, slot: str = "upload") -> None:
    """A message shown once in `slot`, after the rerun that follows an action."""
    st.session_state[f"{FLASH}_{slot}"] = (kind, text)


def show_flash(slot: str = "upload") -> None:
    kind, text = st.session_state.pop(f"{FLASH}_{slot}", (None, None))
    if kind:
        getattr(st, kind)(text)


# --- upload and dry run ----------------------------------------------------------------------
def _save(files, workdir: Path) -> list[Path]:
    """The uploaded files in the preview's folder, under their own (made-safe, unique) names."""
    saved = []
    for i, f in enumerate(files):
        name = dryrun.safe_name(f.name)
        path = workdir / "files" / name
        if path.exists():
            path = path.with_name(f"{path.stem}-{i + 1}{path.suffix}")
        path.write_bytes(f.getvalue())
        saved.append(path)
    return saved


def _discard_pending(actor: str, audit_it: bool) -> None:
    pending = st.session_state.pop(PENDING, None)
    if pending is not None:
        pending.discard()
        if audit_it:
            history.audit("data.discard", by=actor, files=[r.label for r in pending.reports])


def upload_panel(scope: Scope, actor: str, lang: str) -> None:
    st.caption(t("data.limit", lang, mb=limit_mb()))
    if partner_of(scope):
        st.info(t("data.partner_scope", lang, party=md(scope.party)))
    n = st.session_state.setdefault(UPLOADS, 0)
    files = st.file_uploader(t("data.upload", lang), accept_multiple_files=True, key=f"data_files_{n}")
    if st.button(t("data.preview", lang), key="data_preview", type="primary", disabled=not files):
        _discard_pending(actor, audit_it=False)
        workdir = dryrun.new_workdir()
        paths = _save(files, workdir)
        with st.spinner(t("data.previewing", lang)):
            pending = dryrun.preview(paths, workdir=workdir, loaded_by=actor, partner=partner_of(scope),
                                     max_bytes=limit_mb() * 1024 * 1024)
        st.session_state[PENDING] = pending
        history.audit("data.upload", by=actor, role=scope.role,
                      files=[{"name": p.name, "sha256": file_sha256(p)} for p in paths],
                      would_load=[r.label for r in pending.reports if r.status == "loaded"])
    show_flash()
    pending = st.session_state.get(PENDING)
    if pending is not None:
        report(pending, lang)
        _decision(pending, actor, lang)


def _decision(pending: dryrun.Preview, actor: str, lang: str) -> None:
    left, right = st.columns(2)
    if pending.changes:
        st.caption(t("data.confirm_help", lang))
    if left.button(t("data.confirm", lang), key="data_confirm", type="primary", disabled=not pending.changes):
        try:
            with st.spinner(t("data.loading", lang)):
                loaded = dryrun.confirm(pending)
        except versions.StaleDatabase:
            _discard_pending(actor, audit_it=False)
            history.audit("data.confirm_refused_stale", by=actor, files=[r.label for r in pending.reports])
            flash("warning", t("data.stale", lang))
        else:
            st.session_state.pop(PENDING, None)
            history.audit("data.confirm", by=actor, loads=[
                {"file": r.label, "table": r.kind, "new": r.new, "updated": r.updated,
                 "rejected": r.rejected} for r in loaded])
            flash("success", t("data.loaded", lang, files=len(loaded),
                               rows=sum(r.new + r.updated for r in loaded)))
        st.session_state[UPLOADS] += 1          # a fresh, empty uploader
        st.rerun()
    if right.button(t("data.discard", lang), key="data_discard"):
        _discard_pending(actor, audit_it=True)
        st.session_state[UPLOADS] += 1
        st.rerun()


def report(p: dryrun.Preview, lang: str) -> None:
    """Per file and sheet: table, counts, encoding, header mapping, rejects (+ workbook)."""
    st.subheader(t("data.report", lang))
    for i, rep in enumerate(p.reports):
        with st.container(border=True):
            st.markdown(t("data.file", lang, file=md(rep.label)))
            if rep.problem:
                st.error(t(f"data.problem.{rep.problem.code}", lang, file=md(rep.label),
                           detail=md(rep.problem.detail)))
            elif rep.status == "skipped":
                st.info(t("data.skipped", lang, file=md(rep.label)))
            if rep.kind:
                st.caption(t("data.detected", lang, table=kind_label(rep.kind, lang),
                             encoding=md(rep.encoding or "?")))
                if rep.mapping:
                    st.caption(t("data.mapping", lang, mapping=md("  ·  ".join(f"{h} → {c}" for h, c in rep.mapping))))
                if rep.ignored:
                    st.caption(t("data.ignored", lang, headers=md("、".join(rep.ignored))))
            if rep.status == "loaded":
                _counts(rep, lang, i)
            if not rep.rejects.empty:
                _rejects(rep, lang, i)


def _counts(rep: dryrun.SourceReport, lang: str, i: int) -> None:
    cols = st.columns(5)
    for col, name, value in zip(cols, ("rows_read", "new", "updated", "unchanged", "rejected"),
                                (rep.rows_read, rep.new, rep.updated, rep.unchanged, rep.rejected)):
        col.metric(t(f"data.count.{name}", lang), f"{value:,}", border=True)


def rejects_table(rejects: pd.DataFrame, lang: str) -> pd.DataFrame:
    """Rejects for display: translated reasons and headers (values stay raw: st.dataframe)."""
    shown = rejects.drop(columns=["original_values"], errors="ignore").assign(
        reason=[reason_text(r, lang) for r in rejects["reason"]])
    return shown.rename(columns={c: t(f"data.col.{c}", lang) for c in shown.columns
                                 if f"data.col.{c}" in STRINGS})


def _rejects(rep: dryrun.SourceReport, lang: str, i: int) -> None:
    st.markdown(t("data.rejects", lang, n=rep.rejected))
    st.dataframe(rejects_table(rep.rejects, lang), hide_index=True, key=f"data_rejects_{i}")
    rejects_download(rep.rejects, rep.label, lang, key=f"data_rejects_xlsx_{i}")


def rejects_download(rejects: pd.DataFrame, label: str, lang: str, key: str) -> None:
    header = t("data.xlsx_reason", lang)
    st.download_button(t("data.download_rejects", lang),
                       data=lambda: fix_workbook(rejects, header, lambda r: reason_text(r, lang)),
                       file_name=f"{Path(label.split('[')[0]).stem}-rejects.xlsx", mime=XLSX_MIME, key=key)
