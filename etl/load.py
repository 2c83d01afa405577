"""Load: files -> extract -> stage -> upsert into the next DuckDB file -> atomic swap.

Each file (or workbook sheet) loads in its own transaction together with its lineage
row and its rejects, or not at all. A file whose bytes were already loaded is skipped,
so loading the same file twice changes nothing. Records are upserted by key: the row
from the most recent load wins (a newer export moves a case from 处置中 to 已办结).
When nothing loads, the live database file is not touched at all.

This module is the command side: which files, in what order, skipped or refused as a whole,
the writer around them and the `status` report. One file's pipeline (stage, rejects, write,
lineage, in its transaction) is etl/load_file.py.
"""
from __future__ import annotations

import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

import duckdb

from etl import aliases, history, scoped
from etl.dbfile import db_path, pseudonym_salt, remove_stale_next_files, writer
from etl.extract import ExtractError, RawSource, expand_paths, read_sources
# one file's pipeline; LoadResult, LoadRefused and explain stay importable from here
from etl.load_file import LoadRefused, LoadResult, _create_raw, _load_one, explain  # noqa: F401
from etl.pii import mask_text
from etl.prestage import Prestager


class _NothingLoaded(Exception):
    """Aborts the writer so the live file is left byte-for-byte as it was."""


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def load_paths(paths: list[Path | str], db: Path | None = None, *, kind: str | None = None,
               strict: bool = False, max_reject_share: float = 0.5,
               progress: Callable[[str], None] | None = _stderr,
               loaded_by: str | None = None, partner: str | None = None) -> list[LoadResult]:
    """Load files and folders into the database; returns one result per file or sheet.

    loaded_by: who, for the history (default: the OS user). partner: an organisation's name;
    its upload is limited to its own projects (etl/scoped.py). Every message (results and
    progress) is PII-masked: file text never leaves unmasked.
    """
    db = Path(db) if db else db_path()
    loaded_by = loaded_by or history.default_actor()
    say = (lambda m: progress(mask_text(m))) if progress else (lambda _m: None)
    for stale in remove_stale_next_files(db):   # even when nothing new is loaded below
        say(f"removed {stale.name}, left by a load that was killed")
    results: list[LoadResult] = []
    sources: list[tuple[RawSource, str]] = []
    files, issues = expand_paths([Path(p) for p in paths])
    for issue in issues:
        results.append(LoadResult(issue.path, None, None, issue.status, message=issue.message))
        say(f"{'REFUSED' if issue.status == 'refused' else 'skipped'} {issue.message}")
    # each file is hashed whole before anything loads (an already-loaded file is skipped):
    # hashlib and file reads release the GIL, so two files are read at once, in file order
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="cockpit-read") as pool:
        read = [pool.submit(read_sources, path) for path in files]
    for path, pending in zip(files, read):
        try:
            for src in pending.result():
                detected = _detect(src, kind)
                if partner is not None and not scoped.kind_allowed(detected):
                    raise LoadRefused(f"{src.label}: refused, nothing loaded - a partner "
                                      f"cannot upload {detected}")
                sources.append((src, detected))
        except (ExtractError, LoadRefused) as exc:
            results.append(LoadResult(path, None, None, "refused", message=str(exc)))
            say(f"REFUSED {path.name}: {exc}")
    sources.sort(key=lambda s: aliases.KIND_ORDER.index(s[1]))
    if sources:
        _write_sources(db, sources, strict, max_reject_share, say, results, loaded_by, partner)
    for res in results:
        res.message = mask_text(res.message)
    return results


def _write_sources(db: Path, sources: list[tuple[RawSource, str]], strict: bool, max_reject_share: float,
                   say: Callable[[str], None], results: list[LoadResult],
                   loaded_by: str | None = None, partner: str | None = None) -> None:
    """Load each source not loaded before in its own transaction into the next file; swap it
    in if any loaded. Which files were loaded before is read on the writer's own connection,
    under the writers' lock: no second connection to the catalog (a DuckDB instance costs
    ~15 ms of CPU before any query), and a file a concurrent load has just loaded is skipped."""
    salt = pseudonym_salt(db)
    try:
        with writer(db) as con:
            todo = _not_loaded_before(con, sources, say, results)
            if not todo:
                raise _NothingLoaded
            for src, _ in todo:
                src.prefetch()   # GBK files are transcoded in the background while earlier files load
            _bound_memory(con)
            with Prestager(con, salt, _create_raw) as ahead:
                changed = 0
                for i, (src, k) in enumerate(todo):
                    if i + 1 < len(todo):
                        ahead.submit(i + 1, *todo[i + 1])   # typed in the background meanwhile
                    say(f"[{i + 1}/{len(todo)}] {src.label} -> {k} ({src.encoding}) ...")
                    typed = ahead.take(i)
                    try:
                        res = _load_one(con, src, k, strict, max_reject_share, salt, loaded_by, partner, typed)
                    finally:
                        ahead.release(typed)
                    results.append(res)
                    changed += res.status == "loaded"
                    say(_summary(res))
            if not changed:
                raise _NothingLoaded
    except _NothingLoaded:
        pass
    finally:
        for src, _ in sources:
            src.close()


