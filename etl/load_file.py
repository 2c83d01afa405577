"""One file's load: stage it, check its rejects, write its records, in one transaction.

`_load_one` is the per-file pipeline etl/load.py runs for each file or sheet: create `_raw`
over the source (`_create_raw`), stage it (etl/stage.py), refuse it when too many rows are
invalid, write `_clean` latest-wins by key (`_write_records`: Parquet files through
etl/storage.py, or DELETE + INSERT in the catalog), then its rejects and its etl_loads row;
any error rolls the whole file back. `explain` turns a load error into one masked sentence.
"""
from __future__ import annotations

import contextlib
import json
import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb
import numpy as np

from etl import aliases, scoped, stage, stage_participation, storage
from etl.marts import delta as marts_delta
from etl.extract import ExtractError, RawSource
from etl.pii import mask_text


@dataclass
class LoadResult:
    """What happened to one file or sheet."""
    path: Path
    sheet: str | None
    kind: str | None
    status: str                      # loaded / skipped / refused
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    seconds: float = 0.0
    message: str = ""
    rejects: list[dict] = field(default_factory=list)   # first few, for the console

    @property
    def label(self) -> str:
        return f"{self.path.name}[{self.sheet}]" if self.sheet else self.path.name


class LoadRefused(ValueError):
    """A file refused as a whole (names the file and what is wrong)."""


def _raw_names(src: RawSource, kind: str) -> tuple[list[str], dict[str, str]]:
    """Column names for _raw (canonical, or _x<i> for unmapped) and canonical -> source header."""
    mapping = aliases.map_headers(kind, src.headers)
    names, taken = [], set()
    for i, h in enumerate(src.headers):   # a repeated header maps once, at its first position
        canonical = mapping.get(h)
        names.append(canonical if canonical and canonical not in taken else f"_x{i}")
        taken.add(canonical)
    return names, {v: k for k, v in mapping.items()}


def _create_raw(con: duckdb.DuckDBPyConnection, src: RawSource, kind: str) -> list[str]:
    """The view `_raw`: the source's columns in file order, renamed canonical; returns the names.

    A view, not a table: staging streams the file once (a GBK file's UTF-8 copy is made
    here, streamed, unless it was prefetched). The file path reaches DuckDB as a Python
    argument, never as SQL text.
    """
    names, _ = _raw_names(src, kind)
    if src.is_csv:
        # the dialect is known from the header (extract._csv_header): no sniffing pass
        con.read_csv(str(src.utf8_csv()), header=True, auto_detect=False, skiprows=src.skip_lines,
                     columns={n: "VARCHAR" for n in names}, delimiter=src.delimiter,
                     quotechar='"', escapechar='"').to_view("_raw_src")
    else:
        con.register("_raw_src", src.table.rename_columns(names))
    con.execute(_raw_view_sql(kind, names))
    return names


def _raw_view_sql(kind: str, names: list[str]) -> str:
    """SELECT over _raw_src with every canonical column present (missing optional ones NULL).

    Names are canonical columns or _x<i>: generated here, never taken from a file.
    """
    present = set(names)
    columns = [f"CAST({n} AS VARCHAR) AS {n}" for n in names]
    columns += [f"CAST(NULL AS VARCHAR) AS {c.name}" for c in stage.SPECS[kind] if c.name not in present]
    return f"CREATE OR REPLACE TEMP VIEW _raw AS SELECT {', '.join(columns)} FROM _raw_src"


def _stage_source(con: duckdb.DuckDBPyConnection, src: RawSource, kind: str,
                  salt: str, typed: str | None = None) -> tuple[list[str], tuple[int, int]]:
    """Create _raw and run staging; a CSV that turns out not to be UTF-8 past the sample is
    transcoded from GB18030 and staged again. Runs first in the load's transaction.
    typed: the table the file's rows were already typed into (etl/prestage.py)."""
    known = [r[0] for r in con.execute("SELECT project_id FROM projects").fetchall()]
    bound = stage.params(kind, salt, known, stage_participation.context(con, kind))
    if typed is not None:
        names, _ = _raw_names(src, kind)
        keep = tuple(n for n in names if n.startswith("_x"))
        return names, stage.run_stage(con, kind, bound, first_row=src.header_row + 1, keep=keep, typed_all=typed)

    def run() -> tuple[list[str], tuple[int, int]]:
        names = _create_raw(con, src, kind)
        keep = tuple(n for n in names if n.startswith("_x"))   # unmapped: kept for rejects
        return names, stage.run_stage(con, kind, bound, first_row=src.header_row + 1, keep=keep,
                                      mask_once=stage.masks_once(src.text_bytes))

    try:
        return run()
    except duckdb.InvalidInputException as exc:
        if not src.is_csv or src.encoding == "gb18030" or "unicode" not in str(exc).lower():
            raise
        con.rollback()   # the failed scan aborted the transaction; nothing was written yet
        con.begin()
        _drop_scratch(con)
        try:
            src.as_gb18030()
        except ExtractError as err:
            raise LoadRefused(f"{src.label}: refused, nothing loaded - "
                              f"{str(err).removeprefix(f'{src.path}: ')}") from None
        return run()


