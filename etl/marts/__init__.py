"""The marts layer: business rules as SQL in the database, so pages, console and briefing agree.

One model per SQL file (dbt style: CTEs ending in `select * from final`). The second line of
each file says how it is built:

    -- materialized: view                         -> CREATE OR REPLACE VIEW <name> AS <body>
    -- materialized: macro <name>(<parameters>)   -> CREATE OR REPLACE MACRO ... AS TABLE <body>
    -- materialized: table by <month column> from <source table>
                                                  -> a table holding <body>'s rows, rebuilt
                                                     month by month (summary marts)

Views and table macros cost nothing to build (no data is copied). Summary tables are where a
full scan is the cost at 10M reports and 5M messages (grid_daily, feedback_daily) or where a
small ledger kept in Parquet parts would be read and joined by every query (fund_daily): they
are written at load time. A load
adds each write's delta to them as it writes (etl/marts/delta.py: appended as rows of their own
to the summaries read only through sums, compacted lazily, etl/marts/appended.py; merged into
the others). `build(con, changed)`
runs at the end of every write of the database file (etl.dbfile.writer: every load, every
`python -m etl painpoints`). `changed` is None (rebuild everything) or {source table:
{first-of-month dates whose rows changed}}; a summary table is then left alone when those
months' deltas were merged, else rebuilt for the changed months of its source only (delete +
insert), and left alone when its source did not change; a summary that copies columns of
another table (LOOKUPS: fund_daily carries its project's community, name and category) is
rebuilt whole when those columns changed since its last build. Before the models it re-seeds the rule tables:
`sla_rules` from etl/seeds/sla_rules.csv, `named_codes` and `warning_rules` from etl/codes.py;
when a seeded rule changed, every summary table is rebuilt whole. A write rewrites the rule
tables only when their rows or DDL differ from what the files and code say, and creates the
views, macros and functions again only when the statements that make them (or schema.sql)
changed since the catalog's last build or a view is missing (etl_meta `marts_ddl`); a full
rebuild (`changed` None) rewrites them all. Columns are documented in
docs/SCHEMA.md ("Marts"); the KPIs over them in docs/METRICS.md.
"""
from __future__ import annotations

import contextlib
import functools
import os
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

from etl import codes
from etl.seeds import DEFAULT_CATEGORY, read_sla_rules
from etl.dbfile import letters_digest, schema_fingerprint
from etl.storage import next_month
from etl.marts import appended, delta, residents

MARTS_DIR = Path(__file__).resolve().parent
# dependency order: a model only reads tables, seeds and models listed before it
MODELS = ("grid_cases", "grid_cases_at", "grid_daily", "fund_flows", "fund_daily",
          "project_status", "feedback_enriched", "feedback_daily",
          "grid_resolutions", "grid_resolution_monthly")
SEEDS = ("sla_rules", "named_codes", "warning_rules")
# scalar macros the marts' readers share (created before the models)
FUNCTIONS = {
    # an element of a grid_daily count list (sla_due_by, sla_met_by) at the end of day as_of:
    # element k counts at the end of day_on + k - 1, the last one for every later day
    "count_at": "CREATE OR REPLACE MACRO count_at(counts, day_on, as_of) AS"
                " counts[least(date_diff('day', day_on, as_of) + 1, len(counts))]",
    # grid_resolution_monthly's duration bucket of a case resolved in `hours`: 0 up to a
    # minute, then 8 buckets per doubling, the last (159) for everything from ~1.8 years;
    # unsigned, so the summary delta reads it as part of the grain, not as a count
    "resolution_bucket": "CREATE OR REPLACE MACRO resolution_bucket(hours) AS"
                         " least(159, greatest(0, floor(8 * log2(greatest(hours * 60, 1)))))::UTINYINT",
}

