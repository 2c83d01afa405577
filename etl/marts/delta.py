"""Delta maintenance of the summary marts: a write's change instead of rebuilding months.

Every column of a summary table (grid_daily, feedback_daily, fund_daily) is either part of its
grain (dates, names, flags) or a count or exact sum (integers, DECIMAL amounts) that each source
row adds to on its own: a case adds 1 to
`reports` of the day it was reported and 1 to `closed` of the day it was resolved, and 1 to
each element of `sla_due_by` / `sla_met_by` from the day it became due / met. So a write's
effect is exact arithmetic: the contributions of the rows it adds, minus those of the rows
it supersedes (the old version of an updated case, closed later, moved to another community
or category), computed by the model's own SQL over just those rows.

Each write (a file's upsert, in the load's transaction, so a refused file leaves nothing
behind: `tracking` around etl.storage.upsert) hands its delta to each summary:
- the summaries of etl/marts/appended.py (grid_daily, feedback_daily, grid_resolution_monthly,
  read only through sums) take it as rows of their own: each write only notes the files it
  wrote and the stored rows it superseded, and etl.marts.build appends the whole command's
  contributions at its end, once (`appended.apply_deferred`); the load reads and rewrites none
  of the stored rows; their months are compacted lazily (appended.py);
- the others (fund_daily, whose readers group without dropping empty groups) collect it in a
  pending delta (a temporary table as small as the groups the command touches) that
  etl.marts.build merges once per command (`flush`): the groups it touches become old + delta,
  groups that fall to zero are removed, groups of months the summary does not hold yet are
  inserted.
The build then leaves a summary alone when every month the storage layer says changed was
noted this way (`up_to_date`), and otherwise rebuilds those months from the records, as before
(a compaction run, a writer that does not go through the loader). A full build
(changed=None) stays the reference: tests/test_marts_delta.py compares the two.
Table names come from etl/marts MODELS; column names from the summary tables' own schema.
"""
from __future__ import annotations

import contextlib
import functools
import re
from datetime import date
from typing import Iterator

import duckdb

MONTHS_TABLE = "etl_marts_delta_months"
_MONTHS_DDL = f"CREATE TEMP TABLE IF NOT EXISTS {MONTHS_TABLE} (table_name VARCHAR, month_on DATE)"
_MARKER = re.compile(r"from (\w+) /\* months \*/")
# The statements below are composed from these templates with table and column names taken
# from MODELS and the summary tables' own schema (never data); values are bound ($t).
_PENDING_DDL = "CREATE TEMP TABLE IF NOT EXISTS {pending} AS SELECT * FROM main.{summary} LIMIT 0"
_NOTE_MONTHS = "INSERT INTO {months} SELECT DISTINCT $t, date_trunc('month', {time})::DATE FROM {relation}"
_NOTE_MONTH_LIST = "INSERT INTO {months} SELECT $t, unnest(CAST($m AS DATE[]))"
_ROWS = "SELECT {signed} FROM ({contributions})"
_NOTE_ROWS = "INSERT INTO temp.{pending} BY NAME {rows}"
_DROP = "DROP TABLE IF EXISTS {table}"
_LENGTHS = "SELECT {lengths} FROM {relation}"
_NOTE_TABLE = "CREATE OR REPLACE TEMP TABLE etl_marts_note AS {contributions}"
# only the months the delta touches are compared (the summary's other months are not read
# beyond their month column); each stored group found keeps its rowid, so the groups
# replaced are deleted by rowid, without joining the summary a second time
_MERGED = ("CREATE OR REPLACE TEMP TABLE etl_marts_merged AS SELECT {summed} "
           "FROM temp.etl_marts_note d LEFT JOIN (SELECT rowid AS _rid, * FROM main.{summary} "
           "WHERE {month} IN (SELECT DISTINCT {month} FROM temp.etl_marts_note)) s ON {same}")
