"""Kept versions of the database file, swapping a prepared file in, and rolling back.

Every swap (etl.dbfile.writer, `swap_in`, `rollback`) first keeps the catalog it replaces in
`<db>.versions/` as a hard link (no copy: the swap gives the live name a new inode, the old
inode lives on under the version's name). Only the newest N are kept: env
COCKPIT_KEEP_VERSIONS, default 3 (0 keeps none). The big tables' Parquet files (etl/storage.py)
are never changed once written, and a file stays while any kept catalog references it, so a
kept catalog is a whole version of the database.

A rollback restores the newest kept version that holds none of the loads being undone. The
history is carried forward: the loads that disappear stay in `etl_loads` with status
'rolled back' (their rejects too), earlier rollbacks stay in `etl_rollbacks`, and the
rollback itself is a new `etl_rollbacks` row, so the history reads the same before and after.
All SQL binds its values; table names are constants of this module.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Iterator

import duckdb

from etl import aliases, marts, storage, storage_upkeep
from etl.dbfile import build_marts, collect_garbage, db_path, ensure_schema, file_identity

KEEP_ENV = "COCKPIT_KEEP_VERSIONS"
DEFAULT_KEEP = 3
SUFFIX = ".duckdb"
DATA_TABLES = aliases.KIND_ORDER   # the tables a load writes (counted in a rollback plan)


class StaleDatabase(RuntimeError):
    """The live file changed since it was looked at (another load or rollback came first)."""


class NoVersion(LookupError):
    """No kept version predates the load to undo (it was pruned, or never kept)."""


def keep_count() -> int:
    try:
        return max(0, int(os.environ.get(KEEP_ENV, DEFAULT_KEEP)))
    except ValueError:
        return DEFAULT_KEEP


def versions_dir(live: Path) -> Path:
    return live.with_name(live.name + ".versions")


def lock_path(live: Path) -> Path:
    return live.with_name(live.name + ".lock")   # the same lock etl.dbfile.writer takes


@contextlib.contextmanager
def locked(live: Path) -> Iterator[None]:
    """Hold the writers' lock of `live` (serialises with every load and painpoints run)."""
    live.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path(live), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def keep(live: Path) -> Path | None:
    """Keep the current live file as a version (call with the writers' lock held); prune."""
    n = keep_count()
    if n <= 0 or not live.exists():
        return None
    folder = versions_dir(live)
    folder.mkdir(exist_ok=True)
    target = folder / f"{time.time_ns()}{SUFFIX}"
    try:
        os.link(live, target)
    except OSError:          # a file system without hard links: copy
        shutil.copyfile(live, target)
    for old in sorted(folder.glob(f"*{SUFFIX}"), reverse=True)[n:]:
        with contextlib.suppress(FileNotFoundError):
            old.unlink()
    return target


def swap_in(live: Path, candidate: Path, expect: tuple | None) -> None:
    """Make the prepared file `candidate` the live file, if the live file is still `expect`.

    Raises StaleDatabase (and leaves everything as it was) when another writer came first.
    """
    with locked(live):
        if file_identity(live) != expect:
            raise StaleDatabase(str(live))
        keep(live)
        os.replace(candidate, live)


@dataclass(frozen=True)
class Version:
    """One kept file: when it was kept and the last load it holds."""
    path: Path
    kept_at: datetime
    last_load_id: int | None          # highest load_id with status 'loaded'; None when none


