"""The marts layer (etl/marts): seeds, each model against independent pandas expectations on
the hand-built fixture, row-level scope through fetch, and the build hooked into every write."""
from __future__ import annotations

import ast
import shutil
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from pages_fixture import AS_OF, COMMUNITIES, build, expected_grid, raw, read_only
from shared_readers import share

from dashboard.filters import Filters
from dashboard.queries import common, projects
from dashboard.queries.base import Scope, fetch, use_scope
from etl import codes, marts
from etl.seeds import SeedError, read_sla_rules
from shared_readers import reading
from sweep import left_to_full_run


@pytest.fixture(scope="module")
def mart_db(tmp_path_factory):
    """The hand-built page fixture with the marts built on it (as every ETL write does)."""
    path = build(tmp_path_factory.mktemp("marts") / "cockpit.duckdb")
    con = duckdb.connect(str(path))
    marts.build(con)
    con.close()
    return share(path)      # read-only from here: one DuckDB instance for the module's readers


@pytest.fixture
def mcon(mart_db):
    con = read_only(mart_db)
    yield con
    con.close()


# --- seeds and codes ---------------------------------------------------------------------
def test_sla_seed_is_the_one_definition(mcon):
    rules, default = read_sla_rules()
    assert (common.SLA_HOURS, common.DEFAULT_SLA_HOURS) == (rules, default)
    table = dict(mcon.execute("SELECT category, hours FROM sla_rules").fetchall())
    assert table.pop("*") == default and table == rules
    assert rules["噪音扰民"] == 24 and default == 72


@pytest.mark.parametrize("text, message", [
    ("category,hours\n噪音扰民,24\n", "no default row"),
    ("category,hours\n噪音扰民,abc\n*,72\n", "row 2, column hours: not a whole number"),
    ("category,hours\n*,72\n,24\n", "row 3, column category: empty"),
    ("category,hours\n噪音扰民,24\n噪音扰民,12\n*,72\n", "row 3, column category: duplicate"),
    ("category,hours\n*,0\n", "row 2, column hours: must be positive"),
    ("类别,时限\n*,72\n", "row 1: header"),
])
def test_bad_sla_seed_names_file_row_and_column(tmp_path, text, message):
    path = tmp_path / "sla_rules.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SeedError) as err:
        read_sla_rules(path)
    assert str(path) in str(err.value) and message in str(err.value)


def test_named_codes_table_mirrors_codes_module(mcon):
    rows = mcon.execute("SELECT kind, code FROM named_codes ORDER BY kind, position").fetchall()
    expected = sorted((k, i, c) for k, cs in codes.NAMED_CODES.items() for i, c in enumerate(cs))
    assert rows == [(k, c) for k, _, c in expected]
    assert dict(mcon.execute("SELECT rule, threshold FROM warning_rules").fetchall()) == \
        {k: float(v) for k, v in codes.WARNING_THRESHOLDS.items()}


# code that must name the codes through etl/codes.py, never as its own literal copy (the
# translation table and the charts' colour keys are display data; the ETL's header and status
# alias tables map source words onto the codes)
CODE_DIRS = ("dashboard/queries", "pages", "etl/painpoints", "etl/marts")
CODE_FILES = ("dashboard/briefing_export.py", "dashboard/sqlconsole.py")