def _summary(res: LoadResult) -> str:
    if res.status == "skipped":
        return f"    skipped {res.label}: {res.message}"
    if res.status != "loaded":
        message = res.message.removeprefix(f"{res.label}: ")
        return f"    REFUSED {res.label}: {message}"
    line = (f"    {res.rows_read:,} rows read, {res.rows_loaded:,} loaded, "
            f"{res.rows_rejected:,} rejected ({res.seconds:.1f} s)")
    for r in res.rejects[:5]:
        line += f"\n    reject: {res.label} row {r['row_number']} column {r['column_name']}: {r['reason']}"
    return line


def _detect(src: RawSource, forced: str | None) -> str:
    kind = _detect_kind(src, forced)
    clashes = aliases.header_clashes(kind, src.headers)
    if clashes:
        column, first, second = clashes[0]
        raise LoadRefused(f"{src.label}: refused, nothing loaded - the headers \"{first}\" and "
                          f"\"{second}\" both mean the {kind} column {column}; keep one of them")
    return kind


def _detect_kind(src: RawSource, forced: str | None) -> str:
    if forced:
        mapped = set(aliases.map_headers(forced, src.headers).values())
        lacking = [c for c in aliases.REQUIRED[forced] if c not in mapped]
        if lacking:
            raise LoadRefused(_missing_message(src, forced, lacking))
        return forced
    found, missing = aliases.detect_kind(src.headers)
    if found:
        return found
    matched = {k: len(aliases.map_headers(k, src.headers)) for k in missing}
    closest = min(missing, key=lambda k: (-matched[k], len(missing[k]), aliases.KIND_ORDER.index(k)))
    raise LoadRefused(_missing_message(src, closest, missing[closest]))


def _missing_message(src: RawSource, kind: str, lacking) -> str:
    names = ", ".join(f"{aliases.display_header(kind, c)} ({c})" for c in lacking)
    return (f"{src.label}: refused, nothing loaded - missing required columns for {kind}: {names}. "
            f"Headers found: {', '.join(src.headers)}")


def _not_loaded_before(con: duckdb.DuckDBPyConnection, sources: list[tuple[RawSource, str]],
                       say: Callable[[str], None], results: list[LoadResult]) -> list[tuple[RawSource, str]]:
    """The sources whose bytes (file, sheet) the catalog has not loaded yet; the others are
    reported skipped and closed."""
    loaded_before = _loaded_hashes(con)
    todo = []
    for src, k in sources:
        if (src.sha256, src.sheet or "") in loaded_before:
            results.append(LoadResult(src.path, src.sheet, k, "skipped", message="already loaded"))
            say(f"skipped {src.label}: already loaded (same bytes)")
            src.close()
        else:
            todo.append((src, k))
    return todo


def _loaded_hashes(con: duckdb.DuckDBPyConnection) -> set[tuple[str, str]]:
    """(sha256, sheet or '') of every file the catalog loaded (the writer's connection: its
    schema is in place, so etl_loads exists)."""
    return set(con.execute("SELECT sha256, COALESCE(sheet, '') FROM etl_loads "
                           "WHERE status = 'loaded'").fetchall())


# DuckDB's share of memory while it stages and writes: staging tables beyond it spill to a
# temporary directory, so one file of millions of rows stays within about a gigabyte of RSS
# (Python, the Arrow of an .xlsx sheet and DuckDB's own caches come on top). Set once per
# writer's connection (each SET cost ~15 ms: DuckDB re-evaluates its buffers).
STAGING_MEMORY = os.environ.get("COCKPIT_ETL_MEMORY", "640MB")


def _bound_memory(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("SET memory_limit = $m", {"m": STAGING_MEMORY})


def status(db: Path | None = None) -> dict:
    """Row counts per table, the last loads and reject counts, for `python -m etl status`."""
    db = Path(db) if db else db_path()
    if not db.exists():
        return {"db": str(db), "exists": False}
    with duckdb.connect(str(db), read_only=True) as con:
        tables = {r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'").fetchall()}
        shown = [t for t in (*aliases.KIND_ORDER, "pain_points", "feedback_pain_points", "etl_loads",
                             "etl_rejects") if t in tables]   # names from this constant list only
        count_sql = " UNION ALL ".join(f"SELECT '{t}', count(*) FROM {t}" for t in shown)
        counts = dict(con.execute(count_sql).fetchall()) if shown else {}
        loads = con.execute("SELECT load_id, path, sheet, source_kind, rows_read, rows_loaded, "
                            "rows_rejected, finished_at, status FROM etl_loads "
                            "ORDER BY load_id DESC LIMIT 10").df() if "etl_loads" in tables else None
        reasons = con.execute("SELECT reason, count(*) AS n FROM etl_rejects GROUP BY reason "
                              "ORDER BY n DESC").df() if "etl_rejects" in tables else None
    return {"db": str(db), "exists": True, "counts": counts, "loads": loads, "reject_reasons": reasons}
