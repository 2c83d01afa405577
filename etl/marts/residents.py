"""participation_residents (etl/marts/participation_residents.sql): one row per (community,
resident) with the sorted days of the resident's tasks there, for the concentration of tasks.

A row spans months, so this summary is not one of MODELS' month-grained tables (their delta adds
counts per month): `build` makes it whole when `changed` is None or the table is missing (a
catalog from before it: its next write, `python -m etl marts --rebuild`, migrate-storage), and
otherwise refreshes the months of `participation` that changed: every row with a task in those
months keeps its days outside them and takes those months' days from the records again; rows
left without a day are removed. That reads only the changed months' records (their Parquet
parts) and the summary's rows active in them, and gives exactly what a whole build gives
(tests/test_marts_residents.py compares the two with EXCEPT ALL both ways).
"""
from __future__ import annotations

from pathlib import Path

import duckdb

from etl.storage import next_month

TABLE = "participation_residents"
SOURCE = "participation"
_BODY = (Path(__file__).resolve().parent / f"{TABLE}.sql").read_text(encoding="utf-8")
_MARKER = "/* months */"
# the changed months' records only (a time range first, so other months' parts are skipped)
_MONTHS = ("where occurred_on >= $first_on and occurred_on < $end_on"
           " and date_trunc('month', occurred_on)::DATE IN (SELECT unnest($months))")
_IN_MONTHS = "list_contains($months, date_trunc('month', d)::DATE)"

WHOLE = f"CREATE OR REPLACE TABLE {TABLE} AS\n" + _BODY.replace(_MARKER, "")
FRESH = "CREATE OR REPLACE TEMP TABLE etl_residents_fresh AS\n" + _BODY.replace(_MARKER, _MONTHS)
# stored rows with a task in the changed months, or whose resident has a task there now
TOUCHED = f"""
    CREATE OR REPLACE TEMP TABLE etl_residents_old AS
    SELECT s.* FROM main.{TABLE} s
    WHERE (s.last_on >= $first_on AND s.first_on < $end_on
           AND len(list_filter(s.task_days, lambda d: {_IN_MONTHS})) > 0)
       OR (s.community, s.resident_pseudonym) IN (SELECT (f.community, f.resident_pseudonym)
                                                  FROM temp.etl_residents_fresh f)"""
MERGED = f"""
    CREATE OR REPLACE TEMP TABLE etl_residents_merged AS
    WITH joined AS (
        SELECT coalesce(o.community, f.community) AS community,
               coalesce(o.resident_pseudonym, f.resident_pseudonym) AS resident_pseudonym,
               list_sort(list_concat(
                   coalesce(list_filter(o.task_days, lambda d: NOT {_IN_MONTHS}), []::DATE[]),
                   coalesce(f.task_days, []::DATE[]))) AS task_days
        FROM temp.etl_residents_old o FULL JOIN temp.etl_residents_fresh f
          ON o.community = f.community AND o.resident_pseudonym = f.resident_pseudonym)
    SELECT community, resident_pseudonym, task_days[1] AS first_on, task_days[-1] AS last_on,
           len(task_days)::BIGINT AS tasks, task_days
    FROM joined WHERE len(task_days) > 0"""
REPLACE = (f"DELETE FROM main.{TABLE} s USING temp.etl_residents_old o WHERE s.community = o.community"
           " AND s.resident_pseudonym = o.resident_pseudonym",
           f"INSERT INTO main.{TABLE} BY NAME SELECT * FROM temp.etl_residents_merged")
DROP = tuple(f"DROP TABLE IF EXISTS temp.{t}"
             for t in ("etl_residents_fresh", "etl_residents_old", "etl_residents_merged"))


def _present(con: duckdb.DuckDBPyConnection) -> tuple[bool, bool]:
    """Whether SOURCE and TABLE are tables or views of this catalog's main schema (participation
    is a view over Parquet parts), in one look at the catalog."""
    return tuple(map(bool, con.execute(
        "SELECT count(*) FILTER (table_name = $s), count(*) FILTER (table_name = $t) "
        "FROM information_schema.tables WHERE table_catalog = current_database() "
        "AND table_schema = 'main' AND table_name IN ($s, $t)", {"s": SOURCE, "t": TABLE}).fetchone()))


def build(con: duckdb.DuckDBPyConnection, changed: dict[str, set] | None = None) -> None:
    """Make participation_residents match the records: whole (changed None, or no table yet),
    else refresh the months of `participation` in `changed` (none: left alone)."""
    source, table = _present(con)
    if not source:
        return
    if changed is None or not table:
        con.execute(WHOLE)
        return
    months = sorted(changed.get(SOURCE) or ())
    if not months:
        return
    bound = {"months": months, "first_on": months[0], "end_on": next_month(months[-1])}
    try:
        con.execute(FRESH, bound)
        con.execute(TOUCHED, bound)
        con.execute(MERGED, {"months": months})
        for statement in REPLACE:
            con.execute(statement)
    finally:
        for statement in DROP:
            con.execute(statement)
