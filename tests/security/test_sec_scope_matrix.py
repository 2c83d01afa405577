"""Row-level scope, asserted on the data the pages produce: every role x every page of
dashboard/app.py's SECTIONS, with its drill-downs and the exports of every table it shows.

Each page runs through the real entry point (AppTest of dashboard/app.py) with
session_state["scope"] set, on the real demo database. A page added to app.py without a
driver here fails (test_every_page_has_a_driver), and so does a role without a check.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pages_fixture
import pytest
from scope_truth import Harvest, column_values, contained, harvest, read_truth, small_groups
from sweep import case

from dashboard.access.permissions import may_view
from dashboard.queries.base import RECORD_TABLES, ROLES
from dashboard.queries.explore import DATASETS

REPO = Path(__file__).resolve().parents[2]
APP = REPO / "dashboard" / "app.py"
FROM = "2024-01-01"          # the whole demo history: the more rows, the more chances to leak


def app_pages() -> list[str]:
    """The page names in app.py's SECTIONS, read from its source (importing it runs the app)."""
    tree = ast.parse(APP.read_text("utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "SECTIONS" for t in node.targets):
            return [p for pages in ast.literal_eval(node.value).values() for p in pages]
    raise AssertionError("SECTIONS not found in dashboard/app.py")


PAGES = app_pages()


@pytest.fixture(scope="module")
def truth(demo_db):
    return read_truth(demo_db)


def open_page(page: str, scope, **query):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP), default_timeout=120)
    at.session_state["scope"] = scope
    at.query_params["from"] = FROM
    for k, v in query.items():
        at.query_params[k] = v
    return pages_fixture.open_page(at, page)


def settled(at, where: str, resident_counts: bool = True) -> Harvest:
    assert not at.exception, (where, [e.value for e in at.exception])
    # a panel that failed (e.g. a refused read a page forgot to avoid) shows an error box
    assert [e.value for e in at.error] == [], where
    seen = harvest(at, where, resident_counts)
    # tables open as static previews (their text is in the strings); their grids, switched on,
    # carry every row and go into the exports the download buttons build
    if any(str(w.key).endswith("__full") and not w.value for w in at.toggle):
        pages_fixture.full_tables(at)
        assert not at.exception and [e.value for e in at.error] == [], where
        grids = harvest(at, where, resident_counts)
        seen.strings += grids.strings
        seen.frames += grids.frames
    return seen


# --- page drivers: open the page, walk its drill-downs, return what each state showed ---------
def drive_plain(page: str, scope) -> list[Harvest]:
    return [settled(open_page(page, scope), page)]


def drive_projects(scope) -> list[Harvest]:
    at = open_page("projects", scope)
    out = [settled(at, "projects")]
    pick = at.selectbox(key="projects_pick")
    for pid in pick.options[:2]:
        at.selectbox(key="projects_pick").set_value(pid.split(" ")[0]).run()
        out.append(settled(at, f"projects drill {pid}"))
    return out


def drive_painpoints(scope) -> list[Harvest]:
    at = open_page("painpoints", scope)
    out = [settled(at, "painpoints")]
    if any(str(w.key).endswith("_drill_show") for w in at.toggle):    # the message lists
        pages_fixture.open_drill_downs(at)
        out.append(settled(at, "painpoints messages"))
    picks = at.selectbox(key="painpoints_pick") if _has(at, "selectbox", "painpoints_pick") else None
    if picks is not None and len(picks.options) > 1:
        at.selectbox(key="painpoints_pick").select_index(1).run()
        out.append(settled(at, "painpoints drill #2"))
    if _has(at, "button", "painpoints_recluster"):
        at.button(key="painpoints_recluster").click().run()
        out.append(settled(at, "painpoints recluster"))
    return out


def drive_explore(scope) -> list[Harvest]:
    at = open_page("explore", scope)
    out = [settled(at, "explore")]
    for name, ds in DATASETS.items():
        at.selectbox(key="explore_dataset").set_value(name).run()
        out.append(settled(at, f"explore rows {name}"))
        group = "community" if ds.has_community else ds.names("cat")[0]
        at.multiselect(key=f"explore_{name}_groupby").set_value([group]).run()
        out.append(settled(at, f"explore by {group} {name}", resident_counts=name in RECORD_TABLES))
    return out


def drive_briefing(scope) -> list[Harvest]:
    return [settled(open_page("briefing", scope), "briefing"),
            settled(open_page("briefing", scope, embed="true"), "briefing embedded")]


def drive_sql_console(scope) -> list[Harvest]:
    if not may_view(scope.role, "sql_console"):      # not even reachable by URL
        return drive_restricted("sql_console")(scope)
    at = open_page("sql_console", scope)
    out = [settled(at, "sql_console")]
    if _has(at, "button", "sql_run"):
        at.text_area(key="sql_text").set_value("SELECT text, resident_pseudonym FROM feedback").run()
        at.button(key="sql_run").click().run()
        out.append(settled(at, "sql_console run"))
    return out


def drive_restricted(page: str):
    """A page only some roles may open (dashboard/access/permissions.py): the others cannot
    reach it even by URL; the roles that may are checked on what it shows."""
    def drive(scope) -> list[Harvest]:
        if may_view(scope.role, page):
            return [settled(open_page(page, scope), page)]
        from streamlit.testing.v1 import AppTest

        at = AppTest.from_file(str(APP), default_timeout=120)
        at.session_state["scope"] = scope
        at.run()
        with pytest.raises(Exception):
            at.switch_page(f"../pages/{page}.py")     # not registered for this role
        return []
    return drive