_DELETE_MERGED = ("DELETE FROM main.{summary} WHERE rowid IN "
                  "(SELECT _rid FROM temp.etl_marts_merged WHERE _rid IS NOT NULL)")
_INSERT_MERGED = ("INSERT INTO main.{summary} BY NAME SELECT * EXCLUDE (_rid) FROM temp.etl_marts_merged "
                  "WHERE {alive}")
# the old versions of the rows a write superseded, read from their (immutable) files
_SUPERSEDED = ("CREATE OR REPLACE TEMP TABLE etl_marts_superseded AS SELECT {columns} "
               "FROM read_parquet($files, hive_partitioning = false) f "
               "SEMI JOIN temp.etl_superseded s ON s.path = f.filename AND s.key = f.{key}")
_COVERED = "SELECT DISTINCT month_on FROM {months} WHERE table_name = $t"


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


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@functools.cache
def _named_columns(table: str, names: tuple[str, ...]) -> tuple[str, ...]:
    from etl import storage
    from etl.marts import model
    words = {w.lower() for name in names for w in _WORD.findall(contributions_sql(model(name), "r"))}
    words.add(storage.PARTITIONED[table].time)       # `note` finds the months the rows fall in
    return tuple(n for n, _ in storage.columns(table) if n.lower() in words)


def named_columns(table: str, models: list) -> list[str]:
    """The columns of record table `table` (one of etl.storage.PARTITIONED) that the SQL of
    summaries `models` names, and its time column, in the table's order: all a relation of its
    rows needs for their contributions (`contributions_sql` binds over them:
    tests/test_marts_delta.py). A word of the SQL that is not a column (a
    comment, an alias) may add a column: harmless; a column the SQL uses without naming it
    would be a binder error, loud. Reading only these of a stored month file skips its wide
    text columns (description, location)."""
    return list(_named_columns(table, tuple(m.name for m in models)))


def columns(con: duckdb.DuckDBPyConnection, table: str) -> tuple[list[str], list[str], list[str]]:
    """(grain columns, count columns, count-list columns) of a summary table, in order. Counts
    are integers or DECIMAL sums (exact: a group's amount is old + delta to the cent)."""
    rows = types(con, table)
    keys = [n for n, t in rows.items() if not _summed_type(t) and not t.endswith("[]")]
    sums = [n for n, t in rows.items() if _summed_type(t)]
    lists = [n for n, t in rows.items() if t.endswith("[]")]
    return keys, sums, lists


_COUNT_TYPES = {"BIGINT", "INTEGER", "HUGEINT", "SMALLINT", "TINYINT"}


def _summed_type(data_type: str) -> bool:
    return data_type in _COUNT_TYPES or data_type.startswith("DECIMAL")


def types(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
    """column -> data type of a summary table, in order: from the binder (as `is_table`; the
    type names are information_schema's), unless a temp table of that name could shadow it."""
    if not is_table(con, f"temp.{table}"):
        try:
            rel = con.table(f"main.{table}")
            return dict(zip(rel.columns, map(str, rel.dtypes)))
        except duckdb.Error:      # no such table (or a view that no longer binds): ask the catalog
            pass
    return dict(con.execute("SELECT column_name, data_type FROM information_schema.columns "
                            "WHERE table_catalog = current_database() AND table_schema = 'main' "
                            "AND table_name = $t ORDER BY ordinal_position", {"t": table}).fetchall())


def exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    """Whether `table` (a summary or seed: main schema) is a table of the catalog."""
    if not is_table(con, f"main.{table}"):
        return False
    if is_table(con, f"temp.{table}"):     # `main.x` may bind to a temp table x: ask the catalog
        return bool(con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = $t "
                                "AND database_name = current_database()", {"t": table}).fetchone()[0])
    return True


