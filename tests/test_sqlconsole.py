"""SQL console: the sandbox itself refuses escapes, the checker refuses non-reads, time and rows are capped."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from dashboard import sqlconsole
from dashboard import sqlconsole_zygote as zygote_module
from dashboard.i18n import STRINGS
from dashboard.queries.base import Scope, use_scope
from etl import marts
from etl.dbfile import ensure_schema
from sweep import case, left_to_full_run

REPO = Path(__file__).resolve().parents[1]

PAGE = str(Path(__file__).resolve().parents[1] / "pages" / "sql_console.py")


@pytest.fixture(scope="module")
def tiny_template(tmp_path_factory) -> Path:
    """Built once per module; each test gets its own copy (tiny_db)."""
    path = tmp_path_factory.mktemp("tiny") / "cockpit.duckdb"
    con = duckdb.connect(str(path))
    ensure_schema(con)
    con.execute("""INSERT INTO grid_reports (report_id, reported_at, community, grid_id, category,
                   status, source_load_id)
                   SELECT 'R' || i, TIMESTAMP '2026-01-01' + INTERVAL (i) HOUR,
                          CASE WHEN i % 2 = 0 THEN '东社区' ELSE '西社区' END, 'G1', '环境',
                          '处置中', 1 FROM range(30) t(i)""")
    marts.build(con)          # as every ETL write ends: the examples read the marts
    con.close()
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]    # one file to copy
    return path


@pytest.fixture()
def tiny_db(tiny_template, tmp_path, monkeypatch) -> Path:
    path = tmp_path / "cockpit.duckdb"
    shutil.copyfile(tiny_template, path)
    monkeypatch.setenv("COCKPIT_DB", str(path))
    return path


# --- the connection alone, without the statement checker: DuckDB itself must refuse ---
@pytest.mark.parametrize("sql, error", [
    ("SELECT * FROM read_csv('/etc/passwd')", duckdb.PermissionException),
    ("SELECT * FROM glob('/etc/*')", duckdb.PermissionException),
    ("COPY grid_reports TO '/tmp/cockpit_leak.csv'", duckdb.PermissionException),
    ("EXPORT DATABASE '/tmp/cockpit_leak'", duckdb.PermissionException),
    ("ATTACH '/tmp/other.duckdb' AS other", duckdb.PermissionException),
    ("INSTALL httpfs", duckdb.PermissionException),
    ("LOAD httpfs", duckdb.PermissionException),
    ("SET enable_external_access = true", duckdb.InvalidInputException),
    ("RESET enable_external_access", duckdb.InvalidInputException),
    ("PRAGMA threads = 1", duckdb.InvalidInputException),
    ("INSERT INTO etl_meta VALUES ('x', 'y')", duckdb.InvalidInputException),
    ("DELETE FROM grid_reports", duckdb.InvalidInputException),
    ("CREATE TABLE t AS SELECT 1", duckdb.InvalidInputException),
])
def test_sandbox_connection_refuses_on_its_own(tiny_db, sql, error):
    con = sqlconsole.open_sandbox(tiny_db)
    try:
        with pytest.raises(error):
            con.execute(sql)
    finally:
        con.close()
    assert not Path("/tmp/cockpit_leak.csv").exists()


# --- the console: every forbidden statement gives a translated refusal ---
# Each case starts a console worker process. The fast loop keeps one case per refusal key plus the
# computed table name; the full run refuses every statement (each function name's refusal is
# one code path, and test_every_table_function_is_classified checks every name in-process).
FORBIDDEN_FAST = {"SELECT * FROM read_csv('/etc/passwd')", "FROM '/etc/passwd'",
                  "COPY grid_reports TO '/tmp/cockpit_leak.csv'",
                  "SELECT 1; DROP TABLE grid_reports", "   ", "SELEC 1",
                  "EXPLAIN ANALYZE SELECT * FROM etl_meta WHERE value LIKE 'a%'",
                  "SELECT * FROM query_table('etl' || '_meta')"}


@pytest.mark.parametrize("sql, key", [case(sql, key, fast=sql in FORBIDDEN_FAST)
                                      for sql, key in [
    ("SELECT * FROM read_csv('/etc/passwd')", "sql.err.denied_function"),
    ("FROM read_text('/etc/passwd')", "sql.err.denied_function"),
    ("FROM '/etc/passwd'", "sql.err.file_table"),
    ("SELECT * FROM 'cockpit.duckdb'", "sql.err.file_table"),
    ("SELECT * FROM read_duckdb('cockpit.duckdb', table_name := 'grid_reports')",
     "sql.err.denied_function"),
    ("PRAGMA json_execute_serialized_sql('x')", "sql.err.not_read"),
    ("SELECT * FROM json_execute_serialized_sql('x')", "sql.err.denied_function"),
    ("SELECT * FROM pragma_storage_info('grid_reports')", "sql.err.denied_function"),
    ("COPY grid_reports TO '/tmp/cockpit_leak.csv'", "sql.err.not_read"),
    ("ATTACH '/tmp/other.duckdb'", "sql.err.not_read"),
    ("INSTALL httpfs", "sql.err.not_read"),
    ("LOAD httpfs", "sql.err.not_read"),
    ("SET threads = 1", "sql.err.not_read"),
    ("PRAGMA table_info('grid_reports')", "sql.err.not_read"),
    ("INSERT INTO grid_reports (report_id) VALUES ('x')", "sql.err.not_read"),
    ("UPDATE grid_reports SET status = '已办结'", "sql.err.not_read"),
    ("CREATE TEMP TABLE z AS SELECT 1", "sql.err.not_read"),
    ("CALL pragma_version()", "sql.err.not_read"),
    ("CHECKPOINT", "sql.err.not_read"),
    ("SELECT 1; SELECT 2", "sql.err.multiple"),
    ("SELECT 1; DROP TABLE grid_reports", "sql.err.multiple"),
    ("   ", "sql.err.empty"),
    ("SELEC 1", "sql.err.syntax"),
    ("SELECT * FROM etl_meta", "sql.err.hidden_table"),
    ("SUMMARIZE etl_meta", "sql.err.hidden_table"),
    ("EXPLAIN ANALYZE SELECT * FROM etl_meta WHERE value LIKE 'a%'", "sql.err.hidden_table"),
    ("SELECT * FROM query_table('etl' || '_meta')", "sql.err.denied_function"),
    ("SELECT * FROM query('SELECT 1')", "sql.err.denied_function"),
]])
def test_forbidden_statements_are_refused_with_a_translated_message(tiny_db, sql, key):
    with pytest.raises(sqlconsole.ConsoleError) as info:
        sqlconsole.run(sql)
    assert info.value.key == key
    for lang in ("zh", "en"):
        message = STRINGS[key][lang].format(**info.value.values)
        assert message and "{" not in message


# the fast loop runs a plain SELECT, a CTE and SUMMARIZE (a worker process each); the full run
# every kind of read statement
READS_FAST = {"SELECT community, count(*) AS n FROM grid_reports GROUP BY ALL ORDER BY community",
              "WITH x AS (SELECT 1 AS a) SELECT * FROM x", "SUMMARIZE grid_reports"}


@pytest.mark.parametrize("sql, rows", [case(sql, rows, fast=sql in READS_FAST)
                                       for sql, rows in [
    ("SELECT community, count(*) AS n FROM grid_reports GROUP BY ALL ORDER BY community", 2),
    ("WITH x AS (SELECT 1 AS a) SELECT * FROM x", 1),
    ("FROM grid_reports LIMIT 3", 3),
    ("DESCRIBE grid_reports", None),
    ("SHOW TABLES", None),
    ("SUMMARIZE grid_reports", None),
    ("EXPLAIN SELECT * FROM grid_reports", None),
]])
def test_read_statements_run(tiny_db, sql, rows):
    result = sqlconsole.run(sql)
    assert not result.truncated
    if rows is not None:
        assert len(result.df) == rows
    assert len(result.df) > 0


def test_console_works_while_the_dashboard_holds_the_file_open(tiny_db):
    dashboard_con = duckdb.connect(str(tiny_db), read_only=True)   # default configuration
    try:
        assert sqlconsole.run("SELECT count(*) AS n FROM grid_reports").df["n"].tolist() == [30]
        with pytest.raises(sqlconsole.ConsoleError) as info:
            sqlconsole.run("SELECT * FROM read_csv('/etc/passwd')")
        assert info.value.key == "sql.err.denied_function"
    finally:
        dashboard_con.close()


def test_reads_return_correct_values(tiny_db):
    df = sqlconsole.run("SELECT community, count(*) AS n FROM grid_reports GROUP BY ALL "
                        "ORDER BY community").df
    assert df.to_dict("records") == [{"community": "东社区", "n": 15}, {"community": "西社区", "n": 15}]


def test_row_cap(tiny_db):
    result = sqlconsole.run("SELECT * FROM range(100)", row_cap=10)
    assert result.truncated and len(result.df) == 10
    assert not sqlconsole.run("SELECT * FROM range(10)", row_cap=10).truncated


def test_timeout_interrupts_a_slow_query(tiny_db):
    import time
    started = time.perf_counter()
    with pytest.raises(sqlconsole.ConsoleError) as info:
        sqlconsole.run("SELECT count(*) FROM range(1000000000) a, range(1000) b "
                       "WHERE (a.range * b.range) % 7 = 3", timeout_s=0.2)   # 2 threads busy till then
    assert info.value.key == "sql.err.timeout"
    assert time.perf_counter() - started < 5


def test_duplicate_column_names_made_unique(tiny_db):
    assert list(sqlconsole.run("SELECT 1 AS a, 2 AS a").df.columns) == ["a", "a_1"]


def test_a_narrowed_scope_cannot_use_raw_sql(tiny_db):
    with use_scope(Scope(communities=("东社区",))):
        with pytest.raises(sqlconsole.ConsoleError) as info:
            sqlconsole.run("SELECT 1")
    assert info.value.key == "sql.err.scoped"


def test_missing_database_is_a_clear_message(tmp_path, monkeypatch):
    monkeypatch.setenv("COCKPIT_DB", str(tmp_path / "none.duckdb"))
    with pytest.raises(sqlconsole.ConsoleError) as info:
        sqlconsole.run("SELECT 1")
    assert info.value.key == "sql.err.no_db"


def test_every_console_key_is_translated():
    keys = [k for k in STRINGS if k.startswith("sql.")]
    assert {k for k, _ in sqlconsole.EXAMPLES} <= set(keys)
    for k in keys:
        assert STRINGS[k]["zh"] and STRINGS[k]["en"]


@pytest.mark.slow   # every saved example in its own worker
def test_saved_examples_all_run(tiny_db):
    for _, sql in sqlconsole.EXAMPLES:
        sqlconsole.run(sql)


# --- the page (AppTest) ---
def _run_page(sql: str) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=30)
    at.run()
    at.text_area(key="sql_text").set_value(sql)
    at.button(key="sql_run").click()
    at.run()
    return at


def test_page_runs_a_query_and_shows_the_table(tiny_db):
    at = _run_page("SELECT community, count(*) AS n FROM grid_reports GROUP BY ALL ORDER BY 1")
    assert not at.exception and not at.error
    df = at.dataframe[0].value
    assert df["n"].tolist() == [15, 15]


# the fast loop shows a denied function, a write and the hidden table on the page; the full run
# every refusal message
PAGE_FAST = {"SELECT * FROM read_csv('/etc/passwd')", "COPY grid_reports TO '/tmp/x.csv'",
             "SELECT * FROM etl_meta"}


@pytest.mark.parametrize("sql, fragment", [case(sql, fragment, fast=sql in PAGE_FAST)
                                           for sql, fragment in [
    ("SELECT * FROM read_csv('/etc/passwd')", "不允许使用函数 read\\_csv"),
    ("SELECT * FROM '/etc/passwd'", "不能把文件当作表读取"),
    ("COPY grid_reports TO '/tmp/x.csv'", "只允许只读查询"),
    ("ATTACH '/tmp/x.duckdb'", "只允许只读查询"),
    ("SELECT * FROM etl_meta", "假名化盐值"),
]])
def test_page_refuses_forbidden_statements_with_a_message(tiny_db, sql, fragment):
    at = _run_page(sql)
    assert not at.exception
    assert len(at.error) == 1 and fragment in at.error[0].value
    assert len(at.dataframe) == 0


@left_to_full_run
def test_page_reports_a_timeout(tiny_db, monkeypatch):
    monkeypatch.setattr(sqlconsole, "TIMEOUT_S", 0.2)       # the query's 2 threads are busy till then
    at = _run_page("SELECT count(*) FROM range(1000000000) a, range(1000) b "
                   "WHERE (a.range * b.range) % 7 = 3")
    assert not at.exception
    assert len(at.error) == 1 and "已中止" in at.error[0].value


def test_page_example_selection_fills_the_editor(tiny_db):
    at = AppTest.from_file(PAGE, default_timeout=30)
    at.run()
    title = STRINGS["sql.example.tables"]["zh"]
    at.selectbox(key="sql_example").set_value(title)
    at.run()
    assert at.text_area(key="sql_text").value == "SHOW TABLES"


# --- the worker process, its result caps and its function lists ---
def test_every_table_function_is_classified():
    """A DuckDB upgrade that adds a table function fails here until it is allowed or denied."""
    from dashboard import sqlsandbox
    con = duckdb.connect()
    names = {r[0] for r in con.execute(
        "SELECT DISTINCT function_name FROM duckdb_functions() "
        "WHERE function_type IN ('table', 'table_macro')").fetchall()}
    con.close()
    unclassified = {n for n in names - sqlsandbox.DENIED_FUNCTIONS
                    - sqlsandbox.ALLOWED_TABLE_FUNCTIONS if not n.startswith("duckdb_")}
    assert unclassified == set()
    assert not sqlsandbox.DENIED_FUNCTIONS & sqlsandbox.ALLOWED_TABLE_FUNCTIONS
    for reader in ("read_blob", "read_text", "glob", "read_parquet", "parquet_scan",
                   "read_csv", "read_csv_auto", "read_json", "read_json_auto", "sniff_csv"):
        assert reader in sqlsandbox.DENIED_FUNCTIONS


def test_collect_stops_at_the_row_cap_and_at_the_byte_cap():
    import pyarrow as pa
    from dashboard.sqlconsole_worker import collect
    batches = [pa.record_batch([pa.array(["x" * 100] * 10)], names=["s"]) for _ in range(5)]
    got, cut = collect(iter(batches), row_cap=25, byte_cap=10**9)
    assert (sum(b.num_rows for b in got), cut) == (25, "rows")
    got, cut = collect(iter(batches), row_cap=10**6, byte_cap=1_500)
    assert cut == "bytes" and sum(b.nbytes for b in got) <= 1_500
    assert sum(b.num_rows for b in got) == 14      # 104 bytes a row (100 + a 4-byte offset)
    got, cut = collect(iter(batches), row_cap=50, byte_cap=10**9)
    assert (sum(b.num_rows for b in got), cut) == (50, None)


def test_now_and_other_types_come_back_through_arrow(tiny_db):
    df = sqlconsole.run("SELECT now() AS t, DATE '2026-01-02' AS d, 1.5::DECIMAL(4,1) AS x, "
                        "[1, 2] AS l, NULL AS n").df
    assert df["t"].iloc[0].tzinfo is not None
    assert str(df["d"].iloc[0]) == "2026-01-02"
    assert float(df["x"].iloc[0]) == 1.5 and list(df["l"].iloc[0]) == [1, 2]


def test_byte_cap_truncates_and_says_so(tiny_db):
    result = sqlconsole.run("SELECT repeat('x', 1000) AS s FROM range(5000)", byte_cap=100_000)
    assert result.truncated and result.truncated_by == "bytes"
    assert 0 < len(result.df) < 100 and result.df["s"].str.len().eq(1000).all()
    with pytest.raises(sqlconsole.ConsoleError) as info:
        sqlconsole.run("SELECT repeat('x', 200000) AS s", byte_cap=100_000)
    assert info.value.key == "sql.err.row_too_large"


def test_the_worker_gets_the_per_query_limits(tiny_db):
    sql = "SELECT current_setting('threads') AS threads, current_setting('memory_limit') AS mem"
    df = sqlconsole.run(sql, memory_mb=900).df
    assert int(df["threads"].iloc[0]) == sqlconsole.THREADS
    assert df["mem"].iloc[0] == "286.1 MiB"            # a third of 900 MB
    assert sqlconsole.run(sql).df["mem"].iloc[0] == "488.2 MiB"   # a third of 1536 MB


def test_worker_refuses_a_narrowed_role(tiny_db):
    for scope in (Scope(role="community", communities=("东社区",)), Scope(role="partner", party="x"),
                  Scope(role="public")):
        with use_scope(scope):
            with pytest.raises(sqlconsole.ConsoleError) as info:
                sqlconsole.run("SELECT 1")
        assert info.value.key == "sql.err.scoped"
    with use_scope(Scope(role="analyst")):
        assert len(sqlconsole.run("SELECT 1 AS a").df) == 1


def test_page_shows_the_limits_and_a_bytes_truncation(tiny_db, monkeypatch):
    monkeypatch.setattr(sqlconsole, "BYTE_CAP_MB", 1)
    at = _run_page("SELECT repeat('x', 100000) AS s FROM range(100)")
    assert not at.exception and not at.error
    captions = " ".join(c.value for c in at.caption)
    assert f"{sqlconsole.TIMEOUT_S:g} 秒" in captions and "1 MB" in captions
    assert f"{sqlconsole.ROW_CAP:,} 行" in captions and f"{sqlconsole.MEMORY_MB:,} MB" in captions
    assert len(at.warning) == 1 and "超过 1 MB" in at.warning[0].value
    assert 0 < len(at.dataframe[0].value) < 100


def test_console_processes_are_capped_server_wide(tiny_db, monkeypatch):
    monkeypatch.setattr(sqlconsole, "SLOT_WAIT_S", 0.1)
    held = 0
    try:
        while sqlconsole._SLOTS.acquire(blocking=False):   # as if other users' queries ran
            held += 1
        assert held == sqlconsole.MAX_CONCURRENT == 2
        with pytest.raises(sqlconsole.ConsoleError) as info:
            sqlconsole.run("SELECT 1")
        assert info.value.key == "sql.err.busy" and info.value.values == {"n": 2}
    finally:
        for _ in range(held):
            sqlconsole._SLOTS.release()
    assert len(sqlconsole.run("SELECT 1 AS a").df) == 1      # the slot was given back


def test_every_duckdb_type_comes_back_as_a_frame(tiny_db):
    """UNIONs, extreme dates and the like cannot become pandas values: they come back as text."""
    df = sqlconsole.run("SELECT * FROM test_all_types()").df
    assert df.shape == (3, len(duckdb.sql("SELECT * FROM test_all_types()").columns))
    union = sqlconsole.run("SELECT 1::UNION(a INT, b VARCHAR) AS u").df
    assert union["u"].tolist() == ["1"]


def test_page_shows_every_duckdb_type(tiny_db):
    at = _run_page("SELECT * FROM test_all_types()")
    assert not at.exception and not at.error
    assert len(at.dataframe[0].value) == 3


def test_each_query_spills_to_its_own_temp_dir_removed_afterwards(tiny_db):
    df = sqlconsole.run("SELECT current_setting('temp_directory') AS d, "
                        "current_setting('max_temp_directory_size') AS m").df
    spill = Path(df["d"].iloc[0])
    assert spill.name.startswith("cockpit-sqlconsole-") and not spill.exists()
    assert df["m"].iloc[0] == "953.6 MiB"          # 1 GB


# --- the zygote that forks the query processes (dashboard/sqlconsole_zygote.py) ----------
def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_queries_run_in_children_of_a_single_threaded_zygote(tiny_db):
    """Each query is a new process forked by the zygote: the zygote outlives it, stays
    single-threaded (a fork copies only the calling thread) and holds no database open."""
    sqlconsole.run("SELECT 1 AS a")
    zygote = sqlconsole._ZYGOTE.pid()
    assert zygote is not None and _alive(zygote) and zygote != os.getpid()
    assert len(os.listdir(f"/proc/{zygote}/task")) == 1
    open_files = [os.readlink(f"/proc/{zygote}/fd/{fd}") for fd in os.listdir(f"/proc/{zygote}/fd")]
    assert not [f for f in open_files if f.endswith(".duckdb") or "cockpit" in f], open_files
    children = Path(f"/proc/{zygote}/task/{zygote}/children").read_text().split()
    assert children == []                       # the query's process is gone, and reaped
    assert len(sqlconsole.run("SELECT 2 AS b").df) == 1
    assert sqlconsole._ZYGOTE.pid() == zygote   # one zygote for every query


def test_the_zygote_imports_pyarrow_once_and_stays_single_threaded(tiny_db):
    """The zygote imports pyarrow for its query processes; an environment in which that import
    starts a thread (here libarrow's jemalloc background thread) makes it start itself again
    without the preload: still one thread, and queries still answer."""
    sqlconsole.run("SELECT 1 AS a")
    zygote = sqlconsole._ZYGOTE.pid()
    maps = Path(f"/proc/{zygote}/maps").read_text()
    assert "libarrow.so" in maps and len(os.listdir(f"/proc/{zygote}/task")) == 1
    threaded = zygote_module.Zygote(
        lambda: {**sqlconsole._child_env(), "JE_ARROW_MALLOC_CONF": "background_thread:true"})
    real = sqlconsole._ZYGOTE
    sqlconsole._ZYGOTE = threaded
    try:
        assert sqlconsole.run("SELECT 4 AS d").df["d"].iloc[0] == 4
        pid = threaded.pid()
        assert pid != zygote and len(os.listdir(f"/proc/{pid}/task")) == 1
        assert b"COCKPIT_ZYGOTE_LAZY_ARROW=1" in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        assert "libarrow.so" not in Path(f"/proc/{pid}/maps").read_text()
    finally:
        sqlconsole._ZYGOTE = real
        threaded._stop()


@left_to_full_run
def test_a_query_killed_at_the_wall_clock_is_gone_before_the_answer(tiny_db):
    with pytest.raises(sqlconsole.ConsoleError) as info:
        sqlconsole.run("SELECT count(*) FROM range(1000000000) a, range(1000) b "
                       "WHERE levenshtein(a.range::VARCHAR, b.range::VARCHAR) = 3", timeout_s=0.3)
    assert info.value.key == "sql.err.timeout"
    zygote = sqlconsole._ZYGOTE.pid()
    assert Path(f"/proc/{zygote}/task/{zygote}/children").read_text().split() == []


def test_a_dead_zygote_is_started_again(tiny_db):
    sqlconsole.run("SELECT 1 AS a")
    first = sqlconsole._ZYGOTE.pid()
    os.kill(first, signal.SIGKILL)
    assert sqlconsole.run("SELECT 3 AS c").df["c"].iloc[0] == 3
    assert sqlconsole._ZYGOTE.pid() not in (None, first)


@left_to_full_run
def test_the_zygote_dies_with_the_server(tiny_db):
    """A server process that ran a console query and exits leaves no zygote behind."""
    code = ("from dashboard import sqlconsole; sqlconsole.run('SELECT 1 AS a'); "
            "print(sqlconsole._ZYGOTE.pid(), flush=True)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         cwd=REPO, env={**os.environ, "COCKPIT_DB": str(tiny_db)}, check=True)
    zygote = int(out.stdout.split()[-1])
    deadline = time.monotonic() + 10
    while _alive(zygote) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(zygote)
