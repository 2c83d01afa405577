"""The rules behind the one door (dashboard/queries/base.py): a rule per table and role, what
each role's tables hold on the real demo database, small-group suppression, refusals, and a
sweep of every query function of dashboard/queries under every role."""
from __future__ import annotations

import inspect
import re
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from scope_truth import RECORD_COUNT_COLUMNS, read_truth
from sweep import case

from dashboard import db
from dashboard.filters import Filters
from dashboard.queries import (briefing, common, explore, funds, grid, linkage, overview,
                               painpoints, participation, projects)
from dashboard.queries.base import (AGGREGATE_ROLES, MIN_GROUP, RECORD_TABLES, ROLES, RULES,
                                    STREET_SCOPE, TABLES, Scope, ScopeError, aggregates_only,
                                    console_allowed, fetch, sql_text, suppress_small_groups,
                                    use_scope)

REPO = Path(__file__).resolve().parents[2]
MODULES = (common, overview, grid, funds, projects, linkage, painpoints, briefing, explore,
           participation)


@pytest.fixture(scope="module")
def truth(demo_db):
    return read_truth(demo_db)


@pytest.fixture
def con(demo_db):
    """The pages' own read connection (dashboard/db.py: sandboxed, Parquet footers cached)."""
    c = db.open_read_only(demo_db)
    yield c
    c.close()


def read(con, scope: Scope, sql: str, **kw) -> pd.DataFrame:
    with use_scope(scope):
        return fetch(con, sql, **kw)


# --- the rule table ---------------------------------------------------------------------------
def test_every_table_of_the_database_has_a_rule_for_every_role(con):
    tables = {r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
        "AND table_type = 'BASE TABLE'").fetchall()}
    ddl = (REPO / "etl" / "schema.sql").read_text("utf-8")
    tables |= set(re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)", ddl))
    assert len(tables) >= 14
    assert tables - set(TABLES) == set(), "a table without an access rule"
    for table in TABLES:
        assert set(RULES[table]) == set(ROLES), table


def test_full_roles_read_the_bare_tables_and_unknown_roles_are_refused():
    assert sql_text("SELECT * FROM {feedback}", Scope(role="analyst")) == "SELECT * FROM feedback"
    with pytest.raises(ScopeError):
        sql_text("SELECT * FROM {feedback}", Scope(role="admin"))
    with pytest.raises(KeyError):
        sql_text("SELECT * FROM {no_such_table}", Scope(role="public"))


@pytest.mark.parametrize("role", AGGREGATE_ROLES)
@pytest.mark.parametrize("table", sorted(RECORD_TABLES))
def test_an_undeclared_read_of_resident_records_is_refused(con, truth, role, table):
    scope = truth.scope(role)
    macro = {"as_of": date(2026, 11, 22), "date_from": None}    # table-macro marts' arguments
    with pytest.raises(ScopeError):
        read(con, scope, f"SELECT * FROM {{{table}}} LIMIT 3", params=macro)
    assert aggregates_only(table, scope)
    n = read(con, scope, f"SELECT count(*) AS n FROM {{{table}}}", params=macro,
             min_group="n")["n"].iloc[0]
    assert n > 0


@pytest.mark.parametrize("role", ["leader", "analyst", "community"])
def test_row_roles_may_list_their_records(con, truth, role):
    rows = read(con, truth.scope(role), "SELECT feedback_id, text FROM {feedback} LIMIT 3")
    assert len(rows) == 3 and rows["text"].notna().all()


