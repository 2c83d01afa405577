"""Delta maintenance of the summary marts: merge a write's change instead of rebuilding months.

Every column of a summary table (grid_daily, feedback_daily) is either part of its grain
(dates, names) or a count that each source row adds to on its own: a case adds 1 to
`reports` of the day it was reported and 1 to `closed` of the day it was resolved, and 1 to
each element of `sla_due_by` / `sla_met_by` from the day it became due / met. So a write's
effect is exact arithmetic: the contributions of the rows it adds, minus those of the rows
it supersedes (the old version of an updated case, closed later, moved to another community
or category), computed by the model's own SQL over just those rows.

Each write (a file's upsert, in the load's transaction, so a refused file leaves nothing
behind) merges its delta at once (`tracking` around etl.storage.upsert, `note`): the groups
it touches become old + delta, groups that fall to zero are removed. etl.marts.build then
leaves a summary alone when every month the storage layer says changed was merged this way
(`up_to_date`), and otherwise rebuilds those months from the records, as before (a
compaction run, a writer that does not go through the loader). A full build
(changed=None) stays the reference: tests/test_marts_delta.py compares the two.
Table names come from etl/marts MODELS; column names from the summary tables' own schema.
"""
from __future__ import annotations

import contextlib
import re
from datetime import date
from typing import Iterator

import duckdb

MONTHS_TABLE = "etl_marts_delta_months"
_MONTHS_DDL = f"CREATE TEMP TABLE IF NOT EXISTS {MONTHS_TABLE} (table_name VARCHAR, month_on DATE)"
_MARKER = re.compile(r"from (\w+) /\* months \*/")


def summaries(source: str) -> list:
    """The summary-table models fed by `source` (a record table)."""
    from etl.marts import MODELS, model
    return [m for m in map(model, MODELS) if m.kind == "table" and m.source == source]


def contributions_sql(m, relation: str) -> str:
    """The model's body over the rows of `relation` (columns of its source table) instead of
    its source: the summary rows those records alone make. `relation` is a name of this
    package's callers (a temporary table or view), never data."""
    from etl.marts import model
    found = _MARKER.findall(m.body)
    if len(found) != 1:
        raise ValueError(f"{m.name}.sql: a table model needs one 'from <x> /* months */'")
    upstream = found[0]
    if upstream == m.source:
        inner = relation
    else:   # a view over the source (grid_cases over grid_reports): inline it over `relation`
        body, n = re.subn(rf"\bfrom {m.source}\b", f"from {relation}", model(upstream).body)
        if n != 1:
            raise ValueError(f"{upstream}.sql: expected one 'from {m.source}'")
        inner = f"({body})"
    return _MARKER.sub(f"from {inner}", m.body)


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> tuple[list[str], list[str], list[str]]:
    """(grain columns, count columns, count-list columns) of a summary table, in order."""
    rows = con.execute("SELECT column_name, data_type FROM information_schema.columns "
                       "WHERE table_catalog = current_database() AND table_schema = 'main' "
                       "AND table_name = $t ORDER BY ordinal_position", {"t": table}).fetchall()
    counts = {"BIGINT", "INTEGER", "HUGEINT", "SMALLINT", "TINYINT"}
    keys = [n for n, t in rows if t not in counts and not t.endswith("[]")]
    sums = [n for n, t in rows if t in counts]
    lists = [n for n, t in rows if t.endswith("[]")]
    return keys, sums, lists


def _exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = $t "
                            "AND database_name = current_database()", {"t": table}).fetchone()[0])


def note(con: duckdb.DuckDBPyConnection, source: str, relation: str, sign: int) -> None:
    """Merge into each summary of `source` the contributions of the rows of `relation`
    (columns of `source`) with `sign` +1 (rows written) or -1 (rows superseded), and note the
    months they fall in. Runs in the caller's transaction: a refused file undoes it."""
    from etl.storage import PARTITIONED
    models = [m for m in summaries(source) if _exists(con, m.name)]
    if not models:
        return          # the first build creates them whole
    time_col = PARTITIONED[source].time
    con.execute(_MONTHS_DDL)
    con.execute(f"INSERT INTO {MONTHS_TABLE} SELECT DISTINCT $t, date_trunc('month', {time_col})::DATE "
                f"FROM {relation}", {"t": source})
    for m in models:
        _merge(con, m, contributions_sql(m, relation), sign)