MONTHS_MARKER = "/* months */"
# source table -> the WHERE a month-by-month rebuild puts at the body's MONTHS_MARKER
_MONTHS_FILTER = {
    "grid_reports": "where reported_at >= $first_on and reported_at < $end_on"
                    " and date_trunc('month', reported_at)::DATE IN (SELECT unnest($months))",
    "feedback": "where submitted_at >= $first_on and submitted_at < $end_on"
                " and date_trunc('month', submitted_at)::DATE IN (SELECT unnest($months))",
    "fund_transactions": "where txn_on >= $first_on and txn_on < $end_on"
                         " and date_trunc('month', txn_on)::DATE IN (SELECT unnest($months))",
}
# summary table -> (table, columns) it copies besides its source's: when those columns change
# (a projects load renames a project or moves it to another community) the summary is rebuilt
# whole, since its source did not change and no month would be rebuilt
LOOKUPS = {"fund_daily": ("projects", ("project_id", "name", "street", "community", "category"))}
LOOKUP_KEY = "marts_lookup_{}"   # etl_meta: the fingerprint of a LOOKUPS table at the last build
_HEADER = re.compile(r"^-- materialized: (view|macro (\w+)\(([^)]*)\)"
                     r"|table by (\w+) from (\w+))\s*$", re.M)

_SEED_DDL = {
    "sla_rules": "CREATE OR REPLACE TABLE sla_rules (category VARCHAR PRIMARY KEY,"
                 " hours INTEGER NOT NULL)",
    "named_codes": "CREATE OR REPLACE TABLE named_codes (kind VARCHAR NOT NULL,"
                   " code VARCHAR NOT NULL, position INTEGER NOT NULL,"
                   " PRIMARY KEY (kind, code))",
    "warning_rules": "CREATE OR REPLACE TABLE warning_rules (rule VARCHAR PRIMARY KEY,"
                     " threshold DOUBLE NOT NULL)",
}
_SEED_INSERT = {
    "sla_rules": "INSERT INTO sla_rules SELECT unnest($categories), unnest($hours)",
    "named_codes": "INSERT INTO named_codes SELECT unnest($kinds), unnest($codes),"
                   " unnest($positions)",
    "warning_rules": "INSERT INTO warning_rules SELECT unnest($rules), unnest($thresholds)",
}


@dataclass(frozen=True)
class Model:
    name: str
    kind: str            # 'view' | 'macro' | 'table'
    parameters: str      # macro parameter list, '' otherwise
    body: str            # the SELECT (CTEs ending in select * from final)
    month_column: str = ""   # table: the column naming the month a row is rebuilt with
    source: str = ""         # table: the table whose changed months trigger the rebuild

    def ddl(self) -> str:
        if self.kind == "view":
            return f"CREATE OR REPLACE VIEW {self.name} AS\n{self.body}"
        if self.kind == "table":
            return f"CREATE OR REPLACE TABLE {self.name} AS\n{self.body}"
        return f"CREATE OR REPLACE MACRO {self.name}({self.parameters}) AS TABLE\n{self.body}"

    def refresh(self) -> tuple[str, str]:
        """(DELETE, INSERT) statements rebuilding the months in $months (table models): the
        body's `/* months */` marker becomes a filter on its source's month, with a time range
        ($first_on .. $end_on) so the scan skips row groups of other months."""
        if self.body.count(MONTHS_MARKER) != 1:
            raise ValueError(f"{self.name}.sql: a table model needs one {MONTHS_MARKER} marker")
        body = self.body.replace(MONTHS_MARKER, _MONTHS_FILTER[self.source])
        keep = f"{self.month_column} IN (SELECT unnest($months))"
        return (f"DELETE FROM {self.name} WHERE {keep}",
                f"INSERT INTO {self.name}\n{body}")


def model(name: str) -> Model:
    """The model in etl/marts/<name>.sql (name from MODELS only). Parsed once per version of
    the file (a load asks some hundred times; an edited file is read again)."""
    if name not in MODELS:
        raise ValueError(f"unknown mart {name!r}")
    st = os.stat(MARTS_DIR / f"{name}.sql")
    return _parsed(name, (st.st_ino, st.st_mtime_ns, st.st_size))


@functools.lru_cache(maxsize=256)
def _parsed(name: str, _identity: tuple) -> Model:
    text = (MARTS_DIR / f"{name}.sql").read_text(encoding="utf-8")
    header = _HEADER.search(text)
    if header is None:
        raise ValueError(f"{name}.sql: missing '-- materialized: view|macro name(params)' line")
    if header.group(2) and header.group(2) != name:
        raise ValueError(f"{name}.sql: macro is named {header.group(2)!r}")
    body = text[header.end():].strip()
    if not re.search(r"select \* from final\s*$", body):
        raise ValueError(f"{name}.sql: must end with 'select * from final'")
    if header.group(4):
        return Model(name, "table", "", body, header.group(4), header.group(5))
    kind = "view" if header.group(1) == "view" else "macro"
    return Model(name, kind, header.group(3) or "", body)