@pytest.mark.parametrize("role", AGGREGATE_ROLES)
def test_texts_and_names_are_null_for_aggregate_roles(con, truth, role):
    scope = truth.scope(role)
    fb = read(con, scope, "SELECT count(subject) + count(text) + count(reply) + "
                          "count(resident_pseudonym) AS n, count(*) AS total FROM {feedback}",
              min_group=())
    gr = read(con, scope, "SELECT count(reporter) + count(description) + count(location_text)"
                          " AS n, count(*) AS total FROM {grid_reports}", min_group=())
    quotes = read(con, scope, "SELECT sum(len(representative_texts) + len(representative_ids))"
                              " AS n, min(size) AS smallest FROM {pain_points}")
    assert fb["n"].iloc[0] == 0 and fb["total"].iloc[0] > 0
    assert gr["n"].iloc[0] == 0 and gr["total"].iloc[0] > 0
    assert quotes["n"].iloc[0] == 0 and quotes["smallest"].iloc[0] >= MIN_GROUP


def test_community_reads_only_its_own_rows(con, truth):
    scope = truth.scope("community")
    for table in ("grid_reports", "feedback", "projects"):
        got = read(con, scope, f"SELECT DISTINCT community FROM {{{table}}}")["community"]
        assert set(got) == {truth.community}, table
    for table in ("project_milestones", "fund_transactions"):
        got = set(read(con, scope, f"SELECT DISTINCT project_id FROM {{{table}}}")["project_id"])
        assert got and got <= truth.own_projects, table
    for table in ("feedback_pain_points", "feedback_tokens"):
        got = set(read(con, scope, f"SELECT feedback_id FROM {{{table}}}")["feedback_id"])
        assert got and got <= truth.own_feedback_ids, table
    assert read(con, scope, "SELECT * FROM {etl_rejects}").empty
    scopes = set(read(con, scope, "SELECT DISTINCT scope FROM {pain_points}")["scope"])
    assert scopes == {truth.community, STREET_SCOPE}


def test_street_wide_cards_quote_only_the_communitys_own_messages(con, truth):
    sql = ("SELECT scope, representative_ids AS ids, representative_texts AS texts "
           "FROM {pain_points} WHERE scope = '全街道'")
    mine = read(con, truth.scope("community"), sql)
    everyone = read(con, Scope(), sql)
    assert len(mine) == len(everyone)          # the cards stay: label, keywords and counts
    ids = [i for row in mine["ids"] for i in row]
    assert ids and set(ids) <= truth.own_feedback_ids
    assert all(len(a) == len(b) for a, b in zip(mine["ids"], mine["texts"]))
    # without the filter the street-wide quotes come from other communities too
    assert {i for row in everyone["ids"] for i in row} - truth.own_feedback_ids


def test_partner_reads_its_projects_with_their_milestones_and_ledgers(con, truth):
    scope = truth.scope("partner")
    got = set(read(con, scope, "SELECT project_id FROM {projects}")["project_id"])
    assert got == truth.party_projects
    for table in ("project_milestones", "fund_transactions"):
        mine = read(con, scope, f"SELECT count(*) AS n FROM {{{table}}}")["n"].iloc[0]
        expected = con.execute(f"SELECT count(*) FROM {table} WHERE project_id IN "
                               "(SELECT unnest($ids))", {"ids": sorted(truth.party_projects)}
                               ).fetchone()[0]
        assert mine == expected > 0, table
    nobody = Scope(role="partner", party="没有这个机构")
    assert read(con, nobody, "SELECT * FROM {projects}").empty
    assert read(con, Scope(role="partner"), "SELECT * FROM {fund_transactions}").empty


def test_a_leader_narrowed_to_communities_reads_like_that_community(con, truth):
    narrowed = Scope(communities=(truth.community,))
    got = read(con, narrowed, "SELECT DISTINCT community FROM {feedback}")["community"]
    assert set(got) == {truth.community}
    assert not console_allowed(narrowed)
    public_here = Scope(communities=(truth.community,), role="public")
    got = read(con, public_here, "SELECT community, count(*) AS n FROM {grid_reports} GROUP BY 1",
               min_group="n")
    assert set(got["community"]) == {truth.community}


def test_the_console_is_for_unrestricted_leaders_and_analysts_only():
    assert console_allowed(Scope()) and console_allowed(Scope(role="analyst"))
    for role in ("community", "partner", "public"):
        assert not console_allowed(Scope(role=role, communities=("x",) if role == "community" else None))


