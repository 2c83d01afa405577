"""Entry point: page config, the sidebar's global filters (kept in the URL), navigation.

Start from the repository root: `python -m streamlit run dashboard/app.py`.
Every page reads the filters from `st.session_state["filters"]` (see dashboard.ui.context).
The URL is read once, when a session starts; after that the widgets are the truth and the
URL mirrors them, so any filtered view is a link that restores itself.
"""
from __future__ import annotations

from datetime import date
from pathlib import Path

import streamlit as st

from dashboard import cache, ui
from dashboard.access import audit, gate
from dashboard.access.identity import Identity
from dashboard.access.permissions import may_view
from dashboard.filters import _KEYS as URL_KEYS  # the filters' query-string names
from dashboard.filters import Filters, default_window, ordered, place_options, read_query, to_query
from dashboard.i18n import t
from dashboard.queries import common
from dashboard.queries.base import FULL_SCOPE, use_scope

ROOT = Path(__file__).resolve().parents[1]
SECTIONS = {
    "shell.section.cockpit": ("overview", "projects", "funds", "grid", "linkage", "painpoints", "participation"),
    "shell.section.analysis": ("explore", "sql_console", "briefing"),
    "shell.section.data": ("data",),
    "shell.section.admin": ("audit",),
}
NO_DATA_PAGES = ("data",)     # usable before anything is loaded
DEFAULT_PAGE = "overview"
LANG_LABELS = {"zh": "中文", "en": "English"}
# widget key -> Filters attribute
WIDGETS = {"f_from": "date_from", "f_to": "date_to", "f_street": "street",
           "f_community": "community", "f_grid": "grid_id", "f_category": "category",
           "f_lang": "lang"}


def seed_from_url() -> None:
    """On a session's first run, keep the URL's query for the sidebar (seeded once the data the
    visitor may see is known: open_from_url) and set the language from it."""
    if st.session_state.get("_url_seeded"):
        return
    st.session_state["_url_seeded"] = True
    query = st.query_params.to_dict()
    st.session_state["_url_query"] = query
    st.session_state["f_lang"] = read_query(query)[0].lang


def open_from_url(sidebar) -> None:
    """Once per session: the sidebar widgets' first values from the URL (cache.opening, the
    function dashboard/prefetch.py reads ahead with); dates from the URL outside the data are
    moved into it, unreadable ones were dropped, and a note says so."""
    query = st.session_state.pop("_url_query", None)
    if query is None:
        return
    opened = cache.opening(query)
    for key, attr in WIDGETS.items():
        value = getattr(opened.seeds, attr)
        if key != "f_lang" and value is not None:
            st.session_state[key] = value
    lang = st.session_state.get("f_lang") or "zh"
    first, last = common.first_last(cache.run(common.date_bounds, Filters()))
    if opened.clamped:
        sidebar.info(t("shell.url_dates_clamped", lang, first=(first or last).isoformat(),
                       last=last.isoformat()))
    if opened.ignored:
        sidebar.info(t("shell.url_dates_ignored", lang))


def _choice(key: str, label: str, options: list[str], lang: str, sidebar) -> str | None:
    """A selectbox whose first option is 'all' (None); a stale value falls back to 'all'."""
    if st.session_state.get(key) not in options:
        st.session_state[key] = None
    # None is both the first option and the placeholder, so "all" reads the same either way
    return sidebar.selectbox(label, [None, *options], key=key, placeholder=t("common.all", lang),
                             format_func=lambda v: t("common.all", lang) if v is None else v)


def _dates(lang: str, sidebar) -> tuple[date | None, date | None]:
    _, last = common.first_last(cache.run(common.date_bounds, Filters()))
    if last is not None:
        window_from, window_to = default_window(last)
        st.session_state.setdefault("f_to", window_to)
        st.session_state.setdefault("f_from", window_from)
    # one per line: side by side, the sidebar cuts the dates to "2026-10-2…"
    d_from = sidebar.date_input(t("shell.date_from", lang), key="f_from", format="YYYY-MM-DD")
    d_to = sidebar.date_input(t("shell.date_to", lang), key="f_to", format="YYYY-MM-DD")
    d_from, d_to, swapped = ordered(d_from, d_to)
    if swapped:
        sidebar.warning(t("shell.dates_swapped", lang))
    return d_from, d_to


def sidebar_filters(lang: str) -> Filters:
    """The global filters from the sidebar widgets, cascading street -> community -> grid."""
    sb = st.sidebar
    sb.subheader(t("shell.filters", lang))
    open_from_url(sb)
    d_from, d_to = _dates(lang, sb)
    places = common.places(cache.run(common.dimension_rows, Filters()))
    streets, _, _ = place_options(places)
    street = _choice("f_street", t("shell.street", lang), streets, lang, sb)
    _, communities, _ = place_options(places, street)
    community = _choice("f_community", t("shell.community", lang), communities, lang, sb)
    _, _, grids = place_options(places, street, community)
    grid = _choice("f_grid", t("shell.grid", lang), grids, lang, sb)
    cats = cache.run(common.categories, Filters())["category"].dropna().tolist()
    category = _choice("f_category", t("shell.category", lang), cats, lang, sb)
    sb.caption(t("shell.filters_help", lang))
    return Filters(date_from=d_from, date_to=d_to, street=street, community=community,
                   grid_id=grid, category=category, lang=lang)


def sync_url(f: Filters) -> None:
    """Make the URL's filter parameters equal the filters; other parameters are left alone."""
    wanted = to_query(f)
    current = st.query_params.to_dict()
    for short in URL_KEYS:
        if short in wanted and current.get(short) != wanted[short]:
            st.query_params[short] = wanted[short]
        elif short not in wanted and short in current:
            del st.query_params[short]


def navigation(lang: str, role: str):
    """The pages this role may use; any other page is not registered, so its URL is refused."""
    pages = {}
    for section, names in SECTIONS.items():
        allowed = [st.Page(ROOT / "pages" / f"{name}.py", title=t(f"shell.nav.{name}", lang),
                           url_path=name, default=(name == DEFAULT_PAGE))
                   for name in names if may_view(role, name)]
        if allowed:
            pages[t(section, lang)] = allowed
    return st.navigation(pages)


def run_page(lang: str, who: Identity) -> None:
    gate.sidebar(who, lang)
    page = navigation(lang, who.role)
    if page.url_path in NO_DATA_PAGES and not cache.has_data():
        st.session_state["filters"] = Filters(lang=lang)
        gate.audit_once("page_view", page=page.url_path)
        page.run()
        return
    if not cache.has_data():
        st.session_state["filters"] = Filters(lang=lang)
        sync_url(Filters(lang=lang))
        st.title(t("app.title", lang))
        ui.empty_state(lang)
        return
    f = sidebar_filters(lang)
    st.session_state["filters"] = f
    sync_url(f)
    gate.audit_once("page_view", page=page.url_path or DEFAULT_PAGE)
    page.run()


def main() -> None:
    seed_from_url()
    lang = st.session_state.get("f_lang") or "zh"
    st.set_page_config(page_title=t("app.title", lang), layout="wide")
    lang = st.sidebar.radio(t("shell.language", lang), ["zh", "en"], key="f_lang",
                            horizontal=True, format_func=LANG_LABELS.get)
    who = gate.identify(lang)
    st.session_state["scope"] = who.scope
    with use_scope(st.session_state.get("scope") or FULL_SCOPE), audit.use_actor(who):
        run_page(lang, who)


main()