_SEEDED_SQL = {t: f"SELECT * FROM {t} ORDER BY ALL" for t in SEEDS}


def _drift_sql(name: str, rows: str | None = None) -> tuple[str, str, str, str]:
    """(keep a copy, count now, count rows that differ both ways, drop the copy) for summary
    table `name` (a name of MODELS, never data); `rows`: the SELECT the copy keeps (default
    the table as it is; an appended summary's groups summed, etl/marts/appended.py)."""
    before = f"temp.etl_marts_before_{name}"
    rows = rows or f"SELECT * FROM main.{name}"
    return (f"CREATE OR REPLACE TEMP TABLE etl_marts_before_{name} AS {rows}",
            f"SELECT count(*) FROM main.{name}",
            f"SELECT (SELECT count(*) FROM (SELECT * FROM main.{name} EXCEPT ALL SELECT * FROM {before}))"
            f" + (SELECT count(*) FROM (SELECT * FROM {before} EXCEPT ALL SELECT * FROM main.{name}))",
            f"DROP TABLE {before}")


def _seeded(con: duckdb.DuckDBPyConnection) -> list | None:
    """Every seeded rule row as it is in the file now (None before the first build)."""
    try:
        return [con.execute(_SEEDED_SQL[t]).fetchall() for t in SEEDS]
    except duckdb.CatalogException:
        return None


def _seed_values() -> dict[str, dict[str, list]]:
    """The rule tables' rows as etl/seeds/*.csv and etl/codes.py say now (bound lists)."""
    rules, default = read_sla_rules()
    return {
        "sla_rules": {"categories": [*rules, DEFAULT_CATEGORY],
                      "hours": [*rules.values(), default]},
        "named_codes": {
            "kinds": [k for k, cs in codes.NAMED_CODES.items() for _ in cs],
            "codes": [c for cs in codes.NAMED_CODES.values() for c in cs],
            "positions": [i for cs in codes.NAMED_CODES.values() for i in range(1, len(cs) + 1)]},
        "warning_rules": {"rules": list(codes.WARNING_THRESHOLDS),
                          "thresholds": [float(v) for v in codes.WARNING_THRESHOLDS.values()]},
    }


def seed(con: duckdb.DuckDBPyConnection, values: dict | None = None) -> None:
    """(Re)create the rule tables from etl/seeds/*.csv and etl/codes.py."""
    values = values or _seed_values()
    for table in SEEDS:
        con.execute(_SEED_DDL[table])
        con.execute(_SEED_INSERT[table], values[table])


def _rows(values: dict[str, dict[str, list]]) -> list[list[tuple]]:
    """`values` as the rows _seeded reads back (sorted)."""
    return [sorted(zip(*values[t].values())) for t in SEEDS]


@functools.lru_cache(maxsize=1)
def _seed_tables_sql() -> dict[str, str]:
    """How DuckDB states each rule table's DDL (duckdb_tables().sql), from a scratch database."""
    with duckdb.connect() as scratch:
        for table in SEEDS:
            scratch.execute(_SEED_DDL[table])
        return dict(scratch.execute("SELECT table_name, sql FROM duckdb_tables()").fetchall())


