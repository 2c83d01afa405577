"""Dry run of a load: the real ETL (`load_paths`, as `python -m etl load`) on a copy of the
database, a report of what it would change, and confirming it by swapping in that very copy.

1. check each file (size, format, empty, required columns, partner kinds) -> a problem code;
2. copy the live catalog twice (the pristine `base`, the `next` to load) with the salt beside it;
3. load the readable files into `next` with `load_paths`; its new Parquet files go into the live
   database's parts folder already (etl/storage.py: files are immutable, and unreferenced ones
   are only removed once no catalog, pending dry runs included, names them);
4. compare `next` with `base` per file/sheet: new, updated (latest wins), unchanged, rejected.
Confirming swaps `next` in if the live file is still the one copied (else StaleDatabase):
what was previewed is exactly what is loaded.
"""
from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from etl import aliases, history, scoped, stage, storage, versions
from etl.dbfile import REPO_ROOT, db_path, ensure_schema, file_identity, pseudonym_salt
from etl.extract import SUPPORTED, ExtractError, read_sources
from etl.load import load_paths

STREAMLIT_CONFIG = REPO_ROOT / ".streamlit" / "config.toml"
DEFAULT_LIMIT_MB = 200           # Streamlit's own default for server.maxUploadSize
STALE_WORKDIR_S = 24 * 3600


def upload_limit_mb(config: Path = STREAMLIT_CONFIG) -> int:
    """server.maxUploadSize from .streamlit/config.toml (MB)."""
    try:
        return int(tomllib.loads(config.read_text("utf-8"))["server"]["maxUploadSize"])
    except (OSError, KeyError, ValueError, tomllib.TOMLDecodeError):
        return DEFAULT_LIMIT_MB


@dataclass
class Problem:
    """Why a file cannot be loaded at all: code (an i18n key suffix) and a detail to show."""
    code: str            # too_large / format / empty / unreadable / missing_columns / kind_not_allowed / refused
    detail: str = ""


@dataclass
class SourceReport:
    """What the load would do with one file or sheet."""
    file: str
    sheet: str | None = None
    kind: str | None = None
    status: str = "refused"                    # loaded / skipped / refused
    encoding: str | None = None
    mapping: list[tuple[str, str]] = field(default_factory=list)   # source header -> column
    ignored: list[str] = field(default_factory=list)               # headers not used
    rows_read: int = 0
    rows_loaded: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    problem: Problem | None = None
    rejects: pd.DataFrame = field(default_factory=pd.DataFrame)    # file, sheet, row, column, value, reason, original_values

    @property
    def label(self) -> str:
        return f"{self.file}[{self.sheet}]" if self.sheet else self.file


@dataclass
class Preview:
    """A dry run waiting for confirmation."""
    live: Path
    workdir: Path
    identity: tuple | None          # the live file that was copied
    candidate: Path                 # the loaded copy; confirm swaps it in
    reports: list[SourceReport]
    loaded_by: str
    partner: str | None

    @property
    def changes(self) -> bool:
        return any(r.status == "loaded" for r in self.reports)

    def discard(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)


def new_workdir(live: Path | None = None) -> Path:
    """A private folder beside the database for one upload; old abandoned ones are removed."""
    root = Path(live or db_path()).parent / ".uploads"
    root.mkdir(parents=True, exist_ok=True)
    for old in root.iterdir():
        with contextlib.suppress(OSError):
            if time.time() - old.stat().st_mtime > STALE_WORKDIR_S:
                shutil.rmtree(old, ignore_errors=True)
    path = root / secrets.token_hex(8)
    (path / "files").mkdir(parents=True)
    return path


def safe_name(name: str) -> str:
    """The uploaded file's base name, without folders or a leading dot."""
    base = Path(name.replace("\\", "/")).name.lstrip(".")
    return base or "upload"