def is_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Whether the schema-qualified `name` (code constants only) is a base table: the binder
    resolves it to a table (a view binds as a query), without listing the catalog -
    duckdb_tables() costs about five times as much, and a write asks some twenty times."""
    try:
        return con.table(name).type == "TABLE_RELATION"
    except duckdb.Error:          # no such table (or a view that no longer binds)
        return False


def prepare(con: duckdb.DuckDBPyConnection, source: str) -> None:
    """Create the pending delta tables of `source`'s summaries (and the months table) before
    a write's transaction opens (the loader calls it outside the file's transaction).

    DuckDB 2.0.0 loses the rows of a temporary table *created* inside a transaction and filled
    there with more than a row group (122,880 rows): after the commit a scan of it returns
    nothing (count(*) still says how many). A pending delta is read by `flush`, after the file's
    commit, so one created by a file whose delta has more groups than that (a 440k-row export
    of new cases into the 10M demo) vanished: grid_daily missed the whole file. Created
    beforehand, the table only takes the rows inside the transaction, which is safe (and a
    refused file's rows still roll back)."""
    from etl.marts import appended
    con.execute(_MONTHS_DDL)
    models = [m for m in summaries(source) if exists(con, m.name)]
    if any(appended.is_appended(m.name) for m in models):
        appended.prepare(con)
    for m in models:
        if not appended.is_appended(m.name):
            _create_pending(con, m)


def _create_pending(con: duckdb.DuckDBPyConnection, m) -> None:
    """Summary `m`'s pending delta table, empty, if this connection has none yet."""
    con.execute(_PENDING_DDL.format(pending=_pending(m), summary=m.name))


def note(con: duckdb.DuckDBPyConnection, source: str, relation: str, sign: int,
         models: list | None = None) -> None:
    """Add to each summary of `source` (or of `models`, those of its summaries) the
    contributions of the rows of `relation` (columns of `source`) with `sign` +1 (rows
    written) or -1 (rows superseded), and note the months they fall in. A summary of
    appended.APPENDED takes them as rows of its own at once; the others collect them in a
    pending delta that `flush` merges, once per command. Runs in the caller's transaction: a
    refused file undoes it."""
    from etl.marts import appended
    from etl.storage import PARTITIONED
    if models is None:
        models = [m for m in summaries(source) if exists(con, m.name)]
    if not models:
        return          # the first build creates them whole
    time_col = PARTITIONED[source].time
    con.execute(_MONTHS_DDL)
    con.execute(_NOTE_MONTHS.format(months=MONTHS_TABLE, time=time_col, relation=relation), {"t": source})
    for m in models:
        rows = signed_rows(con, m, relation, sign)
        if appended.is_appended(m.name):
            appended.appended(con, m.name, rows)
            continue
        # made by `prepare` before the transaction (see there); here only for other callers
        _create_pending(con, m)
        # appended as is: the command's deltas are summed once, by `flush`
        con.execute(_NOTE_ROWS.format(pending=_pending(m), rows=rows))


def signed_rows(con: duckdb.DuckDBPyConnection, m, relation: str, sign: int) -> str:
    """The contributions of the rows of `relation` to summary `m`, every count times `sign`."""
    contributions = contributions_sql(m, relation)
    if int(sign) == 1:       # the contributions as they are (no lambda over every list)
        return _ROWS.format(signed="*", contributions=contributions)
    keys, sums, lists = columns(con, m.name)
    signed = ", ".join([*keys, *(f"{int(sign)} * {c} AS {c}" for c in sums),
                        *(f"list_transform({c}, lambda x: {int(sign)} * x) AS {c}" for c in lists)])
    return _ROWS.format(signed=signed, contributions=contributions)


def note_months(con: duckdb.DuckDBPyConnection, source: str, months: set[date]) -> None:
    """Note `months` of `source` as changed and taken into its summaries (see `covered`)."""
    con.execute(_MONTHS_DDL)
    con.execute(_NOTE_MONTH_LIST.format(months=MONTHS_TABLE), {"t": source, "m": sorted(months)})


def _pending(m) -> str:
    """The temporary table holding summary `m`'s delta of this command, not yet merged."""
    return f"etl_marts_pending_{m.name}"


def flush(con: duckdb.DuckDBPyConnection) -> None:
    """Merge every summary's pending delta (the sum of this command's writes) into the
    summary: one merge per summary and command, not one per file."""
    from etl.marts import MODELS, model
    for m in map(model, MODELS):
        if m.kind != "table" or not temp_exists(con, _pending(m)):
            continue
        pending = f"temp.{_pending(m)}"
        if exists(con, m.name):
            _merge(con, m, _summed(con, m, pending))
        con.execute(_DROP.format(table=pending))


def _summed(con: duckdb.DuckDBPyConnection, m, pending: str) -> str:
    """The rows of `pending` (signed contributions, a group possibly several times) summed
    into one row per group of the summary's grain; a count list element by element (its
    length is the SLA horizon, the same for every row while the seeded rules stay the same:
    a change of them rebuilds every summary).

    Most groups are noted once (a command's files mostly hold different days): those rows are
    already their group's sum and pass through as they are; only the groups noted more than
    once are aggregated (the element-wise list sums were most of the cost of this step)."""
    keys, sums, lists = columns(con, m.name)
    typed = types(con, m.name)
    by = ", ".join(keys)
    counted = [*keys, *(f"CAST(sum({c}) AS {typed[c]}) AS {c}" for c in sums)]
    if not lists:   # fund_daily, grid_resolution_monthly: plain sums, nothing to spare
        return f"SELECT {', '.join(counted)} FROM {pending} GROUP BY {by}"
    sizes = lengths(con, pending, lists)
    summed = [f"{elements(n, lambda i, c=c: f'coalesce(sum({c}[{i}]), 0)::BIGINT')} AS {c}"
              for c, n in zip(lists, sizes)]
    on = " AND ".join(f"p.{k} IS NOT DISTINCT FROM r.{k}" for k in keys)
    return (f"WITH r AS MATERIALIZED (SELECT {by} FROM {pending} GROUP BY {by} HAVING count(*) > 1) "
            f"SELECT p.* FROM {pending} p ANTI JOIN r ON {on} "
            f"UNION ALL BY NAME SELECT {', '.join([*counted, *summed])} "
            f"FROM (SELECT p.* FROM {pending} p SEMI JOIN r ON {on}) GROUP BY {by}")


def elements(n: int, element) -> str:
    """A BIGINT[] of n elements, element(i) for i = 1..n (written out: no lambda per row)."""
    return f"[{', '.join(element(i) for i in range(1, n + 1))}]::BIGINT[]"


def lengths(con: duckdb.DuckDBPyConnection, relation: str, lists: list[str]) -> tuple:
    """The length of each count list of `relation` (its longest; 0 when it has no rows)."""
    if not lists:
        return ()
    longest = ", ".join(f"coalesce(max(len({c})), 0)" for c in lists)
    return con.execute(_LENGTHS.format(lengths=longest, relation=relation)).fetchone()


def _merge(con: duckdb.DuckDBPyConnection, m, contributions: str) -> None:
    """Add the rows of `contributions` (signed, unique by the summary's grain) to summary `m`:
    the groups they touch are replaced by the sums, groups whose counts all fall to zero are
    removed. Row by row, no aggregate over the summary: a delta is as many rows as the groups
    it touches, and only those are rewritten. Groups of months the summary does not hold yet
    (a load into a new month) are simply inserted."""
    keys, sums, lists = columns(con, m.name)
    same = " AND ".join(f"s.{k} IS NOT DISTINCT FROM d.{k}" for k in keys)
    alive = " OR ".join(f"{c} <> 0" for c in sums)
    con.execute(_NOTE_TABLE.format(contributions=contributions))
    # a stored group's lists and the delta's have the same length (the SLA horizon): added
    # element by element, written out (a lambda over list_zip cost a third of the merge)
    sizes = lengths(con, "temp.etl_marts_note", lists)
    summed = ", ".join(["s._rid", *(f"d.{k}" for k in keys),
                        *(f"coalesce(s.{c}, 0) + d.{c} AS {c}" for c in sums),
                        *(f"CASE WHEN s.{c} IS NULL THEN d.{c} "
                          f"ELSE {elements(n, lambda i, c=c: f's.{c}[{i}] + d.{c}[{i}]')} END AS {c}"
                          for c, n in zip(lists, sizes))])
    con.execute(_MERGED.format(summed=summed, summary=m.name, month=m.month_column, same=same))
    con.execute(_DELETE_MERGED.format(summary=m.name))
    con.execute(_INSERT_MERGED.format(summary=m.name, alive=alive))
    con.execute("DROP TABLE temp.etl_marts_merged")
    con.execute("DROP TABLE temp.etl_marts_note")


def covered(con: duckdb.DuckDBPyConnection, source: str) -> set[date]:
    """The months of `source` whose changes this connection merged into the summaries."""
    if not temp_exists(con, MONTHS_TABLE):
        return set()
    return {r[0] for r in con.execute(_COVERED.format(months=MONTHS_TABLE), {"t": source}).fetchall()}


def temp_exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    return is_table(con, f"temp.{table}")


def up_to_date(con: duckdb.DuckDBPyConnection, m, months: list[date]) -> bool:
    """Whether summary `m` already holds this connection's changes of `months` (every one
    merged by `note`); False: the caller rebuilds those months from the records."""
    return set(months) <= covered(con, m.source)


def clear(con: duckdb.DuckDBPyConnection) -> None:
    """Forget the noted months (after a build used them or rebuilt the summaries)."""
    con.execute(_DROP.format(table=f"temp.{MONTHS_TABLE}"))
    con.execute(_DROP.format(table="temp.etl_marts_appended"))   # appended.after_load's budget
    from etl.marts import appended
    appended.forget_deferred(con)
    from etl.marts import MODELS, model
    for m in map(model, MODELS):
        if m.kind == "table":
            con.execute(_DROP.format(table=f"temp.{_pending(m)}"))


@contextlib.contextmanager
def tracking(con: duckdb.DuckDBPyConnection, table: str, source: str) -> Iterator[None]:
    """Around `etl.storage.upsert(con, table, source, ...)`: the summaries of `table` (none
    for a table no summary reads) take the rows it writes (+) and the stored rows it
    supersedes (-). The appended summaries (etl/marts/appended.py) only note the files it
    wrote and the (file, key) pairs it superseded, in the write's transaction, and take the
    whole command's delta at its end (`appended.apply_deferred`, from etl.marts.build). The
    others take the delta now: the superseded rows are the (file, key) pairs the upsert leaves
    in temp.etl_superseded, read from those files (immutable, and kept until garbage
    collection even when the write's compaction took them out of the manifest)."""
    from etl import storage
    from etl.marts import SEEDS, appended
    if (not storage.is_partitioned(con, table) or not any(exists(con, m.name) for m in summaries(table))
            or not all(exists(con, s) for s in SEEDS)):
        # no summary yet or none reads this table; or a catalog from before the seeded rules:
        # the build then makes every summary whole
        yield
        return
    yield
    models = [m for m in summaries(table) if exists(con, m.name)]
    if any(appended.is_appended(m.name) for m in models):
        appended.defer(con, table)
    merged = [m for m in models if not appended.is_appended(m.name)]
    if not merged:
        return
    key = storage.PARTITIONED[table].key
    paths = [r[0] for r in con.execute("SELECT DISTINCT path FROM temp.etl_superseded ORDER BY 1").fetchall()]
    if paths:
        con.execute(_SUPERSEDED.format(columns=", ".join(named_columns(table, merged)), key=key), {"files": paths})
        note(con, table, "temp.etl_marts_superseded", -1, merged)
        con.execute("DROP TABLE temp.etl_marts_superseded")
    note(con, table, source, +1, merged)