def test_small_groups_are_dropped_or_blanked():
    df = pd.DataFrame({"k": list("abcde"), "n": [0, 1, 4, 5, 9], "x": [1.0, 2.0, 3.0, 4.0, 5.0]})
    assert suppress_small_groups(df, "n")["k"].tolist() == ["a", "d", "e"]
    masked = suppress_small_groups(df, None, {"n": ("x",)})
    assert masked["k"].tolist() == list("abcde")
    assert masked["n"].isna().tolist() == [False, True, True, False, False]
    assert masked["x"].isna().tolist() == [False, True, True, False, False]
    assert df["n"].tolist() == [0, 1, 4, 5, 9]          # pure: the input is untouched
    with pytest.raises(KeyError):
        suppress_small_groups(df, "missing")


# --- every query function under every role ----------------------------------------------------
def _args(truth, con) -> dict[str, list[tuple]]:
    """Extra arguments for the query functions that take more than (con, filters), by name or
    module.name (read from the database once per sweep)."""
    month = con.execute("SELECT max(month_on) FROM pain_points").fetchone()[0]
    pid = con.execute("SELECT pain_point_id FROM pain_points WHERE month_on = $m AND scope = "
                      "'全街道' ORDER BY rank LIMIT 1", {"m": month}).fetchone()[0]
    spot = con.execute("SELECT place, pain_point_id FROM hot_spots WHERE scope = '全街道' "
                       "ORDER BY month_on DESC, rank LIMIT 1").fetchone() or ("?", pid)
    foreign = sorted(set(truth.project_names) - truth.own_projects - truth.party_projects)[0]
    own = sorted(truth.own_projects)[0]
    specs = [explore.Spec(d, group_by=("community",) if ds.has_community else ("direction",))
             for d, ds in explore.DATASETS.items()]
    specs += [explore.Spec(d) for d in explore.DATASETS]
    args = {
        "sla_by": [(d,) for d in grid.RANK_DIMENSIONS], "heatmap": [()],
        "sankey_links": [()], "counts_by": [("stage",), ("community",)],
        "ledger": [(own,), (foreign,)], "milestones": [(), (own,), (foreign,)],
        "related_feedback": [(own,), (foreign,)], "project_evaluations": [(own,), (foreign,)], "related_reports": [(own,), (foreign,)],
        "funding": [(month,)], "funding_summary": [(month,)], "keyword_counts": [(month,)],
        "top3": [(month,)], "messages": [(pid,), (pid, 7, 7)], "message_count": [(pid,)],
        "trend": [((pid,), month)],
        "painpoints.hot_spots": [(month,)], "places": [(month, pid)],
        "hot_spot_messages": [(month, spot[0], spot[1]), (month, spot[0], spot[1], 2, 2)],
        "hot_spot_message_count": [(month, spot[0], spot[1])],
        "recluster": [()], "default_week": [()], "period_params": [()],
        "column_range": [(d, c) for d, ds in explore.DATASETS.items() for c in ds.names("date", "num")][:6],
        "distinct_values": [(d, c) for d, ds in explore.DATASETS.items() for c in ds.names("cat")],
        "run": [(s,) for s in specs],
        "row_count": [(s,) for s in specs], "since_day": [(s, 10) for s in specs],
    }
    return args


QUERIES = [(m.__name__.rsplit(".", 1)[1], name, fn) for m in MODULES
           for name, fn in inspect.getmembers(m, inspect.isfunction)
           if fn.__module__ == m.__name__ and not name.startswith("_")
           and list(inspect.signature(fn).parameters)[:1] == ["con"]]
ROW_LEVEL = {"messages", "recluster", "related_feedback", "related_reports", "hot_spot_messages"}
PSEUDONYM = re.compile(r"^R[0-9a-f]{12}$")      # a resident pseudonym as staging writes it


