"""Summaries that take a load's delta as appended rows, and their compaction.

grid_daily, feedback_daily and grid_resolution_monthly are read only through sums (every page
query, the briefing, the explorer, the median's bracket: docs/SCHEMA.md), and their count lists
are read per row by `count_at`, which is linear. So a group of their grain may be held by
several rows: the group is their sum. A load appends its delta (etl/marts/delta.py: the
contributions of the rows it wrote, and those of the rows it superseded with the sign turned)
as rows, instead of merging it into the stored groups, once per command at its end
(`apply_deferred`; its writes only note their files and superseded rows, `defer`): it reads
none of the summary and rewrites none of it, so its cost follows the load (the merge joined
every stored group of the months it touched: at 10M reports a 1M-row load touched 472k of 664k
groups, and the daily 35k update export every month).

A month is made *whole* again (one row per group, groups summing to nothing dropped) by
`compact`: the groups with more than one row are summed and replace their rows. A month is due
when the rows appended since it was last whole exceed COMPACT_SHARE of its rows then (and at
least COMPACT_FLOOR rows): readers then scan at most about twice a month's groups. A load
compacts the due months, worst first, within a budget that follows its own delta (like the
Parquet parts, etl/storage.py); `python -m etl compact` (nightly) makes every month whole.

`etl_storage.summary_rows` keeps, per summary and month, how many rows the month had when it was
last whole (a full build, a month's rebuild from the records, a compaction). It only decides
when to compact: the sums are right whatever it says. A catalog from before this bookkeeping
held whole summaries (the delta was merged): it is marked whole when the table is created.
Table and column names come from etl/marts MODELS and the summaries' own schema; values are
bound.
"""
from __future__ import annotations

from datetime import date

import duckdb

from etl.marts import delta

APPENDED = ("grid_daily", "feedback_daily", "grid_resolution_monthly")
COMPACT_SHARE = 1.0          # due when the rows appended since whole exceed this share of them
COMPACT_FLOOR = 10_000       # ... and at least this many (a small month is cheap to read)
COMPACT_BUDGET_ROWS = 200_000
COMPACT_BUDGET_FACTOR = 4    # a load compacts at most max(ROWS, FACTOR x the rows it appended)

ROWS_TABLE = "etl_storage.summary_rows"
_DDL = ("CREATE SCHEMA IF NOT EXISTS etl_storage",
        f"CREATE TABLE IF NOT EXISTS {ROWS_TABLE} (table_name VARCHAR NOT NULL, month_on DATE, "
        "rows BIGINT NOT NULL)")
_FORGET = f"DELETE FROM {ROWS_TABLE} WHERE table_name = $t AND ($m IS NULL OR list_contains($m, month_on))"
_MARK = ("INSERT INTO " + ROWS_TABLE + " SELECT $t, {month}, count(*) FROM main.{summary} "
         "WHERE $m IS NULL OR list_contains($m, {month}) GROUP BY {month}")
_MONTHS = ("SELECT s.month_on, s.n, coalesce(b.rows, 0) FROM "
           "(SELECT {month} AS month_on, count(*) AS n FROM main.{summary} GROUP BY 1) s "
           "LEFT JOIN " + ROWS_TABLE + " b ON b.table_name = $t AND b.month_on IS NOT DISTINCT FROM s.month_on")
# the rows of the groups that have more than one row in the months compacted (with their rowid)
_REPEATED = ("CREATE OR REPLACE TEMP TABLE etl_marts_compact AS "
             "WITH r AS (SELECT rowid AS _rid, * FROM main.{summary} WHERE {month} >= $first "
             "AND {month} <= $last AND list_contains($months, {month})), "
             "rep AS MATERIALIZED (SELECT {by} FROM r GROUP BY {by} HAVING count(*) > 1) "
             "SELECT r.* FROM r SEMI JOIN rep ON {same}")
