"""Where the DuckDB file is, and how writers replace it without disturbing readers.

DuckDB allows one writer *or* many readers per file. The dashboard holds read-only
connections all day, so a writer never opens the live file: it copies it to a sibling
"next" file, writes there, checkpoints, and swaps it in with `os.replace` (atomic on
POSIX). The file is a small catalog: the big record tables are immutable Parquet files
beside it (etl/storage.py), so the copy costs little whatever the database holds. Open readers keep the old inode until they reconnect; `file_identity` changes
so the dashboard notices. A lock file serialises concurrent writers.
"""
from __future__ import annotations

import contextlib
import fcntl
import functools
import glob
import hashlib
import inspect
import os
import re
import secrets
import shutil
import time
from pathlib import Path
from typing import Iterator

import duckdb

from etl import storage, storage_upkeep

# where the file is: etl/dbpath.py (no DuckDB import there), importable from here as before
from etl.dbpath import REPO_ROOT, db_path, file_identity  # noqa: F401

SCHEMA_SQL = Path(__file__).with_name("schema.sql")
SCHEMA_VERSION = "1"


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create missing tables; safe to run on every open.

    Every write opens the catalog with it: when the catalog says it was last brought up to
    this very schema.sql (etl_meta `schema_fingerprint`) and still holds every table and view
    that file creates, the DDL (dozens of statements, the biggest fixed cost of a small load)
    is not run again; the participation rules are compared and rewritten only when they differ
    (etl/rules.py)."""
    from etl import rules   # participation rules: etl/rules.toml is the one source (issue 15)
    if not _schema_current(con):
        con.execute(SCHEMA_SQL.read_text(encoding="utf-8"))
        con.execute(
            "INSERT INTO etl_meta VALUES ('schema_version', $v) ON CONFLICT DO NOTHING",
            {"v": SCHEMA_VERSION},
        )
        # files from before the salt moved out of the database: anyone holding the file could
        # have used it to test guesses against the pseudonyms
        con.execute("DELETE FROM etl_meta WHERE key = 'pseudonym_salt'")
        con.execute("INSERT OR REPLACE INTO etl_meta VALUES ($k, $v)",
                    {"k": SCHEMA_KEY, "v": schema_fingerprint()})
    rules.seed(con)


SCHEMA_KEY = "schema_fingerprint"   # etl_meta: the schema.sql the catalog was last brought up to
# the tables and views schema.sql creates (its names, never data)
_SCHEMA_OBJECTS = re.compile(r"^CREATE (?:TABLE IF NOT EXISTS|OR REPLACE VIEW) (\w+)", re.M)
_SCHEMA_STATE = (   # a name is a table or a view of main, never both
    "SELECT (SELECT value FROM etl_meta WHERE key = $k),"
    " (SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database()"
    "  AND schema_name = 'main' AND list_contains($names, table_name))"
    " + (SELECT count(*) FROM duckdb_views() WHERE database_name = current_database()"
    "  AND schema_name = 'main' AND NOT internal AND list_contains($names, view_name))")


def letters_digest(data: bytes) -> str:
    """A 16-character fingerprint of `data` in letters only: a setting stored in etl_meta must
    not look like a number (tests/security scans every text value of a loaded file for digit
    runs)."""
    return hashlib.sha256(data).hexdigest()[:16].translate(str.maketrans("0123456789", "ghijklmnop"))


@functools.lru_cache(maxsize=4)
def _schema_text(stamp: tuple) -> tuple[str, tuple[str, ...]]:
    text = SCHEMA_SQL.read_text(encoding="utf-8")
    return (letters_digest((SCHEMA_VERSION + "\0" + text).encode()),
            tuple(sorted(set(_SCHEMA_OBJECTS.findall(text)))))


def _schema_file() -> tuple[str, tuple[str, ...]]:
    st = os.stat(SCHEMA_SQL)            # an edited schema.sql is read again
    return _schema_text((st.st_ino, st.st_mtime_ns, st.st_size))


def schema_fingerprint() -> str:
    """A fingerprint of etl/schema.sql and SCHEMA_VERSION (letters only)."""
    return _schema_file()[0]


def _schema_current(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the catalog was brought up to this schema.sql and still has all it creates."""
    fingerprint, names = _schema_file()
    try:
        stored, present = con.execute(_SCHEMA_STATE, {"k": SCHEMA_KEY, "names": list(names)}).fetchone()
    except duckdb.CatalogException:     # no etl_meta: a new file
        return False
    return stored == fingerprint and present == len(names)


def pseudonym_salt(db: Path | None = None) -> str:
    """The salt for resident pseudonyms: env COCKPIT_PSEUDONYM_SALT, else a random secret kept in
    `.cockpit_salt` beside the database file (mode 0600), never inside it, so a copy of the
    database handed to an analyst cannot be used to re-identify residents.
    """
    env = os.environ.get("COCKPIT_PSEUDONYM_SALT")
    if env:
        return env
    path = Path(db or db_path()).parent / ".cockpit_salt"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(secrets.token_hex(16))
    return path.read_text(encoding="ascii").strip()