def _merge(con: duckdb.DuckDBPyConnection, m, contributions: str, sign: int) -> None:
    """Add `sign` x the rows of `contributions` (unique by the summary's grain, as the model
    groups) to the summary: the groups they touch are replaced by the sums, groups whose
    counts all fall to zero removed. Row by row, no aggregate: a write's delta is as many
    rows as the groups it touches, and only those are rewritten."""
    keys, sums, lists = _columns(con, m.name)
    same = " AND ".join(f"s.{k} IS NOT DISTINCT FROM d.{k}" for k in keys)
    sign = int(sign)
    summed = ", ".join([*(f"d.{k}" for k in keys),
                        *(f"coalesce(s.{c}, 0) + {sign} * d.{c} AS {c}" for c in sums),
                        *(f"CASE WHEN s.{c} IS NULL THEN list_transform(d.{c}, lambda x: {sign} * x) "
                          f"ELSE list_transform(range(1, len(d.{c}) + 1), lambda i: s.{c}[i] + {sign} * d.{c}[i]) "
                          f"END AS {c}" for c in lists)])
    alive = " OR ".join(f"{c} <> 0" for c in sums)
    con.execute(f"CREATE OR REPLACE TEMP TABLE etl_marts_note AS {contributions}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE etl_marts_merged AS SELECT {summed} "
                f"FROM etl_marts_note d LEFT JOIN {m.name} s ON {same}")
    con.execute(f"DELETE FROM {m.name} s USING etl_marts_note d WHERE {same}")
    con.execute(f"INSERT INTO {m.name} BY NAME SELECT * FROM etl_marts_merged WHERE {alive}")
    con.execute("DROP TABLE temp.etl_marts_note")
    con.execute("DROP TABLE temp.etl_marts_merged")


def covered(con: duckdb.DuckDBPyConnection, source: str) -> set[date]:
    """The months of `source` whose changes this connection merged into the summaries."""
    if not _temp_exists(con, MONTHS_TABLE):
        return set()
    return {r[0] for r in con.execute(f"SELECT DISTINCT month_on FROM {MONTHS_TABLE} WHERE table_name = $t",
                                      {"t": source}).fetchall()}


def _temp_exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM duckdb_tables() WHERE temporary AND table_name = $t",
                            {"t": table}).fetchone()[0])


def up_to_date(con: duckdb.DuckDBPyConnection, m, months: list[date]) -> bool:
    """Whether summary `m` already holds this connection's changes of `months` (every one
    merged by `note`); False: the caller rebuilds those months from the records."""
    return set(months) <= covered(con, m.source)


def clear(con: duckdb.DuckDBPyConnection) -> None:
    """Forget the noted months (after a build used them or rebuilt the summaries)."""
    con.execute(f"DROP TABLE IF EXISTS temp.{MONTHS_TABLE}")


@contextlib.contextmanager
def tracking(con: duckdb.DuckDBPyConnection, table: str, source: str) -> Iterator[None]:
    """Around `etl.storage.upsert(con, table, source, ...)`: note the rows it writes (+) and
    the stored rows it supersedes (-) for the summaries of `table` (nothing for a table no
    summary reads). The superseded rows are found from what the write leaves in the manifest:
    the (file, key) pairs it added to etl_storage.deletes, and the files a compaction removed
    from etl_storage.parts (their rows are still on disk: files are immutable and kept until
    garbage collection); in those files, a row whose key arrives and that was not superseded
    before is one this write supersedes."""
    from etl import storage
    from etl.marts import SEEDS
    if (not storage.is_partitioned(con, table) or not any(_exists(con, m.name) for m in summaries(table))
            or not all(_exists(con, s) for s in SEEDS)):
        # no summary yet or none reads this table; or a catalog from before the seeded rules:
        # the build then makes every summary whole
        yield
        return
    key = storage.PARTITIONED[table].key
    con.execute(f"CREATE OR REPLACE TEMP TABLE etl_marts_keys AS SELECT DISTINCT {key} AS key FROM {source}")
    con.execute("CREATE OR REPLACE TEMP TABLE etl_marts_gone_before AS SELECT d.path, d.key "
                "FROM etl_storage.deletes d SEMI JOIN temp.etl_marts_keys k ON k.key = d.key")
    before = set(storage.files(con, table))
    yield
    removed = sorted(before - set(storage.files(con, table)))
    hit = [r[0] for r in con.execute(
        "SELECT DISTINCT d.path FROM etl_storage.deletes d SEMI JOIN temp.etl_marts_keys k ON k.key = d.key "
        "ANTI JOIN temp.etl_marts_gone_before g ON g.path = d.path AND g.key = d.key").fetchall()]
    candidates = sorted(set(removed) | (set(hit) & before))
    if candidates:
        names = storage.column_list(table)
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE etl_marts_superseded AS SELECT {names} "
            f"FROM read_parquet($files, hive_partitioning = false) f "
            f"SEMI JOIN temp.etl_marts_keys k ON k.key = f.{key} "
            f"ANTI JOIN temp.etl_marts_gone_before g ON g.path = f.filename AND g.key = f.{key}",
            {"files": candidates})
        note(con, table, "temp.etl_marts_superseded", -1)
        con.execute("DROP TABLE temp.etl_marts_superseded")
    note(con, table, source, +1)
    for scratch in ("etl_marts_keys", "etl_marts_gone_before"):
        con.execute(f"DROP TABLE IF EXISTS temp.{scratch}")
