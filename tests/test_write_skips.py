"""What a write of the database leaves alone when it is unchanged (etl/dbfile.py ensure_schema,
etl/rules.py seed, etl/marts build), and that each skip gives way as soon as the work is
needed: an edited schema, seed file, rules file, model or function, and a table, view or rule
row dropped or edited by hand in the live file. Real loads into a real file."""
from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from etl import dbfile, marts
from etl.load import load_paths
from etl.seeds import read_sla_rules
from shared_readers import reading
from sweep import left_to_full_run

HEADER = "事件编号,上报时间,街道,社区,网格编号,事件类型,事件描述,处置状态\n"


def grid_csv(path: Path, first: int, n: int = 5, category: str = "噪音扰民") -> Path:
    at = datetime(2026, 11, 2, 8)
    path.write_text(HEADER + "".join(
        f"S-{i:05d},{at + timedelta(hours=i):%Y-%m-%d %H:%M:%S},清河街道,毛纺北社区,QH-01-01,"
        f"{category},夜间施工,处置中\n" for i in range(first, first + n)), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """A database after two loads (the second one took the unchanged path), built once."""
    root = tmp_path_factory.mktemp("skips")
    db = root / "cockpit.duckdb"
    load_paths([grid_csv(root / "a.csv", 0)], db, progress=None)
    load_paths([grid_csv(root / "b.csv", 10)], db, progress=None)
    return root


@pytest.fixture
def loaded(template, tmp_path) -> tuple[Path, list]:
    """A copy of the template moved into this test's folder (tests/demo_cache.py relocate: the
    catalog names its Parquet files by absolute path); and a counter of the next files' names."""
    import demo_cache

    root = tmp_path / "db"
    shutil.copytree(template, root, symlinks=True)
    demo_cache.relocate(root, str(template))
    return root / "cockpit.duckdb", [20]


def load_more(db: Path, counter: list) -> None:
    first = counter[0]
    counter[0] += 10
    res = load_paths([grid_csv(db.parent / f"more{first}.csv", first)], db, progress=None)
    assert [r.status for r in res] == ["loaded"]


def one(db: Path, sql: str, params: dict | None = None):
    with reading(db) as con:
        return con.execute(sql, params or {}).fetchone()


def statements(monkeypatch) -> list[str]:
    """Every statement the writers' connections run from now on (the real connection, observed)."""
    seen: list[str] = []
    real = dbfile.duckdb.connect

    class Observed:
        def __init__(self, con):
            self._con = con

        def execute(self, sql, *args, **kwargs):
            seen.append(sql)
            self._con.execute(sql, *args, **kwargs)
            return self

        def __getattr__(self, name):
            return getattr(self._con, name)

    class Duck:
        def __getattr__(self, name):
            return getattr(duckdb, name)

        @staticmethod
        def connect(*args, **kwargs):
            return Observed(real(*args, **kwargs))

    monkeypatch.setattr(dbfile, "duckdb", Duck())
    return seen


@left_to_full_run
def test_an_unchanged_write_runs_no_ddl_and_rewrites_no_rule_table(loaded, monkeypatch):
    db, counter = loaded
    seen = statements(monkeypatch)
    load_more(db, counter)
    assert not [s for s in seen if s.startswith("-- The one DDL file")]          # schema.sql
    assert not [s for s in seen if s.startswith(("CREATE OR REPLACE TABLE sla_rules",
                                                 "DELETE FROM participation_rules"))]
    assert not [s for s in seen if s.startswith(("CREATE OR REPLACE VIEW grid_cases",
                                                 "CREATE OR REPLACE MACRO count_at"))]
    assert one(db, "SELECT count(*) FROM grid_cases") == (15,)


@pytest.mark.slow   # the fast loop keeps test_a_rule_row_edited_by_hand_is_reset_by_the_next_write (same rewrite path)
def test_an_edited_sla_seed_reaches_the_rules_the_cases_and_the_summary(loaded, monkeypatch):
    db, counter = loaded
    rules, default = read_sla_rules()
    assert rules["噪音扰民"] != 5
    assert one(db, "SELECT min(sla_hours) FROM grid_cases") == (rules["噪音扰民"],)
    daily = "SELECT list(sla_due_by ORDER BY ALL)::VARCHAR FROM grid_daily"
    before = one(db, daily)
    monkeypatch.setattr(marts, "read_sla_rules", lambda: ({**rules, "噪音扰民": 5}, default))
    load_more(db, counter)
    assert one(db, "SELECT hours FROM sla_rules WHERE category = '噪音扰民'") == (5,)
    assert one(db, "SELECT min(sla_hours), max(sla_hours) FROM grid_cases") == (5, 5)
    # the summary follows the new rule for the earlier cases too: a rebuild finds no drift
    assert one(db, daily) != before
    assert marts.rebuild(db)["grid_daily"][1] == 0


@left_to_full_run
def test_a_rule_row_edited_by_hand_is_reset_by_the_next_write(loaded):
    db, counter = loaded
    hours = one(db, "SELECT hours FROM sla_rules WHERE category = '噪音扰民'")
    points = one(db, "SELECT points FROM points_rules WHERE activity = '议事会'")
    with duckdb.connect(str(db)) as con:
        con.execute("UPDATE sla_rules SET hours = hours + 1 WHERE category = '噪音扰民'")
        con.execute("UPDATE points_rules SET points = points + 1 WHERE activity = '议事会'")
    load_more(db, counter)
    assert one(db, "SELECT hours FROM sla_rules WHERE category = '噪音扰民'") == hours
    assert one(db, "SELECT points FROM points_rules WHERE activity = '议事会'") == points


@pytest.mark.slow   # the fast loop keeps test_a_rule_row_edited_by_hand_is_reset_by_the_next_write (same rules.seed rewrite)
def test_an_edited_rules_file_is_seeded_by_the_next_write(loaded, monkeypatch, tmp_path):
    from etl import rules

    db, counter = loaded
    edited = tmp_path / "rules.toml"
    edited.write_text(rules.RULES_FILE.read_text(encoding="utf-8").replace('"议事会" = 10', '"议事会" = 11'),
                      encoding="utf-8")
    assert edited.read_text(encoding="utf-8") != rules.RULES_FILE.read_text(encoding="utf-8")
    monkeypatch.setattr(rules, "RULES_FILE", edited)
    load_more(db, counter)
    assert one(db, "SELECT points FROM points_rules WHERE activity = '议事会'") == (11,)


def test_a_table_or_view_dropped_by_hand_is_created_again(loaded):
    db, counter = loaded
    with duckdb.connect(str(db)) as con:
        con.execute("DROP TABLE etl_rollbacks")
        con.execute("DROP VIEW vote_results")
        con.execute("DROP VIEW fund_flows")
        con.execute("CREATE OR REPLACE VIEW grid_cases AS SELECT 1 AS x")
    load_more(db, counter)
    assert one(db, "SELECT count(*) FROM etl_rollbacks") == (0,)
    assert one(db, "SELECT count(*) FROM vote_results") == (0,)
    assert one(db, "SELECT count(*) FROM fund_flows") == (0,)
    assert one(db, "SELECT count(*), min(report_id) FROM grid_cases") == (15, "S-00000")


@pytest.mark.slow   # the fast loop keeps test_a_table_or_view_dropped_by_hand_is_created_again (schema.sql run again)
def test_a_changed_schema_file_is_applied_by_the_next_write(loaded, monkeypatch, tmp_path):
    db, counter = loaded
    changed = tmp_path / "schema.sql"
    changed.write_text(dbfile.SCHEMA_SQL.read_text(encoding="utf-8")
                       + "\nCREATE TABLE IF NOT EXISTS probe_table (x INTEGER);\n", encoding="utf-8")
    monkeypatch.setattr(dbfile, "SCHEMA_SQL", changed)
    load_more(db, counter)
    assert one(db, "SELECT count(*) FROM probe_table") == (0,)
    assert one(db, "SELECT value FROM etl_meta WHERE key = $k", {"k": dbfile.SCHEMA_KEY}) == \
        (dbfile.schema_fingerprint(),)


@pytest.mark.slow   # the fast loop keeps test_a_table_or_view_dropped_by_hand_is_created_again (views created again)
def test_a_changed_function_or_model_is_created_again(loaded, monkeypatch, tmp_path):
    db, counter = loaded
    monkeypatch.setitem(marts.FUNCTIONS, "count_at", marts.FUNCTIONS["count_at"] + " + 0")
    load_more(db, counter)
    with reading(db) as con:
        body = con.execute("SELECT macro_definition FROM duckdb_functions() "
                           "WHERE function_name = 'count_at'").fetchone()[0]
    assert "+ 0" in body
    # a model's SQL edited: the view reads the new body
    models = tmp_path / "marts"
    models.mkdir()
    for f in marts.MARTS_DIR.glob("*.sql"):
        (models / f.name).write_text(f.read_text(encoding="utf-8"), encoding="utf-8")
    text = (models / "fund_flows.sql").read_text(encoding="utf-8")
    assert "with ledger as (" in text
    (models / "fund_flows.sql").write_text(
        text.replace("with ledger as (", "with unused as (select 1 as one),\nledger as (", 1), encoding="utf-8")
    monkeypatch.setattr(marts, "MARTS_DIR", models)
    load_more(db, counter)
    with reading(db) as con:
        sql = con.execute("SELECT sql FROM duckdb_views() WHERE view_name = 'fund_flows'").fetchone()[0]
    assert "unused" in sql


def test_the_catalog_lookups_tell_tables_from_views_temp_tables_and_missing_names():
    """etl/marts/delta.py exists / temp_exists ask the binder instead of listing the catalog;
    the same answers as duckdb_tables() gives, whatever shadows a name."""
    from etl.marts import delta

    with duckdb.connect() as con:
        con.execute("CREATE TABLE kept (x INTEGER)")
        con.execute("CREATE TABLE gone (x INTEGER)")
        con.execute("CREATE VIEW broken AS SELECT * FROM gone")
        con.execute("DROP TABLE gone")
        con.execute("CREATE VIEW a_view AS SELECT 1 AS x")
        con.execute("CREATE TEMP TABLE only_temp (x INTEGER)")
        con.execute("CREATE TEMP TABLE kept (y INTEGER)")        # shadows main.kept
        con.execute("CREATE TEMP TABLE a_view (y INTEGER)")      # shadows a view
        names = ["kept", "gone", "broken", "a_view", "only_temp", "missing"]
        listed = {(r[0], r[1]) for r in con.execute("SELECT table_name, temporary FROM duckdb_tables()").fetchall()}
        assert [delta.exists(con, n) for n in names] == [(n, False) in listed for n in names] \
            == [True, False, False, False, False, False]
        assert [delta.temp_exists(con, n) for n in names] == [(n, True) in listed for n in names] \
            == [True, False, False, True, True, False]
        con.begin()
        con.execute("CREATE TABLE inside (x INTEGER)")
        assert delta.exists(con, "inside")                       # the open transaction's own table
        con.rollback()
        assert not delta.exists(con, "inside")