def _attached(path: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory connection with `path` attached read-only as `v`.

    ATTACH, not connect(): the dashboard holds the live file open with its own configuration
    in this process, and DuckDB refuses a second connect() with another one.
    """
    con = duckdb.connect()
    con.execute("ATTACH $path AS v (READ_ONLY)", {"path": str(path)})
    return con


def _last_loaded(path: Path) -> int | None:
    with contextlib.closing(_attached(path)) as con:
        try:
            return con.execute("SELECT max(load_id) FROM v.etl_loads WHERE status = 'loaded'").fetchall()[0][0]
        except duckdb.CatalogException:
            return None


def list_versions(live: Path | None = None) -> list[Version]:
    """The kept versions, newest first."""
    live = Path(live or db_path())
    out = []
    for path in sorted(versions_dir(live).glob(f"*{SUFFIX}"), reverse=True):
        with contextlib.suppress(ValueError, duckdb.Error):
            kept = datetime.fromtimestamp(int(path.stem) / 1e9)
            out.append(Version(path, kept, _last_loaded(path)))
    return out


@dataclass
class RollbackPlan:
    """What a rollback to before `load_id` would restore and what would disappear."""
    load_id: int
    version: Version
    identity: tuple | None                       # of the live file the plan was made on
    removed: list[dict] = field(default_factory=list)    # loads that disappear
    table_rows: dict[str, tuple[int, int]] = field(default_factory=dict)   # table -> (now, after)

    @property
    def rows_removed(self) -> int:
        return sum(int(r["rows_loaded"] or 0) for r in self.removed)


# SQL texts fixed at import: the attached database's alias and the table names are constants
_ALIASES = ("v", "cur")
_LOADED_SQL = {db: "SELECT load_id, path, sheet, source_kind, rows_loaded, loaded_by, finished_at "
                   f"FROM {db}.etl_loads WHERE status = 'loaded' ORDER BY load_id" for db in _ALIASES}
_COUNT_SQL = {db: " UNION ALL ".join(f"SELECT '{t}', count(*) FROM {db}.{t}" for t in DATA_TABLES)
              for db in _ALIASES}


def _loads(con: duckdb.DuckDBPyConnection, db: str) -> list[dict]:
    cur = con.execute(_LOADED_SQL[db])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]


def _counts(con: duckdb.DuckDBPyConnection, db: str) -> dict[str, int]:
    return dict(con.execute(_COUNT_SQL[db]).fetchall())


def plan_rollback(load_id: int, live: Path | None = None) -> RollbackPlan:
    """The newest kept version without load `load_id` (nor any later one), and the difference."""
    live = Path(live or db_path())
    identity = file_identity(live)
    version = next((v for v in list_versions(live)
                    if v.last_load_id is None or v.last_load_id < load_id), None)
    if version is None:
        raise NoVersion(f"no kept version of {live.name} predates load {load_id}")
    with contextlib.closing(_attached(version.path)) as con:
        con.execute("ATTACH $path AS cur (READ_ONLY)", {"path": str(live)})
        kept = {r["load_id"] for r in _loads(con, "v")}
        removed = [r for r in _loads(con, "cur") if r["load_id"] not in kept]
        now, after = _counts(con, "cur"), _counts(con, "v")
    rows = {t: (now[t], after[t]) for t in DATA_TABLES}
    return RollbackPlan(load_id, version, identity, removed, rows)


_CARRY = [
    # loads that disappear stay in the history, marked; their rejects stay readable
    "INSERT INTO etl_loads BY NAME SELECT * REPLACE ("
    "  CASE WHEN status = 'loaded' THEN 'rolled back' ELSE status END AS status) "
    "FROM cur.etl_loads WHERE load_id NOT IN (SELECT load_id FROM etl_loads)",
    "UPDATE etl_loads SET status = c.status FROM cur.etl_loads c "
    "WHERE etl_loads.load_id = c.load_id AND c.status = 'rolled back'",
    "INSERT INTO etl_rejects BY NAME SELECT * FROM cur.etl_rejects "
    "WHERE load_id NOT IN (SELECT DISTINCT load_id FROM etl_rejects)",
    "INSERT INTO etl_rollbacks BY NAME SELECT * FROM cur.etl_rollbacks "
    "WHERE rollback_id NOT IN (SELECT rollback_id FROM etl_rollbacks)",
]


def rollback(plan: RollbackPlan, by: str, live: Path | None = None) -> int:
    """Restore `plan.version` as the live file, carrying the history forward; returns the
    rollback_id. Raises StaleDatabase when the live file changed since the plan was made."""
    live = Path(live or db_path())
    nxt = live.with_name(f"{live.name}.rollback-{os.getpid()}")
    with locked(live):
        if file_identity(live) != plan.identity:
            raise StaleDatabase(str(live))
        shutil.copyfile(plan.version.path, nxt)
        try:
            with contextlib.closing(duckdb.connect(str(nxt))) as con:
                ensure_schema(con)       # a version kept before a schema change gets it now
                moved = storage_upkeep.ensure_layout(con, storage.parts_dir(live))   # ... and the storage layout
                # ... and the current marts layer (etl/marts): a kept catalog's summaries match its
                # records when it was built by these very models (its etl_meta says so), so only
                # the views and seeds are refreshed; otherwise every summary is rebuilt
                build_marts(con, {} if not moved and marts.current(con) else None)
                con.execute("ATTACH $path AS cur (READ_ONLY)", {"path": str(live)})
                con.begin()
                for statement in _CARRY:
                    con.execute(statement)
                rollback_id = con.execute(
                    "SELECT COALESCE(max(rollback_id), 0) + 1 FROM etl_rollbacks").fetchall()[0][0]
                con.execute(
                    "INSERT INTO etl_rollbacks VALUES ($id, $at, $by, $before, $restored, $removed, "
                    "$rows, $file)",
                    {"id": rollback_id, "at": datetime.now(), "by": by, "before": plan.load_id,
                     "restored": plan.version.last_load_id,
                     "removed": [int(r["load_id"]) for r in plan.removed],
                     "rows": plan.rows_removed, "file": plan.version.path.name})
                con.commit()
                con.execute("DETACH cur")
                con.execute("CHECKPOINT")
            keep(live)
            os.replace(nxt, live)
            collect_garbage(live)
        finally:
            for leftover in (nxt, Path(str(nxt) + ".wal")):
                with contextlib.suppress(FileNotFoundError):
                    leftover.unlink()
    return rollback_id