def check_file(path: Path, *, max_bytes: int, partner: str | None) -> Problem | None:
    """The reason `path` cannot be loaded at all, or None."""
    size = path.stat().st_size
    if size > max_bytes:
        return Problem("too_large", f"{size / 1e6:.1f} MB > {max_bytes / 1e6:.0f} MB")
    if path.suffix.lower() not in SUPPORTED:
        return Problem("format", path.suffix or "?")
    if size == 0:
        return Problem("empty")
    try:
        sources = read_sources(path)
    except ExtractError as exc:
        text = str(exc).replace(str(path), path.name)
        return Problem("empty" if "empty" in text or "no rows" in text else "unreadable", text)
    try:
        for src in sources:
            kind, missing = aliases.detect_kind(src.headers)
            if kind is None:
                matched = {k: len(aliases.map_headers(k, src.headers)) for k in missing}
                closest = min(missing, key=lambda k: (-matched[k], len(missing[k]),   # as etl.load
                                                      aliases.KIND_ORDER.index(k)))
                names = ", ".join(f"{aliases.display_header(closest, c)} ({c})" for c in missing[closest])
                return Problem("missing_columns", f"{src.label}: {closest}: {names}")
            if partner is not None and not scoped.kind_allowed(kind):
                return Problem("kind_not_allowed", f"{src.label}: {kind}")
    finally:
        for src in sources:
            src.close()
    return None


def _headers(path: Path) -> dict[str | None, tuple[str, list[tuple[str, str]], list[str]]]:
    """sheet -> (encoding, [(header, column)], ignored headers) as the loader will map them."""
    out = {}
    for src in read_sources(path):
        try:
            kind, _ = aliases.detect_kind(src.headers)
            mapping = aliases.map_headers(kind, src.headers) if kind else {}
            out[src.sheet] = (src.encoding, list(mapping.items()),
                              [h for h in src.headers if h not in mapping])
        finally:
            src.close()
    return out