def _has(at, kind: str, key: str) -> bool:
    return any(getattr(el, "key", None) == key for el in getattr(at, kind))


DRIVERS = {
    "overview": lambda s: drive_plain("overview", s), "funds": lambda s: drive_plain("funds", s),
    "grid": lambda s: drive_plain("grid", s), "linkage": lambda s: drive_plain("linkage", s),
    "projects": drive_projects, "painpoints": drive_painpoints, "explore": drive_explore,
    "briefing": drive_briefing, "sql_console": drive_sql_console,
    "data": drive_restricted("data"), "audit": drive_restricted("audit"),
    "participation": lambda s: [*drive_plain("participation", s),     # + the 平台成效 section
                                settled(open_page("participation", s, section="effectiveness"),
                                        "participation effectiveness")],
}


# --- what each role may receive --------------------------------------------------------------
def check_full(h: list[Harvest], truth, page: str) -> None:
    """Leader and analyst: the harvest does see resident texts where the page lists them (so
    the other roles' 'nothing found' means something)."""
    if page in ("painpoints", "explore"):
        assert contained(truth.all_texts, "\n".join(x.blob() for x in h)), page
    if page == "sql_console":
        assert any(not df.empty for x in h for df in x.frames), "the console ran for a full role"


def check_community(h: list[Harvest], truth, page: str) -> None:
    for x in h:
        blob = x.blob()
        assert column_values(x.frames, "community") <= {truth.community}, x.where
        assert column_values(x.frames, "project_id") <= truth.own_projects, x.where
        assert column_values(x.frames, "report_id") <= truth.own_report_ids, x.where
        assert column_values(x.frames, "feedback_id") <= truth.own_feedback_ids, x.where
        assert contained(truth.foreign_texts, blob) == [], x.where
        foreign_names = {n for p, n in truth.project_names.items()
                         if p not in truth.own_projects} - \
            {truth.project_names[p] for p in truth.own_projects}
        assert contained(foreign_names, blob, min_len=4, head=40) == [], x.where
        assert truth.foreign_reporters & x.cells() == set(), x.where
        assert [c for c in truth.others if c in x.cells()] == [], x.where


def check_partner(h: list[Harvest], truth, page: str) -> None:
    others = {n for p, n in truth.project_names.items() if p not in truth.party_projects} - \
        {truth.project_names[p] for p in truth.party_projects}
    for x in h:
        blob = x.blob()
        assert column_values(x.frames, "project_id") <= truth.party_projects, x.where
        assert contained(others, blob, min_len=4, head=40) == [], x.where
        _no_resident_detail(x, truth)


def check_public(h: list[Harvest], truth, page: str) -> None:
    for x in h:
        _no_resident_detail(x, truth)


def _no_resident_detail(x: Harvest, truth) -> None:
    """Aggregate-only roles: no message text or quote, pseudonym, case description or reporter,
    no row-level records, no group of resident records under the minimum (counts of projects
    and ledger entries are governance records, shown as they are)."""
    blob = x.blob()
    assert contained(truth.all_texts, blob) == [], x.where
    assert contained(truth.descriptions, blob) == [], x.where
    assert [p for p in truth.pseudonyms if p in blob] == [], x.where
    assert truth.all_reporters & x.cells() == set(), x.where
    assert column_values(x.frames, "feedback_id") == set(), x.where
    assert column_values(x.frames, "report_id") == set(), x.where
    if x.resident_counts:
        assert small_groups(x.frames) == [], x.where


CHECKS = {"leader": check_full, "analyst": check_full, "community": check_community,
          "partner": check_partner, "public": check_public}


def test_every_page_and_role_is_covered():
    assert sorted(PAGES) == sorted(DRIVERS), "a page in app.py's SECTIONS needs a scope driver"
    assert sorted(ROLES) == sorted(CHECKS), "every role needs its check"


# the fast loop's slice: five pages, under a full, a community and an aggregate-only role: the
# pages whose drill-downs and panels only this sweep opens under a narrowed scope (the other
# pages' code runs in the fast loop's page and scope-rule tests: tests/sweep.py
# left_to_full_run); the full run covers every role x page
FAST = {("leader", "audit"), ("community", "grid"), ("community", "painpoints"),
        ("public", "funds"), ("public", "participation")}
MATRIX = [case(role, page, fast=(role, page) in FAST, id=f"{role}-{page}")
          for role in ROLES for page in PAGES]


@pytest.mark.parametrize("role, page", MATRIX)
def test_scope_matrix(role, page, truth, use_db, demo_db):
    use_db(demo_db)
    if page not in DRIVERS or role not in CHECKS:
        pytest.fail(f"no scope driver/check for page {page!r}, role {role!r}")
    harvests = DRIVERS[page](truth.scope(role))
    if not may_view(role, page):
        assert harvests == []       # the driver asserted the page cannot be reached
        return
    assert harvests and all(x.strings for x in harvests)
    CHECKS[role](harvests, truth, page)
    if page == "sql_console" and role not in ("leader", "analyst"):
        # refused before any SQL runs: no editor, no result, the reason on screen
        assert all(not x.frames for x in harvests)
        assert any("SQL" in s for s in harvests[0].strings)