def _upsert_sql(kind: str) -> tuple[str, str]:
    """(DELETE of the keys about to be written, INSERT from _clean) for a whitelisted table."""
    table = {k: k for k in aliases.KIND_ORDER}[kind]
    keys = ", ".join(stage.KEYS[kind])
    cols = ", ".join(stage.target_columns(kind))
    return (f"DELETE FROM {table} WHERE ({keys}) IN (SELECT ({keys}) FROM _clean)",
            f"INSERT INTO {table} ({cols}, source_load_id) SELECT {cols}, $load_id FROM _clean")


def _write_records(con: duckdb.DuckDBPyConnection, kind: str, load_id: int) -> int:
    """Write `_clean` into the table, latest wins by key: the write step of a load.

    A table kept as Parquet files (etl/storage.py) gets new files and its superseded keys
    noted; one kept in the catalog gets DELETE + INSERT. Returns the rows written."""
    if storage.is_partitioned(con, kind):
        with marts_delta.tracking(con, kind, "_clean"):   # the summary marts' delta (etl/marts/delta.py)
            return storage.upsert(con, kind, "_clean", stage.target_columns(kind), load_id)
    delete, insert = _upsert_sql(kind)
    con.execute(delete)   # latest wins: a newer export replaces the records it carries
    # the target's physical order is irrelevant; dropping it lets DuckDB write in parallel
    # this connection only (SESSION): the background typing (etl/prestage.py) keeps the order
    con.execute("SET SESSION preserve_insertion_order = false")
    try:
        return con.execute(insert, {"load_id": load_id}).fetchall()[0][0]
    finally:
        con.execute("RESET SESSION preserve_insertion_order")   # staging's row numbers rely on it


def _load_one(con: duckdb.DuckDBPyConnection, src: RawSource, kind: str, strict: bool,
              max_reject_share: float, salt: str, loaded_by: str | None = None,
              partner: str | None = None, typed: str | None = None) -> LoadResult:
    started = datetime.now()
    t0 = time.perf_counter()
    res = LoadResult(src.path, src.sheet, kind, "refused")
    marts_delta.prepare(con, kind)   # outside the transaction: a DuckDB 2.0 bug (delta.prepare)
    con.begin()
    try:
        names, (res.rows_read, res.rows_rejected) = _stage_source(con, src, kind, salt, typed)
        if not res.rows_read:
            raise _NoRecords
        if partner is not None:
            res.rows_rejected += scoped.restrict_to_party(con, kind, partner, src.header_row + 1)
        rejects = _reject_rows(con, src, kind, names)
        res.rejects = rejects[:20]
        if res.rows_rejected and (strict or res.rows_rejected > max_reject_share * max(res.rows_read, 1)):
            first = "; ".join(f"row {r['row_number']} {r['column_name']}: {r['reason']}" for r in rejects[:3])
            raise LoadRefused(f"{src.label}: refused, nothing loaded - {res.rows_rejected:,} of "
                              f"{res.rows_read:,} rows invalid ({first})")
        load_id = con.execute("SELECT COALESCE(max(load_id), 0) + 1 FROM etl_loads").fetchall()[0][0]
        res.rows_loaded = _write_records(con, kind, load_id)
        _insert_rejects(con, load_id, src, rejects)
        res.seconds = time.perf_counter() - t0
        res.status = "loaded"
        con.execute(
            "INSERT INTO etl_loads (load_id, path, sheet, sha256, source_kind, encoding, rows_read, "
            "rows_loaded, rows_rejected, started_at, finished_at, seconds, status, message, loaded_by) "
            "VALUES ($id, $path, $sheet, $sha, $kind, $enc, $read, $loaded, "
            "$rejected, $started, $finished, $seconds, 'loaded', $msg, $by)",
            {"id": load_id, "path": mask_text(str(src.path)), "sheet": src.sheet, "sha": src.sha256,
             "kind": kind, "enc": src.encoding, "read": res.rows_read, "loaded": res.rows_loaded,
             "rejected": res.rows_rejected, "started": started, "finished": datetime.now(),
             "seconds": res.seconds, "msg": f"{res.rows_rejected} rows rejected" if res.rows_rejected else "",
             "by": loaded_by})
        _drop_scratch(con)   # nothing raw may outlive the load (the CSV view is not temporary)
        con.commit()
    except _NoRecords:
        con.rollback()
        res.status, res.message = "skipped", "the file held no records (only a header), nothing loaded"
    except Exception as exc:
        con.rollback()
        res.status = "refused"
        res.rows_loaded = 0
        res.message = (str(exc) if isinstance(exc, LoadRefused)
                       else f"{src.label}: refused, nothing loaded - {explain(exc)}")
        res.seconds = time.perf_counter() - t0
    finally:
        with contextlib.suppress(Exception):
            _drop_scratch(con)
    return res