_DELETE = "DELETE FROM main.{summary} WHERE rowid IN (SELECT _rid FROM temp.etl_marts_compact)"
_INSERT = "INSERT INTO main.{summary} BY NAME {grouped}"
_GROUPED = "SELECT {columns} FROM {relation} GROUP BY {by} HAVING {alive}"
_APPENDED_DDL = "CREATE TEMP TABLE IF NOT EXISTS etl_marts_appended (table_name VARCHAR, rows BIGINT)"
_APPENDED_ADD = "INSERT INTO temp.etl_marts_appended VALUES ($t, $n)"
_APPENDED_READ = "SELECT coalesce(sum(rows), 0) FROM temp.etl_marts_appended WHERE table_name = $t"
# A command's writes are taken into these summaries once, at its end (`apply_deferred`): each
# write notes, in its transaction, the files it wrote and the stored (file, key) pairs it
# superseded
WRITTEN = "etl_marts_written"      # (table_name, path)
GONE = "etl_marts_gone"            # (table_name, path, key)
_DEFER_DDL = (f"CREATE TEMP TABLE IF NOT EXISTS {WRITTEN} (table_name VARCHAR, path VARCHAR)",
              f"CREATE TEMP TABLE IF NOT EXISTS {GONE} (table_name VARCHAR, path VARCHAR, key VARCHAR)")
_DEFER = (f"INSERT INTO temp.{WRITTEN} SELECT $t, path FROM temp.etl_written",
          f"INSERT INTO temp.{GONE} SELECT $t, path, key FROM temp.etl_superseded")
_DEFERRED_TABLES = (f"SELECT table_name FROM temp.{WRITTEN} UNION SELECT table_name FROM temp.{GONE} "
                    "ORDER BY 1")
_DROP_DEFERRED = "DROP TABLE IF EXISTS temp.{table}"
_DEFERRED_PATHS = "SELECT coalesce(list(DISTINCT path ORDER BY path), []) FROM temp.{table} WHERE table_name = $t"
# the rows the command's files still hold at its end: all of theirs (_ALL_ADDED, when no later
# write of the command superseded any) but those a later write of the same command superseded
_ALL_ADDED = "(SELECT {columns} FROM read_parquet($written, hive_partitioning = false))"
_ADDED = ("(SELECT {columns} FROM read_parquet($written, hive_partitioning = false) f ANTI JOIN "
          f"(SELECT path, key FROM temp.{GONE} WHERE table_name = $t) g "
          "ON g.path = f.filename AND g.key = f.{key})")
# the rows of files from before the command (or made by its compactions) that it superseded,
# read once per table for all of its summaries, only the columns they name (delta.named_columns):
# the stored files are whole months, so this read follows the database, not the load
REMOVED = "etl_marts_removed"
_REMOVED = ("CREATE OR REPLACE TEMP TABLE " + REMOVED + " AS "
            "SELECT {columns} FROM read_parquet($before, hive_partitioning = false) f SEMI JOIN "
            f"(SELECT path, key FROM temp.{GONE} WHERE table_name = $t "
            "AND NOT list_contains(CAST($written AS VARCHAR[]), path)) g "
            "ON g.path = f.filename AND g.key = f.{key}")
_DROP_REMOVED = "DROP TABLE IF EXISTS temp." + REMOVED


def is_appended(name: str) -> bool:
    """Whether summary `name` takes deltas as appended rows (else they are merged)."""
    return name in APPENDED


def _model(name: str):
    from etl.marts import model
    if not is_appended(name):
        raise ValueError(f"not an appended summary: {name!r}")
    return model(name)


def ensure(con: duckdb.DuckDBPyConnection) -> None:
    """The bookkeeping table; created in a catalog from before it with every summary marked
    whole (the merge kept them whole)."""
    if delta.is_table(con, ROWS_TABLE):     # the binder: a fifth of listing duckdb_tables()
        return
    for statement in _DDL:
        con.execute(statement)
    for name in APPENDED:
        if delta.exists(con, name):
            mark_whole(con, name)


def mark_whole(con: duckdb.DuckDBPyConnection, name: str, months: list[date] | None = None) -> None:
    """Note that summary `name` is whole in `months` (None: every month) as it is now."""
    m = _model(name)
    for statement in _DDL:
        con.execute(statement)
    con.execute(_FORGET, {"t": name, "m": months})
    con.execute(_MARK.format(month=m.month_column, summary=name), {"t": name, "m": months})