@contextlib.contextmanager
def writer(path: Path | None = None, compact: bool = False,
           vacuum: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-write connection to the next version of the database's catalog.

    The big record tables live as Parquet files beside the catalog (etl/storage.py), so only
    the small catalog is copied. On normal exit the marts layer is rebuilt (etl.marts.build,
    told which months changed), the next catalog is checkpointed and atomically swapped in;
    on an exception it is deleted and the live catalog (and every file it references) is
    untouched. The catalog it replaces is kept as a restorable version (etl/versions.py, env
    COCKPIT_KEEP_VERSIONS); files no kept catalog references any more are then removed.
    Deleted rows are vacuumed at the checkpoint only with `vacuum` or `compact`, or when a table
    has become mostly deleted rows (storage_upkeep.vacuum_due).
    """
    from etl import versions   # versions (issue 12) keeps the replaced file
    live = Path(path or db_path())
    live.parent.mkdir(parents=True, exist_ok=True)
    lock_path = live.with_name(live.name + ".lock")
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        remove_stale_next_files(live)
        nxt = live.with_name(f"{live.name}.next-{os.getpid()}")
        packed = live.with_name(f"{live.name}.next-{os.getpid()}.packed")
        _remove(nxt)
        if live.exists():
            shutil.copyfile(live, nxt)
        con = duckdb.connect(str(nxt))
        try:
            con.execute(storage_upkeep.NO_VACUUM)
            ensure_schema(con)
            moved = storage_upkeep.ensure_layout(con, storage.parts_dir(live))
            storage.bind_root(con, storage.parts_dir(live))
            yield con
            moved += storage_upkeep.ensure_layout(con, storage.parts_dir(live))   # what a pain-point run wrote
            # nothing noted = no record table changed (a projects-only load, a pain-point run):
            # the summary marts stay as they are ({}), instead of a full rebuild (22 s at 10M)
            build_marts(con, None if moved else (storage.changes(con) or {}))
            if vacuum or compact or storage_upkeep.vacuum_due(con):
                con.execute(storage_upkeep.VACUUM)
            _refuse_scratch_objects(con)
            con.execute("CHECKPOINT")
            bloated = compact or storage_upkeep.bloated(con)
            published = storage_upkeep.manifest(con)     # for the garbage collection, below
            con.close()
            # the moved tables' space, the blocks a rebuild of the marts freed (compact=True), or
            # a catalog mostly free blocks: rebuild it small (every later write copies it)
            if (moved or bloated) and live.exists():
                storage_upkeep.vacuum_copy(nxt, packed)
                os.replace(packed, nxt)
            versions.keep(live)
            os.replace(nxt, live)
            collect_garbage(live, live_refs=published)
        except BaseException:
            with contextlib.suppress(Exception):
                con.close()
            _remove(nxt)
            raise
        finally:
            _remove(packed)
            _remove(Path(str(nxt) + ".wal"))


def build_marts(con: duckdb.DuckDBPyConnection, changed: dict | None) -> None:
    """etl.marts.build, told which months of which tables changed (None: rebuild all)."""
    from etl import marts
    if "changed" in inspect.signature(marts.build).parameters:
        marts.build(con, changed=changed)
    else:                 # a marts layer of views only: nothing to rebuild by month
        marts.build(con)


def catalogs(live: Path) -> list[Path]:
    """Every catalog that may reference files of `live`'s parts folder: the live file, its
    kept versions and the dry runs waiting for confirmation (etl/dryrun.py)."""
    from etl import versions
    found = [live, *sorted(versions.versions_dir(live).glob("*.duckdb"))]
    uploads = live.parent / ".uploads"
    if uploads.is_dir():
        found += sorted(uploads.glob("*/*.duckdb"))
    return found


def collect_garbage(live: Path, every_s: float = storage.GC_GRACE_S / 4,
                    live_refs: set[str] | None = None) -> list[Path]:
    """Remove Parquet files no catalog of `live` references (call with the writers' lock held).
    live_refs: the files the live catalog references, when the caller knows them (the writer
    that just swapped it in): then no catalog is opened but the ones never seen before
    (storage_upkeep keeps what each catalog file references, keyed by its identity).

    At most once every `every_s` seconds: a file is only removed once it is GC_GRACE_S old, so
    looking more often finds nothing new."""
    root = live.with_name(live.name + storage.PARTS_SUFFIX)
    if storage.parts_dir(live) != root:     # a dry run or demo build writing for another catalog
        return []
    stamp = root / ".last-gc"
    try:
        if time.time() - stamp.stat().st_mtime < every_s:
            return []
    except FileNotFoundError:
        pass
    if not root.is_dir():
        return []
    stamp.touch()
    known = {live: live_refs} if live_refs is not None else None
    return storage_upkeep.collect_garbage(live, catalogs(live), known=known)


def _refuse_scratch_objects(con: duckdb.DuckDBPyConnection) -> None:
    """Never publish a file that still holds a loader's scratch object (`_raw_src` and the
    like, named with a leading underscore): such a view reads the source file, raw."""
    left = con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_catalog = current_database() "
        "AND table_schema = 'main' AND starts_with(table_name, '_')").fetchall()
    if left:
        raise RuntimeError(f"scratch objects left in the database, not published: {sorted(r[0] for r in left)}")


def remove_stale_next_files(live: Path) -> list[Path]:
    """Delete `<live>.next-<pid>` files (and their .wal) left by a writer that was killed.

    Only files whose process is gone: a running process's file is left alone. Returns the
    paths removed. Safe without the writers' lock: a file named after a dead process has no
    writer left to finish it.
    """
    removed: list[Path] = []
    if not live.parent.is_dir():
        return removed
    prefix = f"{live.name}.next-"
    for path in live.parent.glob(f"{glob.escape(live.name)}.next-*"):
        pid_text = path.name[len(prefix):].removesuffix(".wal").removesuffix(".packed")
        if not pid_text.isdigit() or _alive(int(pid_text)):
            continue
        _remove(path)
        removed.append(path)
    return sorted(removed)


def _alive(pid: int) -> bool:
    """Whether a process with this id exists (signal 0 checks without sending anything)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True          # it exists, under another user
    return True


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def read_only(path: Path | None = None) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the live file (callers check it exists)."""
    return duckdb.connect(str(path or db_path()), read_only=True)