class _NoRecords(Exception):
    """A file with a header and no data rows: nothing to load, and not an error."""


def _drop_scratch(con: duckdb.DuckDBPyConnection) -> None:
    """Remove the views over the source file (names fixed here, never from data)."""
    con.execute("DROP VIEW IF EXISTS temp._raw")
    with contextlib.suppress(duckdb.CatalogException):
        con.execute("DROP VIEW IF EXISTS main._raw_src")   # to_view() makes a persistent view
    with contextlib.suppress(Exception):
        con.unregister("_raw_src")                          # an Arrow sheet is registered instead


# the rejected rows' records; columns from the staging specs and the loader's _x<i> names
_REJECTED_ROWS = "SELECT _row, {columns} FROM _typed WHERE _row IN (SELECT _row FROM _errors)"
_CSV_LINE = re.compile(r"CSV Error on Line: (\d+)")
_COLUMNS = re.compile(r"Expected Number of Columns: (\d+) Found: (\d+)")


def explain(exc: BaseException) -> str:
    """One masked sentence for a load error: DuckDB's CSV errors carry the raw line (with
    phone and ID numbers) and a dialect dump with options this CLI does not have."""
    text = str(exc)
    line = _CSV_LINE.search(text)
    if line:
        where = f"line {line.group(1)} of the file"
        columns = _COLUMNS.search(text)
        if columns:
            return (f"{where} has {columns.group(2)} cells where the header has {columns.group(1)} "
                    f"(a stray delimiter, or a cell with a comma that is not in quotes?)")
        if "unterminated quote" in text:
            return f"{where} opens a quoted cell that is never closed (a stray \" character?)"
        if "unicode" in text.lower():
            return f"{where} holds bytes that are neither UTF-8 nor GBK (save the file as UTF-8)"
        return f"{where} cannot be read as CSV (check its quotes and delimiters)"
    return mask_text(_first_line(text))


def _first_line(text: str) -> str:
    """The first line of an error without DuckDB's "Invalid Input Error: " style prefix."""
    first = text.strip().splitlines()[0] if text.strip() else "unknown error"
    return re.sub(r"^[A-Za-z ]+ Error: ", "", first)


def _reject_rows(con, src: RawSource, kind: str, names: list[str]) -> list[dict]:
    """One dict per (row, column) error with the original record (PII masked) as JSON.

    The record comes from the staging table (`stage.record_columns`), not from a second read
    of the file: text cells as staged (trimmed), other cells as read, unmapped columns as they
    were; the resident identifier only as "(pseudonymised)"."""
    errors = con.execute("SELECT _row, column_name, reason FROM _errors ORDER BY _row, column_name").fetchall()
    if not errors:
        return []
    shown = [(header, stage.record_columns(kind, name)) for name, header in zip(names, src.headers)]
    pseudonym = next((stage._out(c) for c in stage.SPECS[kind] if c.type == stage.PSEUDO), None)
    columns = [c for _, c in shown if c] + ([pseudonym] if pseudonym else [])
    # column names from the staging specs and the loader's _x<i> names, never from the file
    raw = con.execute(_REJECTED_ROWS.format(columns=", ".join(columns))).fetchall()
    _, header_of = _raw_names(src, kind)
    by_row = {}
    for record in raw:
        values = dict(zip(columns, record[1:]))
        original = {}
        for header, column in shown:
            value = values.get(column) if column else values.get(pseudonym)
            if value is None:
                continue
            original[mask_text(header)] = "(pseudonymised)" if column is None else mask_text(str(value))
        by_row[record[0]] = json.dumps(original, ensure_ascii=False)
    return [{"row_number": int(r), "column_name": mask_text(header_of.get(c, c)), "reason": reason,
             "original_values": by_row.get(r)} for r, c, reason in errors]


def _insert_rejects(con, load_id: int, src: RawSource, rejects: list[dict]) -> None:
    if not rejects:
        return
    # numpy arrays, registered as a dict: DuckDB imports pandas to register a DataFrame or an
    # Arrow table, which cost the first file with rejected rows 0.35-0.4 s of CPU
    frame = {"row_number": np.array([r["row_number"] for r in rejects], dtype=np.int64),
             **{c: np.array([r[c] for r in rejects], dtype=object)
                for c in ("column_name", "reason", "original_values")}}
    con.register("_rejects_frame", frame)
    try:
        con.execute("INSERT INTO etl_rejects SELECT $id, $path, row_number, CAST(column_name AS VARCHAR), "
                    "CAST(reason AS VARCHAR), CAST(original_values AS VARCHAR) FROM _rejects_frame",
                    {"id": load_id, "path": mask_text(str(src.path))})
    finally:
        con.unregister("_rejects_frame")