def _seed_ddl_current(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the rule tables are declared as this code declares them."""
    stated = dict(con.execute("SELECT table_name, sql FROM duckdb_tables() WHERE database_name = "
                              "current_database() AND schema_name = 'main' AND list_contains($t, table_name)",
                              {"t": list(SEEDS)}).fetchall())
    return stated == _seed_tables_sql()


def _exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    return delta.exists(con, table)


def build(con: duckdb.DuckDBPyConnection, changed: dict[str, set] | None = None) -> None:
    """Re-seed the rule tables and create or replace every mart, in dependency order.

    changed: None rebuilds every summary table whole; {table: {first-of-month dates}} rebuilds
    a summary table only for the changed months of its source (see the module docstring)."""
    values = _seed_values()
    before = _seeded(con)
    same_rules = before is not None and [sorted(rows) for rows in before] == _rows(values)
    # the rule tables and the views, macros and functions are rewritten only when they differ
    # from what this code states (a small load's fixed cost); a rebuild rewrites them all
    if changed is None or not same_rules or not _seed_ddl_current(con):
        seed(con, values)
        if not same_rules:
            changed = None              # a business rule changed: every summary is recomputed
    ddl_current = changed is not None and _ddl_current(con)
    if not ddl_current:
        for ddl in FUNCTIONS.values():
            con.execute(ddl)
    lookups = _lookups(con)
    stale = {name for name, now in lookups.items() if now is None or now != _stored_lookup(con, name)}
    try:
        if changed is not None:
            appended.apply_deferred(con)   # this command's writes, into the appended summaries
            delta.flush(con)        # this command's deltas, merged once
        _build_models(con, changed, stale, ddl_current)
        if changed is not None:
            appended.after_load(con)    # the appended deltas' due months made whole, within a budget
        residents.build(con, changed)   # participation_residents: by resident, not by month
    finally:
        delta.clear(con)        # used, or superseded by a rebuild: never applied twice
    _stamp(con, lookups)


# LOOKUPS summary -> the fingerprint of the columns it copies (letters only, as version())
_LOOKUP_SQL = {
    name: "SELECT translate(md5(coalesce(string_agg(r, chr(10) ORDER BY r), '')), '0123456789',"
          f" 'ghijklmnop') FROM (SELECT to_json(struct_pack({', '.join(cols)}))::VARCHAR AS r FROM {table})"
    for name, (table, cols) in LOOKUPS.items()}


def _lookups(con: duckdb.DuckDBPyConnection) -> dict[str, str | None]:
    """LOOKUPS summary -> the fingerprint of the columns it copies as they are now (None: no
    such table yet)."""
    out: dict[str, str | None] = {}
    for name, query in _LOOKUP_SQL.items():
        try:
            out[name] = con.execute(query).fetchone()[0]
        except duckdb.CatalogException:
            out[name] = None
    return out


def _stored_lookup(con: duckdb.DuckDBPyConnection, name: str) -> str | None:
    """The fingerprint summary `name` was last built with (None: unknown, so it is rebuilt)."""
    try:
        row = con.execute("SELECT value FROM etl_meta WHERE key = $k",
                          {"k": LOOKUP_KEY.format(name)}).fetchone()
    except duckdb.CatalogException:
        return None
    return row[0] if row else None


VERSION_KEY = "marts_version"   # etl_meta: the models the summaries were last made with


def version() -> str:
    """A fingerprint of every model's SQL (a changed model changes it)."""
    # participation_residents: built by etl/marts/residents.py
    return letters_digest(b"".join(name.encode() + b"\0" + (MARTS_DIR / f"{name}.sql").read_bytes() + b"\0"
                                   for name in (*MODELS, residents.TABLE)))


def _stamp(con: duckdb.DuckDBPyConnection, lookups: dict[str, str | None]) -> None:
    """Note in etl_meta that the summaries now match the records by these models, the LOOKUPS
    columns they were built with and the views as built (each written only when it changed)."""
    with contextlib.suppress(duckdb.CatalogException):   # a bare connection (tests) has no etl_meta
        want = {VERSION_KEY: version(), DDL_KEY: _ddl_state(con),
                **{LOOKUP_KEY.format(name): value for name, value in lookups.items()}}
        want = {k: v for k, v in want.items() if v is not None}
        held = dict(con.execute("SELECT key, value FROM etl_meta WHERE list_contains($k, key)",
                                {"k": list(want)}).fetchall())
        for key, value in want.items():
            if held.get(key) != value:
                con.execute("INSERT OR REPLACE INTO etl_meta VALUES ($k, $v)", {"k": key, "v": value})


def current(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether this catalog's summaries were made by the models of this code (a catalog kept
    by a build of the same models holds summaries that match its records)."""
    try:
        row = con.execute("SELECT value FROM etl_meta WHERE key = $k", {"k": VERSION_KEY}).fetchone()
    except duckdb.CatalogException:
        return False
    return row is not None and row[0] == version()


DDL_KEY = "marts_ddl"   # etl_meta: the views, macros and functions as last created (_ddl_state)
_VIEWS_SQL = ("SELECT view_name, sql FROM duckdb_views() WHERE database_name = current_database()"
              " AND schema_name = 'main' AND list_contains($views, view_name) ORDER BY view_name")


def ddl_version() -> str:
    """A fingerprint of every statement build() creates views, macros and functions with, of
    the models (a table model's columns are what they read) and of etl/schema.sql (the columns
    of the tables under them): the views are created again when any of them changes."""
    return letters_digest("\0".join([*FUNCTIONS.values(), version(), schema_fingerprint()]).encode())


def _ddl_state(con: duckdb.DuckDBPyConnection) -> str | None:
    """ddl_version() together with the views as the catalog holds them now (None: a view is
    missing)."""
    views = sorted(m.name for m in map(model, MODELS) if m.kind == "view")
    held = con.execute(_VIEWS_SQL, {"views": views}).fetchall()
    if len(held) != len(views):
        return None
    return letters_digest("\0".join([ddl_version(), *(f"{name}\0{text}" for name, text in held)]).encode())


def _ddl_current(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the catalog's views, macros and functions are those this code creates: its
    etl_meta holds the state the last build left (same statements, and every view as that
    build created it; a view dropped or replaced by hand, or a file from before a view
    existed, gets them all created again). A macro is trusted to be as its build left it
    (listing macros costs more than creating them; nothing but build() creates or drops one)."""
    try:
        row = con.execute("SELECT value FROM etl_meta WHERE key = $k", {"k": DDL_KEY}).fetchone()
    except duckdb.CatalogException:
        return False
    return row is not None and row[0] == _ddl_state(con)


def _build_models(con: duckdb.DuckDBPyConnection, changed: dict[str, set] | None,
                  stale: set[str] = frozenset(), ddl_current: bool = False) -> None:
    """stale: summaries whose LOOKUPS columns changed (rebuilt whole); ddl_current: the views
    and macros are those of this code (_ddl_current), not created again."""
    for name in MODELS:
        m = model(name)
        if m.kind != "table" and ddl_current:
            continue
        if m.kind != "table" or changed is None or m.name in stale or not _exists(con, m.name):
            con.execute(m.ddl())
            if appended.is_appended(m.name):
                appended.mark_whole(con, m.name)
            continue
        months = sorted(changed.get(m.source) or ())
        if months and not delta.up_to_date(con, m, months):   # merged by the load, else rebuilt
            delete, insert = m.refresh()
            con.execute(delete, {"months": months})
            con.execute(insert, {"months": months, "first_on": months[0],
                                 "end_on": next_month(months[-1])})
            if appended.is_appended(m.name):
                appended.mark_whole(con, m.name, months)


def rebuild(db) -> dict[str, tuple[int, int]]:
    """`python -m etl marts --rebuild`: every mart rebuilt whole from the records (drift
    repair, e.g. after a catalog was edited by hand; or a catalog from before a summary
    existed), as one write of the database (swapped in atomically; the catalog it replaces is
    kept as a version). Returns summary table -> (rows now, rows that differed from what it
    held before: the drift repaired; every row of a summary the catalog did not have)."""
    from etl.dbfile import writer
    out: dict[str, tuple[int, int]] = {}
    with writer(db, compact=True) as con:    # the replaced summaries' blocks are not kept
        summaries = [*(m.name for m in map(model, MODELS) if m.kind == "table"), residents.TABLE]
        held = [name for name in summaries if _exists(con, name)]
        # names from MODELS only; an appended summary is compared group by group (its groups
        # may span several rows until compacted: that is not drift)
        drift_sql = {name: _drift_sql(name, appended.grouped_sql(con, name, f"main.{name}")
                                      if name in held and appended.is_appended(name) else None)
                     for name in summaries}
        for name in held:
            con.execute(drift_sql[name][0])
        build(con)            # changed=None: every summary recomputed from the records
        for name in summaries:
            _, count_now, differ, drop = drift_sql[name]
            now = con.execute(count_now).fetchone()[0]
            if name in held:
                drift = con.execute(differ).fetchone()[0]
                con.execute(drop)
            else:
                drift = now
            out[name] = (now, drift)
    return out