def _copy_live(live: Path, workdir: Path) -> tuple[tuple | None, Path, Path]:
    """(identity copied, base, next): two copies of one version of the live file + its salt."""
    salt = workdir / ".cockpit_salt"
    fd = os.open(salt, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(pseudonym_salt(live))      # same pseudonyms as a load into the live file
    base, nxt = workdir / "base.duckdb", workdir / "next.duckdb"
    for _ in range(5):
        identity = file_identity(live)
        if identity is None:
            with contextlib.closing(duckdb.connect(str(base))) as con:
                ensure_schema(con)
        else:
            shutil.copyfile(live, base)
        if file_identity(live) == identity:   # no swap happened while copying
            shutil.copyfile(base, nxt)
            return identity, base, nxt
    raise versions.StaleDatabase(str(live))


def preview(files: list[Path], live: Path | None = None, *, workdir: Path, loaded_by: str | None = None,
            partner: str | None = None, max_bytes: int | None = None) -> Preview:
    """Dry-run loading `files` (saved in workdir/files) into a copy of the live database."""
    live = Path(live or db_path())
    loaded_by = loaded_by or history.default_actor()
    max_bytes = max_bytes if max_bytes is not None else upload_limit_mb() * 1024 * 1024
    reports, readable = [], []
    for path in files:
        problem = check_file(path, max_bytes=max_bytes, partner=partner)
        if problem:
            reports.append(SourceReport(path.name, problem=problem))
        else:
            readable.append(path)
    identity, base, nxt = _copy_live(live, workdir)
    with storage.publish_to(live):        # the copy's new files go where the live catalog will find them
        results = (load_paths(readable, nxt, progress=None, loaded_by=loaded_by, partner=partner)
                   if readable else [])
    headers = {p: _headers(p) for p in readable}
    with contextlib.closing(duckdb.connect(str(nxt))) as con:
        con.execute("ATTACH $path AS base (READ_ONLY)", {"path": str(base)})
        for res in results:
            encoding, mapping, ignored = headers[res.path].get(res.sheet, (None, [], []))
            rep = SourceReport(res.path.name, res.sheet, res.kind, res.status, encoding, mapping, ignored,
                               res.rows_read, res.rows_loaded, rejected=res.rows_rejected)
            if res.status == "loaded":
                load_id = _load_id(con, res)
                rep.new, rep.updated, rep.unchanged = _compare(con, res.kind, load_id)
                rep.rejects = _rejects(con, load_id, rep)
            elif res.status == "refused":
                rep.problem = Problem("refused", res.message.replace(str(res.path), res.path.name))
                rep.rejects = _frame(res.rejects, rep)
            reports.append(rep)
    return Preview(live, workdir, identity, nxt, reports, loaded_by, partner)


def _load_id(con: duckdb.DuckDBPyConnection, res) -> int:
    return con.execute("SELECT max(load_id) FROM etl_loads WHERE path = $path AND sha256 IS NOT NULL "
                       "AND COALESCE(sheet, '') = $sheet AND status = 'loaded'",
                       {"path": str(res.path), "sheet": res.sheet or ""}).fetchall()[0][0]


def _compare_sql(kind: str) -> str:
    keys, cols = stage.KEYS[kind], stage.target_columns(kind)
    on = " AND ".join(f"m.{k} = b.{k}" for k in keys)
    same = " AND ".join(f"m.{c} IS NOT DISTINCT FROM b.{c}" for c in cols)
    return (f"SELECT count(*) FILTER (WHERE b.{keys[0]} IS NULL), "
            f"count(*) FILTER (WHERE b.{keys[0]} IS NOT NULL AND NOT ({same})), "
            f"count(*) FILTER (WHERE b.{keys[0]} IS NOT NULL AND {same}) "
            f"FROM main.{kind} m LEFT JOIN base.{kind} b ON {on} WHERE m.source_load_id = $load_id")


COMPARE_SQL = {kind: _compare_sql(kind) for kind in aliases.KIND_ORDER}   # fixed at import


def _compare(con: duckdb.DuckDBPyConnection, kind: str, load_id: int) -> tuple[int, int, int]:
    """(new, updated, unchanged) records of one load against the database before the upload."""
    new, updated, unchanged = con.execute(COMPARE_SQL[kind], {"load_id": load_id}).fetchall()[0]
    return int(new), int(updated), int(unchanged)


def _rejects(con: duckdb.DuckDBPyConnection, load_id: int, rep: SourceReport) -> pd.DataFrame:
    rows = con.execute("SELECT row_number, column_name, reason, original_values FROM etl_rejects "
                       "WHERE load_id = $id ORDER BY row_number, column_name", {"id": load_id}).df()
    return _frame(rows.to_dict("records"), rep)


def _frame(rejects: list[dict], rep: SourceReport) -> pd.DataFrame:
    """file, sheet, row, column, value, reason, original_values (JSON) per rejected cell."""
    out = []
    for r in rejects:
        original = json.loads(r.get("original_values") or "{}")
        out.append({"file": rep.file, "sheet": rep.sheet, "row": int(r["row_number"]),
                    "column": r["column_name"], "value": original.get(r["column_name"]),
                    "reason": r["reason"], "original_values": r.get("original_values")})
    return pd.DataFrame(out, columns=["file", "sheet", "row", "column", "value", "reason", "original_values"])


def confirm(p: Preview, *, painpoints: bool = True) -> list[SourceReport]:
    """Load exactly what was previewed: swap the loaded copy in, if the live file is unchanged.

    Raises versions.StaleDatabase (nothing written) when another load or a rollback came first.
    """
    loaded = [r for r in p.reports if r.status == "loaded"]
    if not loaded:
        return []
    if file_identity(p.live) != p.identity:
        raise versions.StaleDatabase(str(p.live))
    if painpoints and any(r.kind == "feedback" for r in loaded):
        from etl import painpoints as engine
        with storage.publish_to(p.live):
            engine.run(db_path=p.candidate)  # as `python -m etl load` does after feedback
    with contextlib.suppress(FileNotFoundError):
        Path(str(p.candidate) + ".wal").unlink()
    versions.swap_in(p.live, p.candidate, p.identity)
    p.discard()
    return loaded