def takes_filters(fn) -> bool:
    return len(inspect.signature(fn).parameters) > 1


def _frames(result) -> list[pd.DataFrame]:
    if isinstance(result, pd.DataFrame):
        return [result]
    if isinstance(result, tuple):
        return [x for r in result for x in _frames(r)]
    return []


SWEEP_FILTERS = ("street_week", "community_2y", "category_week")


def _sweep_filter(truth, which: str) -> Filters:
    end = date(2026, 11, 22)
    return {"street_week": Filters(date_from=date(2026, 11, 16), date_to=end),
            "community_2y": Filters(date_from=date(2025, 1, 1), date_to=end, community=truth.community),
            "category_week": Filters(date_from=date(2026, 11, 16), date_to=end, category="噪音扰民"),
            }[which]


# the fast loop's slice: the community role (rows of one community, names of its projects: the
# strictest check) under the street-wide filter (nothing but the scope narrows the rows); the
# full run sweeps every role under every filter set
@pytest.mark.parametrize("which", [case(w, fast=w == "street_week", id=w) for w in SWEEP_FILTERS])
@pytest.mark.parametrize("role", [case(r, fast=r == "community", id=r) for r in ROLES])
def test_every_query_function_respects_the_role(con, truth, role, which):
    scope = truth.scope(role)
    checked = 0
    args = _args(truth, con)
    for module, name, fn in QUERIES:
        for f in (_sweep_filter(truth, which),):
            for extra in args.get(f"{module}.{name}", args.get(name, [()])):
                with use_scope(scope):
                    try:
                        result = fn(con, f, *extra) if takes_filters(fn) else fn(con)
                    except ScopeError:
                        ungrouped = name == "run" and not extra[0].group_by
                        assert role in AGGREGATE_ROLES and (name in ROW_LEVEL or ungrouped), \
                            (module, name, extra)
                        continue
                assert not (role in AGGREGATE_ROLES and name in ROW_LEVEL), (module, name)
                for df in _frames(result):
                    checked += 1
                    _check_frame(df, role, truth, f"{module}.{name}{extra}")
    assert checked > len(QUERIES) // 2      # the sweep reached the frames (not refused wholesale)


def _check_frame(df: pd.DataFrame, role: str, truth, where: str) -> None:
    if role == "community":
        if "community" in df.columns:
            assert set(df["community"].dropna()) <= {truth.community}, where
        if "project_id" in df.columns:
            assert set(df["project_id"].dropna()) <= truth.own_projects, where
    if role == "partner" and "project_id" in df.columns:
        assert set(df["project_id"].dropna()) <= truth.party_projects, where
    if role in AGGREGATE_ROLES:
        counts = [c for c in df.columns if c in RECORD_COUNT_COLUMNS]
        if {"key", "value"} <= set(df.columns):           # the briefing's long KPI frame
            df = df[df["key"].isin(["reports", "open_cases", "feedback"])]
            counts = ["value"]
        for c in counts:
            n = pd.to_numeric(df[c], errors="coerce")
            assert not ((n > 0) & (n < MIN_GROUP)).any(), (where, c, n.tolist()[:10])
        for c in df.columns:
            if df[c].dtype == object:
                values = {v for v in df[c].dropna() if isinstance(v, str)}
                assert not values & (truth.all_texts | truth.pseudonyms | truth.descriptions), \
                    (where, c)
                assert not [v for v in values if PSEUDONYM.match(v)], (where, c)   # any resident's


def test_the_read_cache_keys_on_the_scope(truth, use_db, demo_db):
    """cache.run under two scopes in one process: the second never gets the first's rows."""
    from dashboard import cache

    use_db(demo_db)
    with use_scope(Scope()):
        everyone = set(cache.run(common.dimension_rows, Filters())["community"])
    with use_scope(truth.scope("community")):
        mine = set(cache.run(common.dimension_rows, Filters())["community"])
    assert mine == {truth.community} and len(everyone) > 1