def _string_constants(path) -> list[tuple[int, str]]:
    """(line, value) of every string constant in a module except docstrings."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                  if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef))
                  and n.body and isinstance(n.body[0], ast.Expr)
                  and isinstance(n.body[0].value, ast.Constant)}
    return [(n.lineno, n.value) for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docstrings]


@left_to_full_run
def test_no_module_keeps_its_own_copy_of_a_named_code():
    repo = Path(__file__).resolve().parents[1]
    files = [p for d in CODE_DIRS for p in sorted((repo / d).rglob("*.py"))]
    files += [repo / f for f in CODE_FILES]
    # 社区 (the community party type) is also the everyday word for a community (place names)
    named = {c for cs in codes.NAMED_CODES.values() for c in cs} - {"社区"}
    copies = []
    for path in files:
        for line, value in _string_constants(path):
            # a code as a whole string, or quoted inside SQL text
            hits = {c for c in named if value == c or f"'{c}'" in value}
            copies += [f"{path.relative_to(repo)}:{line}: {c}" for c in sorted(hits)]
    assert not copies, "use etl.codes instead of a literal:\n" + "\n".join(copies)
    assert len(files) > 20


def test_every_model_is_a_dbt_style_file():
    for name in marts.MODELS:
        m = marts.model(name)
        assert m.body.rstrip().endswith("select * from final")
        assert m.kind in ("view", "macro", "table")
        assert (m.kind == "table") == bool(m.month_column and m.source)
    with pytest.raises(ValueError):
        marts.model("grid_reports; DROP TABLE x")


# --- models against pandas ---------------------------------------------------------------
@pytest.mark.parametrize("community", [None, "夏荷社区"])
def test_grid_cases_at_matches_pandas(mcon, mart_db, community):
    reports = raw(mart_db, "grid_reports")
    if community:
        reports = reports[reports["community"] == community]
    d_from = date(2026, 6, 1)
    e = expected_grid(reports, d_from, AS_OF, common.SLA_HOURS, common.DEFAULT_SLA_HOURS)
    got = mcon.execute("""
        SELECT count(*) FILTER (WHERE open_at_as_of) AS open_cases,
               count(*) FILTER (WHERE p) AS reports,
               count(*) FILTER (WHERE p AND sla_met) / count(*) FILTER (WHERE p AND sla_due) AS sla,
               median(hours_to_resolve) FILTER (WHERE p AND resolved_by_as_of) AS median_hours
        FROM (SELECT *, reported_at >= $d_from AND reported_by_as_of AS p
              FROM grid_cases_at($as_of) WHERE $community IS NULL OR community = $community)
    """, {"as_of": AS_OF, "d_from": d_from, "community": community}).df().iloc[0]
    assert got["open_cases"] == e["open_cases"] and got["reports"] == e["reports"]
    assert got["sla"] == pytest.approx(e["sla_share"])
    assert got["median_hours"] == pytest.approx(e["median_hours"])
    assert 0 < e["open_cases"] < len(reports)


# the summary the grid KPIs read, at as-of days around month ends, deadlines and the data's end
_GRID_DAILY_AT = """
    SELECT sum(opened - closed) FILTER (WHERE day_on <= $as_of) AS open_cases,
           sum(reports) FILTER (WHERE day_on BETWEEN $d_from AND $as_of) AS reports,
           sum(count_at(sla_due_by, day_on, $as_of))
               FILTER (WHERE day_on BETWEEN $d_from AND $as_of) AS due,
           sum(count_at(sla_met_by, day_on, $as_of))
               FILTER (WHERE day_on BETWEEN $d_from AND $as_of) AS met
    FROM grid_daily WHERE $community IS NULL OR community = $community
"""
_GRID_CASES_AT = """
    SELECT count(*) FILTER (WHERE open_at_as_of) AS open_cases,
           count(*) FILTER (WHERE p) AS reports,
           count(*) FILTER (WHERE p AND sla_due) AS due,
           count(*) FILTER (WHERE p AND sla_met) AS met
    FROM (SELECT *, reported_on >= $d_from AND reported_by_as_of AS p
          FROM grid_cases_at($as_of) WHERE $community IS NULL OR community = $community)
"""


@pytest.mark.parametrize("as_of", [date(2026, 1, 3), date(2026, 2, 28), date(2026, 3, 1),
                                   date(2026, 4, 17), AS_OF, date(2026, 7, 15)])
@pytest.mark.parametrize("community", [None, "夏荷社区"])
def test_grid_daily_gives_what_grid_cases_at_gives(mcon, as_of, community):
    """Open cases, reports and SLA due/met from the summary equal the per-report mart's."""
    for d_from in (date(2026, 1, 1), as_of.replace(day=1)):
        p = {"as_of": as_of, "d_from": d_from, "community": community}
        daily = mcon.execute(_GRID_DAILY_AT, p).fetchall()[0]
        cases = mcon.execute(_GRID_CASES_AT, p).fetchall()[0]
        assert tuple(int(v or 0) for v in daily) == tuple(int(v or 0) for v in cases), p
        assert cases[3] > 0 or as_of != AS_OF     # not vacuous


