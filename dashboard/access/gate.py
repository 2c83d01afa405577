"""The sign-in gate app.py runs before any page: who is this session, or a sign-in form.

Order per run: open mode (no key ever issued, no [auth] in secrets) -> everyone is OPEN;
a session token already in this session or in the `cockpit_session` cookie -> resolved again
(a revoked, expired or rotated key, or a signed-out token, fails here on the next run);
an SSO identity from st.user -> the mapping file; else the sign-in form and st.stop().

The cookie: Streamlit 1.67 can read cookies (st.context.cookies, sent with the websocket
handshake) but offers no API to set one, so it is set by a one-line script in st.html
(unsafe_allow_javascript) holding only the random session token - never the key. It cannot be
HttpOnly for that reason; it is SameSite=Strict, Secure on https, expires with the session,
and is worthless once signed out, expired or the key revoked (the server keeps only its hash).
"""
from __future__ import annotations

import secrets
from dataclasses import replace
from typing import Callable

import streamlit as st

from dashboard.access import audit, keys, sessions, sso
from dashboard.access.identity import OPEN, Identity
from dashboard.access.lockout import LOCKOUT
from dashboard.i18n import t
from dashboard.queries.base import FULL_SCOPE, Scope
from dashboard.safe import md

TOKEN = "_auth_token"        # session_state: this session's token (set by sign-in or cookie)


def sso_configured() -> bool:
    try:
        return "auth" in st.secrets
    except Exception:  # noqa: BLE001 - no secrets.toml at all is the common case
        return False


def open_mode() -> bool:
    return not keys.configured() and not sso_configured()


def _client() -> str:
    """The client address for lockout: the socket's peer, or - when that is loopback, i.e. a
    reverse proxy on this machine - the address the proxy appended last to X-Forwarded-For."""
    ip = None
    try:
        ip = st.context.ip_address
        if not isinstance(ip, str) or not ip:
            forwarded = st.context.headers.get("X-Forwarded-For") or st.context.headers.get("X-Real-Ip")
            ip = forwarded.split(",")[-1].strip() if isinstance(forwarded, str) else None
    except Exception:  # noqa: BLE001 - not available outside a browser session (AppTest)
        ip = None
    return f"ip:{ip or 'local'}"


def _session_subject() -> str:
    sid = st.session_state.setdefault("_auth_sid", secrets.token_hex(8))
    return f"session:{sid}"


def _cookie_script(token: str | None, max_age: int) -> str:
    value = token or ""
    return ("<script>document.cookie = '" + sessions.COOKIE + "=" + value + "; Path=/; Max-Age="
            + str(max_age) + "; SameSite=Strict' + (location.protocol === 'https:' ? '; Secure' : '');"
            "</script>")


def _write_cookie() -> None:
    """Emit the pending cookie change (set after sign-in, cleared after sign-out) once."""
    pending = st.session_state.pop("_cookie", None)
    if pending is None:
        return
    token, max_age = pending
    st.html(_cookie_script(token, max_age), unsafe_allow_javascript=True)


def _from_token() -> Identity | None:
    token = st.session_state.get(TOKEN)
    if token is None and not st.session_state.get("_signed_out"):
        try:
            token = st.context.cookies.get(sessions.COOKIE)
        except Exception:  # noqa: BLE001
            token = None
    if not isinstance(token, str) or not token:
        return None
    who = sessions.resolve(token)
    if who is None:
        if st.session_state.pop(TOKEN, None) is not None:
            st.session_state["_auth_notice"] = "auth.session_ended"
        st.session_state["_signed_out"] = True      # ignore the dead cookie from now on
        st.session_state["_cookie"] = (None, 0)
        return None
    st.session_state[TOKEN] = token
    return who


def _from_sso(lang: str) -> Identity | None:
    if not sso_configured() or not st.user.is_logged_in:
        return None
    claims = st.user.to_dict()
    try:
        who, reason = sso.lookup(claims), "unmapped"
    except keys.KeyRefused:                 # a mapping entry without its community or party
        who, reason = None, "bad_mapping"
    label = str(claims.get("email") or claims.get("sub") or "?")
    if who is None:
        if not st.session_state.get("_sso_refused_logged"):
            st.session_state["_sso_refused_logged"] = True
            audit.record("sign_in_failed", actor=OPEN, via="sso", identity=label, reason=reason)
        st.title(t("app.title", lang))
        st.error(t("auth.sso_unmapped", lang, who=md(label)))
        if st.button(t("auth.sign_out", lang), key="auth_sso_out"):
            st.logout()
        st.stop()
    if not st.session_state.get("_sso_logged"):
        st.session_state["_sso_logged"] = True
        audit.record("sign_in", actor=who)
    return who