def appended(con: duckdb.DuckDBPyConnection, name: str, relation_sql: str, params: dict | None = None) -> int:
    """Append the rows of `relation_sql` (signed contributions in the summary's columns; its
    parameters `params`) to summary `name`; returns how many (noted for this command's
    compaction budget)."""
    n = con.execute(_INSERT.format(summary=name, grouped=relation_sql), params or {}).fetchone()[0]
    con.execute(_APPENDED_DDL)
    con.execute(_APPENDED_ADD, {"t": name, "n": n})
    return n


def prepare(con: duckdb.DuckDBPyConnection) -> None:
    """Before a write's transaction (delta.prepare): the tables `appended` and `defer` write
    to (created outside it: delta.prepare says why)."""
    ensure(con)
    con.execute(_APPENDED_DDL)
    for statement in _DEFER_DDL:
        con.execute(statement)


def defer(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """After etl.storage.upsert of `table`, in its transaction (a refused file notes nothing):
    note the files it wrote (temp.etl_written) and the stored rows it superseded
    (temp.etl_superseded) for `apply_deferred`, in the tables `prepare` made before the
    transaction (created inside it, they would lose their rows: delta.prepare)."""
    for statement in _DEFER:
        con.execute(statement, {"t": table})


def apply_deferred(con: duckdb.DuckDBPyConnection) -> None:
    """At the end of a command (etl.marts.build, before it checks the summaries): append to each
    appended summary, in one statement per summary, the contributions of the rows the command's
    files still hold and, with the sign turned, of the stored rows it superseded from other files
    (read once per table for all its summaries: `REMOVED`); note their months as taken
    (delta.covered).

    Exact: the database after the command is the one before, less the superseded rows of files
    it did not write, plus the rows of the files it wrote less those it superseded itself. A row
    of its own that a compaction of the command moved into a new file, then superseded, is
    counted in both (added from its own file, removed from the compacted one): net nothing.
    Once per command instead of once per write: the summary's SQL runs over all of the load's
    rows on every core, and the appended rows are written in one insert (at 10M reports the
    966k-row load appended 472k rows in five commits, each compressing its rows into the
    catalog, 0.6-0.7 s of CPU; docs/ARCHITECTURE.md)."""
    from etl import storage
    if not delta.temp_exists(con, WRITTEN):
        return
    for (table,) in con.execute(_DEFERRED_TABLES).fetchall():
        written = con.execute(_DEFERRED_PATHS.format(table=WRITTEN), {"t": table}).fetchone()[0]
        gone = con.execute(_DEFERRED_PATHS.format(table=GONE), {"t": table}).fetchone()[0]
        own = set(written)
        before = [path for path in gone if path not in own]
        delta.note_months(con, table, {storage.month_of(path) for path in [*written, *before]})
        shape = {"columns": storage.column_list(table), "key": storage.PARTITIONED[table].key}
        models = [m for m in delta.summaries(table) if is_appended(m.name) and delta.exists(con, m.name)]
        signed, params = [], {}
        if len(before) < len(gone):       # the command superseded rows of its own files
            signed, params = [(+1, _ADDED.format(**shape))], {"t": table, "written": written}
        elif written:
            signed, params = [(+1, _ALL_ADDED.format(**shape))], {"written": written}
        if before and models:
            # read once for every summary (each read the month files again: at 10M reports a
            # 35k-row update export's 16k superseded rows cost a scan of 9.85M rows per summary)
            named = ", ".join(f"f.{c}" for c in delta.named_columns(table, models))
            con.execute(_REMOVED.format(columns=named, key=shape["key"]),
                        {"t": table, "written": written, "before": before})
            signed.append((-1, f"temp.{REMOVED}"))
        for m in models:
            if signed:
                # both signs in one insert (a summary's rows are only ever summed)
                rows = " UNION ALL BY NAME ".join(f"({delta.signed_rows(con, m, relation, sign)})"
                                          for sign, relation in signed)
                appended(con, m.name, rows, params)
        con.execute(_DROP_REMOVED)
    forget_deferred(con)


def forget_deferred(con: duckdb.DuckDBPyConnection) -> None:
    """Drop what `defer` noted (applied, or made moot by a rebuild)."""
    for table in (WRITTEN, GONE):
        con.execute(_DROP_DEFERRED.format(table=table))


def grouped_sql(con: duckdb.DuckDBPyConnection, name: str, relation: str) -> str:
    """The rows of `relation` (a summary's columns, a group possibly on several rows) as one
    row per group, groups whose counts are all zero left out: the summary as a merge would
    have kept it. `relation` is a name of this package's callers, never data."""
    keys, sums, lists = delta.columns(con, name)
    types = delta.types(con, name)
    sizes = dict(zip(lists, delta.lengths(con, relation, lists)))
    summed = {**{c: f"CAST(sum({c}) AS {types[c]}) AS {c}" for c in sums},
              **{c: f"{delta.elements(n, lambda i, c=c: f'coalesce(sum({c}[{i}]), 0)::BIGINT')} AS {c}"
                 for c, n in sizes.items()}}
    columns = [summed.get(c, c) for c in types]      # the table's own column order
    # a group's count lists count its own reports: all its counts zero means all its lists zero
    alive = " OR ".join(f"sum({c}) <> 0" for c in sums)
    return _GROUPED.format(columns=", ".join(columns), relation=relation, by=", ".join(keys), alive=alive)


def due(con: duckdb.DuckDBPyConnection, name: str, force: bool = False) -> list[tuple[float, date, int]]:
    """(rows appended / rows when whole, month, rows now) of the months of summary `name` due
    for compaction (with `force`: every month not whole), the worst first."""
    m = _model(name)
    ensure(con)
    rows = con.execute(_MONTHS.format(month=m.month_column, summary=name), {"t": name}).fetchall()
    out = []
    for month, now, whole in rows:
        extra = now - whole
        if (force and extra != 0) or extra > COMPACT_SHARE * max(whole, COMPACT_FLOOR):
            out.append((extra / max(whole, 1), month, now))
    return sorted(out, key=lambda r: (-r[0], r[1] or date.min))


def compact(con: duckdb.DuckDBPyConnection, name: str, budget: int | None = None,
            force: bool = False) -> list[date]:
    """Make the due months of summary `name` whole (with `force`: every month not whole), the
    worst first, until `budget` rows have been read (None: no limit); returns them."""
    months, spent = [], 0
    for _, month, rows in due(con, name, force):
        if budget is not None and spent + rows > budget:
            continue
        months.append(month)
        spent += rows
    if months:
        _compact_months(con, name, months)
    return months


def _compact_months(con: duckdb.DuckDBPyConnection, name: str, months: list[date]) -> None:
    """Replace the rows of every group with more than one row in `months` by their sum."""
    m = _model(name)
    keys, _, _ = delta.columns(con, name)
    same = " AND ".join(f"r.{k} IS NOT DISTINCT FROM rep.{k}" for k in keys)
    con.execute(_REPEATED.format(summary=name, month=m.month_column, by=", ".join(keys), same=same),
                {"months": months, "first": min(months), "last": max(months)})
    con.execute(_DELETE.format(summary=name))
    con.execute(_INSERT.format(summary=name, grouped=grouped_sql(con, name, "temp.etl_marts_compact")))
    con.execute("DROP TABLE temp.etl_marts_compact")
    mark_whole(con, name, months)


def after_load(con: duckdb.DuckDBPyConnection) -> dict[str, list[date]]:
    """At the end of a write (etl.marts.build): compact the due months of each summary this
    command appended to, within a budget that follows what it appended."""
    if not delta.temp_exists(con, "etl_marts_appended"):
        return {}
    done = {}
    for name in APPENDED:
        added = con.execute(_APPENDED_READ, {"t": name}).fetchone()[0]
        if added and delta.exists(con, name):
            done[name] = compact(con, name, budget=max(COMPACT_BUDGET_ROWS, COMPACT_BUDGET_FACTOR * added))
    con.execute("DROP TABLE temp.etl_marts_appended")
    return done


def compact_all(con: duckdb.DuckDBPyConnection) -> dict[str, list[date]]:
    """`python -m etl compact`: every summary month not whole made whole, without a budget."""
    return {name: compact(con, name, force=True) for name in APPENDED if delta.exists(con, name)}