def test_grid_daily_lists_follow_the_sla_horizon(mart_db, tmp_path):
    """sla_due_by / sla_met_by hold one element per day of the SLA horizon (the longest rule in
    sla_rules, in days, plus one) and one more; rules five times as long make them longer and
    the counts still equal grid_cases_at's: the horizon reaches every group from sla_rules,
    nothing in the model is hard-wired (a rewrite of its list columns must keep this)."""
    path = tmp_path / "copy.duckdb"
    shutil.copy(mart_db, path)
    con = duckdb.connect(str(path))
    try:
        rules, default = read_sla_rules()
        longest = max(*rules.values(), default)
        lengths = "SELECT DISTINCT len(sla_due_by), len(sla_met_by) FROM {t}"
        assert con.execute(lengths.format(t="grid_daily")).fetchall() == [(-(-longest // 24) + 2,) * 2]
        con.execute("UPDATE sla_rules SET hours = hours * 5")
        con.execute(f"CREATE TEMP TABLE longer AS {marts.model('grid_daily').body}")
        assert con.execute(lengths.format(t="temp.longer")).fetchall() == [(-(-5 * longest // 24) + 2,) * 2]
        changed = 0
        for as_of in (date(2026, 4, 17), AS_OF, date(2026, 7, 15)):
            p = {"as_of": as_of, "d_from": date(2026, 1, 1), "community": None}
            daily, cases, before = (tuple(int(v or 0) for v in con.execute(sql, p).fetchall()[0]) for sql in (
                _GRID_DAILY_AT.replace("FROM grid_daily", "FROM temp.longer"), _GRID_CASES_AT, _GRID_DAILY_AT))
            assert daily == cases, p
            changed += cases != before
        assert changed                # the longer rules did change what is due and met
    finally:
        con.close()


SUMMARIES = ("grid_daily", "feedback_daily")


def test_feedback_daily_counts_the_messages(mcon, mart_db):
    fb = raw(mart_db, "feedback")
    fb["day_on"] = fb["submitted_at"].dt.date
    expected = fb.groupby(["day_on", "community", "grid_id", "channel"]).agg(
        messages=("feedback_id", "count"), rated=("rating", "count"), rating_sum=("rating", "sum"))
    got = mcon.execute("SELECT day_on, community, grid_id, channel, messages, rated, rating_sum"
                       " FROM feedback_daily").df()
    got["day_on"] = pd.to_datetime(got["day_on"]).dt.date
    got = got.set_index(["day_on", "community", "grid_id", "channel"]).sort_index()
    assert len(got) == len(expected) > 50
    for col in ("messages", "rated", "rating_sum"):
        assert (got[col].astype(int) == expected.sort_index()[col].astype(int)).all(), col


@left_to_full_run
def test_grid_daily_rebuilds_only_the_changed_months(mart_db, tmp_path):
    """build(con, changed) after a change to one month's reports and messages gives the tables a
    full rebuild gives; a write that changed neither source leaves them alone."""
    path = tmp_path / "copy.duckdb"
    shutil.copy(mart_db, path)
    con = duckdb.connect(str(path))
    try:
        # March reports: resolve the open ones on 2026-04-02 (a closure in another month)
        con.execute("UPDATE grid_reports SET resolved_at = TIMESTAMP '2026-04-02 09:00',"
                    " status = '已办结' WHERE resolved_at IS NULL"
                    " AND reported_at >= DATE '2026-03-01' AND reported_at < DATE '2026-04-01'")
        con.execute("UPDATE feedback SET rating = 5 WHERE submitted_at >= DATE '2026-05-01'"
                    " AND submitted_at < DATE '2026-06-01'")
        marts.build(con, {"projects": {date(2026, 3, 1)}})
        stale = [con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in SUMMARIES]
        marts.build(con, {"grid_reports": {date(2026, 3, 1)}, "feedback": {date(2026, 5, 1)}})
        partial = [con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in SUMMARIES]
        marts.build(con)
        full = [con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in SUMMARIES]
    finally:
        con.close()
    assert partial == full
    assert all(s != f for s, f in zip(stale, full))       # the change did reach each summary


def test_grid_cases_columns(mcon, mart_db):
    g = mcon.execute("SELECT * FROM grid_cases ORDER BY report_id").df()
    r = raw(mart_db, "grid_reports").sort_values("report_id", ignore_index=True)
    assert len(g) == len(r)
    hours = r["category"].map(common.SLA_HOURS).fillna(common.DEFAULT_SLA_HOURS)
    assert (g["sla_hours"] == hours).all()
    assert (g["deadline_at"] == r["reported_at"] + pd.to_timedelta(hours, unit="h")).all()
    closed_no_time = r["resolved_at"].isna() & r["status"].isin(codes.CLOSED_STATUSES)
    assert (g["closed_without_time"] == closed_no_time).all() and closed_no_time.any()
    assert (g["closed"] == (r["resolved_at"].notna() | closed_no_time)).all()
    resolved = r["resolved_at"].notna()
    assert g.loc[~resolved, "on_time"].isna().all()
    on_time = r.loc[resolved, "resolved_at"] <= g.loc[resolved, "deadline_at"]
    assert (g.loc[resolved, "on_time"].astype(bool) == on_time).all()
    assert on_time.any() and not on_time.all()


def test_project_status_flags_equal_the_early_warning_rules(mcon, mart_db):
    """Each warn_* flag fires for exactly the projects projects.early_warnings reports."""
    f = Filters(date_from=date(2026, 6, 1), date_to=AS_OF)
    pcon = read_only(mart_db)
    try:
        status = projects.project_status(pcon, f)
        warned = projects.early_warnings(status)
    finally:
        pcon.close()
    mart = mcon.execute("SELECT * FROM project_status($as_of, date_from := $d) WHERE in_view",
                        {"as_of": AS_OF, "d": f.date_from}).df()
    assert sorted(mart["project_id"]) == sorted(status["project_id"])
    fired_somewhere = 0
    for rule in projects.RULES:
        by_mart = set(mart.loc[mart[f"warn_{rule}"], "project_id"])
        by_rule = set(warned.loc[warned["rule"] == rule, "project_id"])
        assert by_mart == by_rule, rule
        fired_somewhere += bool(by_rule)
    assert fired_somewhere == len(projects.RULES)     # the fixture plants one per rule
    m = mart.set_index("project_id").sort_index()
    s = status.set_index("project_id").sort_index()
    for col in ("elapsed_pct", "spent_yuan", "received_yuan", "deviation_pts", "spent_pct",
                "overdue_milestones", "days_since_update"):
        pd.testing.assert_series_equal(m[col].astype(float), s[col].astype(float),
                                       check_names=False)


def test_project_status_in_view_follows_the_period(mcon):
    early = mcon.execute("SELECT count(*) FILTER (WHERE in_view), count(*) FILTER (WHERE active)"
                         " FROM project_status(DATE '2025-12-31')").fetchone()
    late = mcon.execute("SELECT count(*) FILTER (WHERE in_view), count(*) FILTER (WHERE active)"
                        " FROM project_status(DATE '2026-06-30')").fetchone()
    # before any start only the pipeline project (P08, 立项) is in view and nothing is active
    assert early == (1, 0) and late[1] > 0


def test_fund_flows_edges(mcon, mart_db):
    ff = mcon.execute("SELECT * FROM fund_flows").df()
    t = raw(mart_db, "fund_transactions")
    assert len(ff) == len(t)
    inflow = ff[ff["direction"] == "in"]
    outflow = ff[ff["direction"] == "out"]
    assert (inflow["from_kind"] == "source").all() and (inflow["to_node"] == inflow["project_id"]).all()
    assert (outflow["from_node"] == outflow["project_id"]).all()
    assert (outflow["to_node"] == outflow["expense_category"]).all()
    assert inflow["in_kind"].any() and not outflow["in_kind"].any()
    assert inflow["government"].sum() == (t["source_type"] == codes.GOVERNMENT_SOURCE).sum() > 0
    assert float(ff["amount_yuan"].astype(float).sum()) == pytest.approx(
        float(t["amount_yuan"].astype(float).sum()))


# --- scope: the marts go through the one door ------------------------------------------------
@pytest.mark.parametrize("table", ["grid_cases", "grid_cases_at", "project_status", "fund_flows",
                                   "feedback_enriched"])
def test_scoped_sign_in_sees_only_its_community(mcon, table):
    params = {"as_of": AS_OF, "date_from": None}
    sql = "SELECT DISTINCT community FROM {%s}" % table
    everyone = set(fetch(mcon, sql, params)["community"])
    assert everyone == set(COMMUNITIES)
    with use_scope(Scope(communities=("春晖社区",), role="community")):
        assert set(fetch(mcon, sql, params)["community"]) == {"春晖社区"}


# --- the build runs on every write ------------------------------------------------------------
@pytest.mark.slow   # needs the demo build (conftest demo_build)
def test_every_load_leaves_the_marts_in_step(demo_db, tmp_path):
    db = shutil.copyfile(demo_db, tmp_path / "cockpit.duckdb")
    con = read_only(db)
    try:
        views = {r[0] for r in con.execute("SELECT view_name FROM duckdb_views() "
                                           "WHERE NOT internal").fetchall()}
        assert {m for m in marts.MODELS if marts.model(m).kind == "view"} <= views
        n_reports, n_cases = con.execute(
            "SELECT (SELECT count(*) FROM grid_reports), (SELECT count(*) FROM grid_cases)").fetchone()
        assert n_reports == n_cases > 0
        clustered = con.execute("SELECT count(*) FROM feedback_enriched WHERE clustered").fetchone()[0]
        assert clustered > 0     # built after the pain-point run too
    finally:
        con.close()


def test_build_is_idempotent(mart_db, tmp_path):
    db = shutil.copyfile(mart_db, tmp_path / "again.duckdb")
    con = duckdb.connect(str(db))
    try:
        before = con.execute("SELECT count(*), sum(sla_hours) FROM grid_cases").fetchone()
        marts.build(con)
        marts.build(con)
        assert con.execute("SELECT count(*), sum(sla_hours) FROM grid_cases").fetchone() == before
        assert con.execute("SELECT count(*) FROM sla_rules").fetchone()[0] == \
            len(common.SLA_HOURS) + 1
    finally:
        con.close()


GRID_CSV = ("事件编号,上报时间,街道,社区,网格编号,事件类型,事件描述,处置状态\n"
            "G-1,2026-11-01 08:00:00,清河街道,清河一社区,QH-01-01,噪音扰民,夜间施工,处置中\n"
            "G-2,2026-11-02 08:00:00,清河街道,清河一社区,QH-01-02,违规停车,占用通道,待受理\n")


def _mart_names(db) -> set[str]:
    with reading(db) as con:
        views = {r[0] for r in con.execute("SELECT view_name FROM duckdb_views() "
                                           "WHERE NOT internal").fetchall()}
        tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    return (views | tables) & (set(marts.MODELS) | set(marts.SEEDS))


@pytest.mark.slow   # several real loads and a rollback (the fast loop keeps tests/test_storage.py undo)
def test_a_load_and_a_rollback_to_a_file_from_before_the_marts_both_build_them(tmp_path,
                                                                               monkeypatch):
    from etl import versions
    from etl.load import load_paths

    monkeypatch.setenv("COCKPIT_KEEP_VERSIONS", "3")
    db = tmp_path / "live" / "cockpit.duckdb"
    db.parent.mkdir()
    first = tmp_path / "a.csv"
    first.write_text(GRID_CSV, encoding="utf-8")
    load_paths([first], db, progress=None)
    assert {"grid_cases", "sla_rules", "fund_flows"} <= _mart_names(db)
    with duckdb.connect(str(db)) as con:       # make it a file from before this layer existed
        for name in ("grid_cases", "fund_flows", "feedback_enriched"):
            con.execute(f"DROP VIEW {name}")
        for name in marts.SEEDS:
            con.execute(f"DROP TABLE {name}")
    assert not _mart_names(db) & {"grid_cases", "sla_rules"}
    second = tmp_path / "b.csv"
    second.write_text(GRID_CSV.replace("G-1", "G-3").replace("G-2", "G-4"), encoding="utf-8")
    load_paths([second], db, progress=None)    # keeps the marts-less file as a version
    assert {"grid_cases", "sla_rules"} <= _mart_names(db)
    with reading(db) as con:
        last = con.execute("SELECT max(load_id) FROM etl_loads").fetchone()[0]
    versions.rollback(versions.plan_rollback(last, db), "tester", db)
    assert {"grid_cases", "sla_rules", "fund_flows", "feedback_enriched"} <= _mart_names(db)
    with reading(db) as con:
        assert con.execute("SELECT count(*), min(sla_hours) FROM grid_cases").fetchone() == (2, 24)


def test_sql_fills_fragments_and_keeps_table_references():
    from dashboard.queries.base import sql, tables_of

    where = "g.community = $community"
    q = sql("SELECT count(*) FROM {grid_daily} g WHERE {where} AND {other}", where=where,
            other="g.day_on <= $as_of")
    assert q == "SELECT count(*) FROM {grid_daily} g WHERE g.community = $community" \
                " AND g.day_on <= $as_of"
    assert tables_of(q) == {"grid_daily"}
    # a fragment is inserted as text, never re-read as a template
    assert sql("{a}", a="{grid_daily}") == "{grid_daily}"


@pytest.mark.parametrize("community", [None, COMMUNITIES[0]])
def test_sidebar_lists_from_the_summaries_equal_the_raw_tables(mcon, community):
    """The sidebar's dimension list, categories and date range read grid_daily/feedback_daily:
    they must name exactly what the reports, messages and projects themselves name."""
    scope = Scope(communities=(community,), role="community") if community else Scope()
    own = "TRUE" if community is None else "community = $c"
    p = {} if community is None else {"c": community}
    raw_dims = mcon.execute(f"""
        SELECT DISTINCT street, community, grid_id FROM (
            SELECT street, community, grid_id FROM grid_reports WHERE {own}
            UNION ALL SELECT street, community, grid_id FROM feedback WHERE {own}
            UNION ALL SELECT street, community, NULL FROM projects WHERE {own})
        WHERE community IS NOT NULL""", p).df()
    raw_cats = set(mcon.execute(f"""SELECT category FROM grid_reports WHERE {own}
        UNION SELECT category FROM projects WHERE {own}""", p).df()["category"])
    lo, hi = mcon.execute(f"""SELECT min(lo), max(hi) FROM (
        SELECT min(reported_at)::DATE lo, max(reported_at)::DATE hi FROM grid_reports WHERE {own}
        UNION ALL SELECT min(submitted_at)::DATE, max(submitted_at)::DATE FROM feedback WHERE {own}
        UNION ALL SELECT min(txn_on), max(txn_on) FROM fund_transactions
            WHERE project_id IN (SELECT project_id FROM projects WHERE {own})
        UNION ALL SELECT min(planned_start_on), max(last_updated_at)::DATE FROM projects WHERE {own})""",
        p).fetchone()
    with use_scope(scope):
        dims = common.dimension_rows(mcon)
        cats = set(common.categories(mcon)["category"])
        bounds = common.date_bounds(mcon)
    key = ["street", "community", "grid_id"]
    assert (dims.sort_values(key).fillna("-").reset_index(drop=True)
            .equals(raw_dims.sort_values(key).fillna("-").reset_index(drop=True)))
    assert cats == raw_cats and len(cats) > 1
    assert (pd.Timestamp(bounds["first_on"].iloc[0]), pd.Timestamp(bounds["last_on"].iloc[0])) == (
        pd.Timestamp(lo), pd.Timestamp(hi))