def _try_key(lang: str) -> None:
    """The form's submit: verify the key, count failures, start a session."""
    key = st.session_state.get("auth_key") or ""
    subjects = (_session_subject(), _client())
    wait = LOCKOUT.wait_seconds(*subjects)
    if wait > 0:
        st.session_state["_auth_error"] = t("auth.locked" if LOCKOUT.locked(*subjects)
                                            else "auth.slow_down", lang, seconds=f"{wait:.0f}")
        audit.record("sign_in_failed", actor=OPEN, via="key", reason="locked", client=subjects[1])
        return
    try:
        record = keys.verify(key)
    except keys.KeyRefused as refused:
        LOCKOUT.failure(*subjects)
        st.session_state["_auth_error"] = t(f"auth.refused.{refused.reason}", lang)
        audit.record("sign_in_failed", actor=OPEN, via="key", reason=refused.reason,
                     client=subjects[1])
        return
    LOCKOUT.success(subjects[0])
    token = sessions.start(record)
    st.session_state[TOKEN] = token
    st.session_state["_cookie"] = (token, int(sessions.lifetime().total_seconds()))
    st.session_state.pop("_signed_out", None)
    st.session_state.pop("_auth_error", None)
    audit.record("sign_in", actor=Identity(record.name, record.scope, "key", record.id),
                 client=subjects[1])


def sign_in_form(lang: str) -> None:
    """The sign-in screen: an access-key form and, when configured, the SSO button."""
    st.title(t("app.title", lang))
    st.subheader(t("auth.title", lang))
    notice = st.session_state.pop("_auth_notice", None)
    if notice:
        st.info(t(notice, lang))
    if keys.configured():
        with st.form("auth_form", clear_on_submit=True):
            st.text_input(t("auth.key", lang), type="password", key="auth_key",
                          placeholder="ck_…", help=t("auth.key_help", lang))
            st.form_submit_button(t("auth.submit", lang), type="primary", on_click=_try_key, key="auth_submit",
                                  args=(lang,))
        error = st.session_state.pop("_auth_error", None)
        if error:
            st.error(error)
    if sso_configured():
        if st.button(t("auth.sso", lang), key="auth_sso", type="secondary"):
            st.login()


def identify(lang: str) -> Identity:
    """This run's identity; shows the sign-in form and stops the run when there is none."""
    _write_cookie()
    if open_mode():
        # Open mode shows everything anyway; a narrower Scope that server code (a test, an
        # embedding script) put in the session is honoured - it can only ever show less.
        preset = st.session_state.get("scope")
        if isinstance(preset, Scope) and preset != FULL_SCOPE:
            return replace(OPEN, scope=preset)
        return OPEN
    who = _from_token() or _from_sso(lang)
    if who is None:
        _write_cookie()
        sign_in_form(lang)
        st.stop()
    return who


def sign_out(who: Identity) -> None:
    audit.record("sign_out", actor=who)
    sessions.end(st.session_state.pop(TOKEN, None))
    st.session_state["_signed_out"] = True
    st.session_state["_cookie"] = (None, 0)
    for flag in ("_sso_logged", "_sso_refused_logged", "scope"):
        st.session_state.pop(flag, None)


def sidebar(who: Identity, lang: str, on_sign_out: Callable[[], None] | None = None) -> None:
    """Who is signed in and a sign-out button; in open mode a banner saying so."""
    sb = st.sidebar
    if who.via == "open":
        sb.warning(t("auth.open_banner", lang))
        return
    scope = ", ".join(who.scope.communities or ()) or who.scope.party or t("common.whole_street", lang)
    sb.caption(t("auth.signed_in_as", lang, name=md(who.name),
                 role=t(f"auth.role.{who.role}", lang), scope=md(scope)))
    if who.via == "service":
        return
    if sb.button(t("auth.sign_out", lang), key="auth_sign_out"):
        sign_out(who)
        if who.via == "sso":
            st.logout()
        st.rerun()


def filters_of(f) -> dict:
    """The global filters as plain text for the audit (unset ones left out)."""
    return {k: str(v) for k, v in vars(f).items() if v is not None and k != "lang"} if f else {}


def audit_once(action: str, slot: str = "", **fields) -> None:
    """Record an action once per distinct content in this session (reruns do not repeat it).

    `slot` tells apart two places on one page that record the same action (the pain-point and
    the hot-spot drill-downs), so they do not take turns re-recording each other on every rerun.
    The session's global filters are added as `filters`.
    """
    fields.setdefault("filters", filters_of(st.session_state.get("filters")))
    signature = repr(sorted(fields.items()))
    seen = st.session_state.setdefault("_audit_once", {})
    key = f"{action}:{slot}" if slot else action
    if seen.get(key) != signature:
        seen[key] = signature
        audit.record(action, **fields)
