"""Stage: raw text columns -> typed, validated, masked rows + rejects, in vectorised SQL.

One column spec per entity says how each canonical column is typed (the types, their words
and the SQL that types a cell: etl/stage_typing.py). `stage_sql` builds the statements that
turn a raw table (`_raw`: canonical text columns + `_row`, the 1-based spreadsheet row) into
`_clean` (one row per key, the last occurrence wins) and `_errors` (row, column, reason).
Values are bound parameters; column names come from the specs.

`stage(kind, df)` is the pure entry for tests: DataFrame in, (clean, rejects) out.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

import duckdb

from etl.pii import mask_list_sql
# the column types, their vocabularies and the typing SQL, importable from here as before
# (etl/stage_participation.py and the tests use stage.<name>)
from etl.stage_typing import (  # noqa: F401
    BOOL, BOOL_WORDS, DATE, DATE_FORMATS, DIRECTION, ENUM, FIVE_SOCIETIES, ID, INT, MONEY, NUMBER,
    PARTY_TYPE, PCT, PSEUDO, RATING, RATING_WORDS, STAGE, STATUS, TEXT, TS, Col, _blank_trimmed,
    _typed)

if TYPE_CHECKING:       # stage() takes a frame; a load types its files in DuckDB without pandas
    import pandas as pd


SPECS: dict[str, tuple[Col, ...]] = {
    "grid_reports": (
        Col("report_id", ID, True), Col("reported_at", TS, True), Col("street"),
        Col("community", TEXT, True), Col("grid_id", ID, True), Col("reporter"),
        Col("category", TEXT, True), Col("subcategory"), Col("description"),
        Col("location_text"), Col("responsible_party"),
        Col("status", ENUM, True, enum=STATUS), Col("resolved_at", TS), Col("satisfaction", RATING)),
    "projects": (
        Col("project_id", ID, True), Col("name", TEXT, True), Col("street"),
        Col("community", TEXT, True), Col("category", TEXT, True), Col("lead_party", TEXT, True),
        Col("lead_party_type", ENUM, True, enum=PARTY_TYPE), Col("partner_parties"),
        Col("stage", ENUM, True, enum=STAGE), Col("planned_start_on", DATE),
        Col("planned_end_on", DATE), Col("actual_start_on", DATE), Col("actual_end_on", DATE),
        Col("budget_yuan", MONEY), Col("progress_pct", PCT), Col("last_updated_at", TS),
        Col("archived", BOOL), Col("beneficiaries", INT), Col("volunteer_count", INT),
        Col("keywords")),
    "project_milestones": (
        Col("project_id", ID, True), Col("milestone", TEXT, True), Col("planned_on", DATE, True),
        Col("done_on", DATE)),
    "fund_transactions": (
        Col("txn_id", ID, True), Col("txn_on", DATE, True), Col("project_id", ID, True),
        Col("direction", ENUM, True, enum=DIRECTION), Col("source_type"), Col("source_name"),
        Col("expense_category"), Col("amount_yuan", MONEY, True), Col("note")),
    "feedback": (
        Col("feedback_id", ID), Col("submitted_at", TS, True), Col("street"), Col("community"),
        Col("grid_id", ID), Col("channel"), Col("subject"), Col("text", TEXT, True),
        Col("rating", RATING), Col("likes", INT), Col("resident_id", PSEUDO), Col("reply"),
        Col("replied_at", TS)),
}
KEYS: dict[str, tuple[str, ...]] = {
    "grid_reports": ("report_id",), "projects": ("project_id",),
    "project_milestones": ("project_id", "milestone"), "fund_transactions": ("txn_id",),
    "feedback": ("feedback_id",),
}

_REASON = {TS: "unparseable date", DATE: "unparseable date", MONEY: "unparseable amount", NUMBER: "not a number",
           PCT: "unparseable percentage", INT: "not a whole number", RATING: "rating must be 1-5",
           BOOL: "not a yes/no value", ENUM: "unknown {col} value"}


def _row_rules(kind: str) -> list[tuple[str, str, str]]:
    """(column, reason, SQL condition over typed columns that makes the row invalid)."""
    rules = {
        "grid_reports": [("resolved_at", "resolved before reported", "resolved_at < reported_at")],
        "projects": [
            ("planned_end_on", "planned end before planned start", "planned_end_on < planned_start_on"),
            ("budget_yuan", "negative amount", "budget_yuan < 0"),
            ("progress_pct", "progress must be 0-100", "progress_pct NOT BETWEEN 0 AND 100"),
            ("beneficiaries", "negative count", "beneficiaries < 0"),
            ("volunteer_count", "negative count", "volunteer_count < 0")],
        "project_milestones": [("project_id", "unknown project id",
                                "NOT list_contains($known_projects, project_id)")],
        "fund_transactions": [
            ("amount_yuan", "negative amount", "amount_yuan < 0"),
            ("project_id", "unknown project id", "NOT list_contains($known_projects, project_id)")],
        "feedback": [("likes", "negative count", "likes < 0"),
                     ("replied_at", "replied before submitted", "replied_at < submitted_at")],
    }
    return rules[kind] if kind in rules else _sp.row_rules(kind)


def params(kind: str, salt: str = "", known_projects: list[str] | None = None,
           context: dict | None = None) -> dict:
    """The bound values the staging SQL of `kind` uses."""
    out: dict = {}
    for col in SPECS[kind]:
        if col.type == ENUM:
            keys = list(col.enum)
            out[f"enum_{col.name}_keys"] = [k.lower() for k in keys]
            out[f"enum_{col.name}_vals"] = [col.enum[k] for k in keys]
        elif col.type == RATING:
            out["rating_keys"], out["rating_vals"] = list(RATING_WORDS), list(RATING_WORDS.values())
        elif col.type == BOOL:
            out["bool_keys"], out["bool_vals"] = list(BOOL_WORDS), list(BOOL_WORDS.values())
    if kind in ("project_milestones", "fund_transactions"):
        out["known_projects"] = list(known_projects or [])
    if kind == "feedback":
        out["salt"] = salt
    if kind in _sp.SPECS:   # participation kinds: reference lists from `context`
        out.update(_sp.params(kind, salt, known_projects, context))
    return out


def _checks(kind: str) -> list[tuple[str, str, str]]:
    """(column, reason, SQL condition over _typed that makes the row invalid), in report order."""
    checks = []
    for c in SPECS[kind]:
        if c.type in (TEXT, ID, PSEUDO):   # text cannot fail to parse; blank is NULL after trimming
            if c.required:   # a required resident identifier is checked through its pseudonym
                checks.append((c.name, "missing value", f"{_out(c)} IS NULL"))
            continue
        raw = f"NULLIF(trim(_raw_{c.name}), '')"
        reason = _REASON.get(c.type, "invalid value").format(col=c.name.replace("_", " "))
        # every check opens with `typed IS NULL` (cheap, rarely true): the trim of the raw cell
        # runs only for those rows. A blank cell always types to NULL.
        checks.append((c.name, reason, f"{c.name} IS NULL AND {raw} IS NOT NULL"))
        if c.required:
            checks.append((c.name, "missing value", f"{c.name} IS NULL AND {raw} IS NULL"))
        if c.type in (TS, DATE):
            checks.append((c.name, "date out of range 1990-2100",
                           f"NOT ({c.name} BETWEEN TIMESTAMP '1990-01-01' AND TIMESTAMP '2100-12-31')"))
    return checks + _row_rules(kind)


def _errors_sql(kind: str) -> str:
    """One scan finds the invalid rows; only those few are expanded to (row, column, reason)."""
    checks = _checks(kind)
    # a plain OR in a WHERE (NULL counts as false): DuckDB then skips the rows already found
    any_bad = " OR ".join(f"({cond})" for _, _, cond in checks)
    parts = [f"SELECT _row, '{col}' AS column_name, '{reason}' AS reason FROM _bad WHERE {cond}"
             for col, reason, cond in checks]
    return (f"CREATE OR REPLACE TEMP TABLE _errors AS WITH _bad AS MATERIALIZED "
            f"(SELECT * FROM _typed WHERE {any_bad})\n" + "\nUNION ALL ".join(parts))


def stage_sql(kind: str, source: str = "_raw", first_row: int = 2, keep: tuple[str, ...] = (),
              typed_all: str = "_typed_all", prestaged: bool = False, mask_once: bool = False) -> list[str]:
    """Statements: source -> _typed_all/_typed -> _errors (row, column, reason).

    `typed_all`: the table of typed rows (a temporary `_typed_all`, or the loader's table made
    in the background by `prestage_sql`); `prestaged`: that table exists already, so only the
    statements after it run. `mask_once`: the text columns are masked by one expression (for a
    small file, see `masks_once`).

    `source` yields the canonical text columns in file order, and the columns named in `keep`
    (the loader's `_x<i>` names for unmapped headers), which pass through untouched so a
    rejected row's whole record can be shown without reading the file again. No window
    function runs over the typing (it would serialise it): a fresh temp table's rowid keeps
    file order, so rowid gives the spreadsheet row (`_row`; `first_row` is the first data
    row's, 2 unless title rows sit above the header). `_clean` follows from `clean_sql`.
    """
    cols = SPECS[kind]
    typed_all = typed_table(typed_all)
    # blank spreadsheet rows are skipped, not rejected (typed text columns are already NULLIF-trimmed)
    # an OR, not COALESCE(...) IS NOT NULL: DuckDB stops at the first non-blank cell (the key, mostly)
    nonblank = "(" + " OR ".join(
        f"{_out(c)} IS NOT NULL" if c.type in (TEXT, ID, PSEUDO) else f"NULLIF(trim(_raw_{c.name}), '') IS NOT NULL"
        for c in cols) + ")"
    if prestaged and _derive(kind):
        raise ValueError(f"{kind}: derived columns are computed in the load's transaction, not before")
    return [
        *([] if prestaged else
          [f"CREATE OR REPLACE TEMP TABLE _typed_all AS {_typed_select(kind, source, keep, mask_once)}"]),
        # inside a transaction a new table's rowids start at 2**55, hence the min()
        f"CREATE OR REPLACE TEMP VIEW _typed AS SELECT rowid - (SELECT min(rowid) FROM {typed_all}) "
        f"+ {int(first_row)} AS _row, * "   # an int computed by the loader, never file text
        f"FROM {typed_all} WHERE {nonblank}",
        *_derive(kind),
        _errors_sql(kind),
    ]


# the loader's tables of rows typed in the background (etl/load.py): `<schema>.<name>` of
# letters, digits and underscores, made by the loader, never from a file
_TYPED_TABLE = re.compile(r"(?:[a-z_][a-z0-9_]*\.)?[a-z_][a-z0-9_]*")


def typed_table(name: str) -> str:
    if not _TYPED_TABLE.fullmatch(name):
        raise ValueError(f"not a staging table name: {name!r}")
    return name


def prestageable(kind: str) -> bool:
    """Whether `kind`'s rows can be typed before the load's transaction (in the background,
    while the previous file is written): its typing reads nothing but the file and bound
    constants (salt, enum, rating and yes/no words), and no derived column is computed from
    the database's rows."""
    if _derive(kind):
        return False
    used = set(re.findall(r"\$([a-z_]+)", _typed_select(kind, "_raw", ())))
    return all(n == "salt" or n.startswith(("enum_", "rating_", "bool_")) for n in used)


def prestage_sql(kind: str, table: str, source: str = "_raw", keep: tuple[str, ...] = (),
                 mask_once: bool = False) -> str:
    """The statement typing `source` into `table` (a table of the loader's scratch database,
    made outside the load's transaction): `stage_sql(..., typed_all=table, prestaged=True)`
    then runs the rest in the transaction. Insertion order must be kept (rowid = file order)."""
    return f"CREATE OR REPLACE TABLE {typed_table(table)} AS {_typed_select(kind, source, keep, mask_once)}"


# A file of at most this many bytes of text is typed with its text columns masked by one
# expression (`mask_once`). DuckDB compiles a regex once per expression holding it: masking
# each text column on its own compiles five regexes per column (40 for grid reports, ~20 ms of
# CPU, half a small file's staging), one lambda over a list of the columns compiles them once.
# Per row the list costs more (built and taken apart again: about a tenth more CPU for the
# typing of a million rows), so a bigger file keeps one expression per column.
MASK_ONCE_BYTES = 1 << 20


def masks_once(text_bytes: int) -> bool:
    """Whether a source of `text_bytes` bytes is typed with `mask_once`."""
    return text_bytes <= MASK_ONCE_BYTES


def _typed_select(kind: str, source: str, keep: tuple[str, ...], mask_once: bool = False) -> str:
    """SELECT of the typed columns of `source`'s rows, in file order. `mask_once`: the text
    columns are masked by one lambda over a list of them (etl.pii.mask_list_sql), the same
    values as one `mask_sql` per column."""
    cols = SPECS[kind]
    # cells are trimmed once in an inner projection: the typing refers to each several times
    trimmed = ", ".join(f"{_blank_trimmed(f'_raw.{c.name}')} AS {c.name}" + (
        "" if c.type in (TEXT, ID, PSEUDO) else f", _raw.{c.name} AS _raw_{c.name}") for c in cols)
    texts = [c.name for c in cols if c.type == TEXT] if mask_once else []
    if len(texts) < 2:
        texts = []

    def typed_of(c: Col) -> str:
        if c.name in texts:
            return f"_v._masked[{texts.index(c.name) + 1}]"
        return _typed(c, f"_v.{c.name}")
    typed = ",\n  ".join(f"{typed_of(c)} AS {_out(c)}" + (
        "" if c.type in (TEXT, ID, PSEUDO) else f", _v._raw_{c.name}") for c in cols)
    passed = "".join(f", _raw.{_name(k)}" for k in keep)
    kept = "".join(f", _v.{_name(k)}" for k in keep)
    inner = f"(SELECT {trimmed}{passed} FROM {source} AS _raw)"
    if texts:
        masked = mask_list_sql([f"_t.{n}" for n in texts])
        inner = f"(SELECT *, {masked} AS _masked FROM {inner} AS _t)"
    return f"SELECT {typed}{kept}\nFROM {inner} AS _v"


def _name(column: str) -> str:
    """A pass-through column name: only the loader's generated `_x<i>` names are accepted."""
    if not (column.startswith("_x") and column[2:].isdigit()):
        raise ValueError(f"not a generated column name: {column!r}")
    return column


def dups_sql(kind: str) -> str:
    """The keys that occur more than once among the valid rows, with the row that wins (the
    last: a later line of an export is the newer state). Usually empty, so `_clean` can drop
    the losers with a small hash join instead of a window over every row."""
    keys = ", ".join(KEYS[kind])
    return (f"CREATE OR REPLACE TEMP TABLE _dups AS SELECT {keys}, max(_row) AS _keep FROM _typed "
            f"WHERE _row NOT IN (SELECT _row FROM _errors) GROUP BY {keys} HAVING count(*) > 1")


def clean_sql(kind: str, fast_path: bool = False, dedupe_needed: bool = True,
              typed_all: str = "_typed_all") -> str:
    """The view `_clean`: one valid row per key. `fast_path` when there is nothing to filter
    (no blank row, no error, no repeated key): then it reads `typed_all` as it is."""
    names = ", ".join(f"COALESCE(t.{c.name}, FALSE) AS {c.name}" if c.type == BOOL else f"t.{_out(c)}"
                      for c in SPECS[kind])
    extra = _extra_columns(kind)   # reads columns the join's other side does not have
    if fast_path:
        return f"CREATE OR REPLACE TEMP VIEW _clean AS SELECT {names}{extra} FROM {typed_table(typed_all)} AS t"
    valid = f"SELECT {names}{extra} FROM _typed AS t WHERE t._row NOT IN (SELECT _row FROM _errors)"
    if not dedupe_needed:
        return f"CREATE OR REPLACE TEMP VIEW _clean AS {valid}"
    # IS NOT DISTINCT FROM: rows whose key is NULL count as one key, as a GROUP BY does
    on = " AND ".join(f"t.{k} IS NOT DISTINCT FROM d.{k}" for k in KEYS[kind])
    return (f"CREATE OR REPLACE TEMP VIEW _clean AS {valid.replace(' WHERE ', f' LEFT JOIN _dups AS d ON {on} WHERE ', 1)} "
            f"AND (d._keep IS NULL OR t._row = d._keep)")


def _derive(kind: str) -> list[str]:
    """Columns computed from others before validation (ids, pseudonyms)."""
    if kind in _sp.SPECS:
        return _sp.derive(kind)
    if kind != "feedback":
        return []
    return [
        "UPDATE _typed_all SET feedback_id = 'H' || left(sha256(concat_ws('|', CAST(submitted_at AS VARCHAR), "
        "community, channel, text)), 15) WHERE feedback_id IS NULL",
    ]


def _extra_columns(kind: str) -> str:
    if kind == "fund_transactions":
        return ", COALESCE(source_type LIKE '%实物%', FALSE) AS in_kind"
    return ""


def target_columns(kind: str) -> list[str]:
    """Columns of `_clean` as they go into the target table."""
    names = [_out(c) for c in SPECS[kind]]
    if kind == "fund_transactions":
        names.append("in_kind")
    return names


def record_columns(kind: str, name: str) -> str | None:
    """The column of `_typed` that shows a rejected row's cell of canonical column `name` as
    the file had it: text and ids as staged (trimmed; free text already masked), other types
    as read (`_raw_<name>`); None for the resident identifier, which is never kept."""
    col = next((c for c in SPECS[kind] if c.name == name), None)
    if col is None:
        return _name(name)
    if col.type == PSEUDO:
        return None
    return col.name if col.type in (TEXT, ID) else f"_raw_{col.name}"


def _out(col: Col) -> str:
    """The column's name after staging (the resident identifier leaves as a pseudonym)."""
    return "resident_pseudonym" if col.type == PSEUDO else col.name


_COUNTS = ("SELECT (SELECT count(*) FROM _typed), (SELECT count(*) FROM {typed_all}), "
           "(SELECT count(DISTINCT _row) FROM _errors), (SELECT count(*) FROM _dups)")


def run_stage(con: duckdb.DuckDBPyConnection, kind: str, bound: dict, source: str = "_raw",
              first_row: int = 2, keep: tuple[str, ...] = (), typed_all: str | None = None,
              mask_once: bool = False) -> tuple[int, int]:
    """Run the staging statements on `con`, reading the text columns from `source`; or, given
    `typed_all` (a table `prestage_sql` made), only those after the typing, over that table.
    `mask_once`: see `stage_sql`.

    Returns (rows read, rows rejected); blank rows count as neither.
    """
    table = typed_all or "_typed_all"
    for statement in stage_sql(kind, source, first_row=first_row, keep=keep, typed_all=table,
                               prestaged=typed_all is not None, mask_once=mask_once):
        con.execute(statement, {k: v for k, v in bound.items() if f"${k}" in statement})
    con.execute(dups_sql(kind))
    counts = _COUNTS.format(typed_all=typed_table(table))
    nonblank, everything, rejected, repeated = con.execute(counts).fetchall()[0]
    con.execute(clean_sql(kind, fast_path=nonblank == everything and not rejected and not repeated,
                          dedupe_needed=bool(repeated), typed_all=table))
    return nonblank, rejected


def refresh_clean(con: duckdb.DuckDBPyConnection, kind: str) -> None:
    """Rebuild `_dups` and `_clean` after rows were added to `_errors` (partner uploads)."""
    con.execute(dups_sql(kind))
    con.execute(clean_sql(kind))


def stage(kind: str, df: pd.DataFrame, *, salt: str = "test-salt",
          known_projects: list[str] | None = None,
          context: dict | None = None, mask_once: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Pure staging of canonical text columns: (clean rows, rejects[_row, column_name, reason]).

    `df` has canonical column names (missing optional ones are added as NULL); its rows are
    numbered as a sheet would be (first data row = 2). `mask_once`: as a small file is typed
    (`stage_sql`); False types as a big file is.
    """
    raw = df.copy()
    for col in SPECS[kind]:
        if col.name not in raw.columns:
            raw[col.name] = None
    raw = raw[[c.name for c in SPECS[kind]]].astype("object")
    with duckdb.connect() as con:
        con.register("_raw_df", raw)
        # Column names come from the specs, never from the data.
        casts = ", ".join(f'CAST("{c.name}" AS VARCHAR) AS {c.name}' for c in SPECS[kind])
        raw_sql = "CREATE TEMP TABLE _raw AS SELECT " + casts + " FROM _raw_df"
        clean_sql = "SELECT " + ", ".join(target_columns(kind)) + " FROM _clean ORDER BY ALL"
        con.execute(raw_sql)
        run_stage(con, kind, params(kind, salt, known_projects, context), mask_once=mask_once)
        clean = con.execute(clean_sql).df()
        rejects = con.execute("SELECT * FROM _errors ORDER BY _row, column_name").df()
    return clean, rejects


# deliberation and participation kinds (issue 15): their specs and rules live in their own module
# (imported last: it uses the column types above and adds its kinds to SPECS and KEYS)
from etl import stage_participation as _sp  # noqa: E402
