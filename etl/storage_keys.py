"""Key sidecars: finding the stored rows a load supersedes in time that follows the load.

Every Parquet file of a table of storage.PARTITIONED gets, when it is written, a sidecar
`<file>.keys.npy`: the 64-bit hashes of its keys, sorted (numpy, one row per row of the file).
A file never changes, so neither does its sidecar. An upsert binary-searches the sorted hashes
of its new files (their own sidecars, computed when they were written) in the sidecar of each
current file (memory-mapped: only the pages the searches touch are read), instead of reading
the key column of every file; each stored file only for the new files whose key range meets its
own (Parquet statistics: with dated case numbers, the files of the months the load touches), so
a load into a database of many months searches what it brings, not every sidecar. A hit gives
the pair (stored file, key hash); the key's text is read back only from the new files that had
a hit, and `etl_storage.deletes` records (file, key).

Exact by construction:
- no superseded row is missed: equal keys have equal hashes, and a file whose sidecar is
  missing or does not have one hash per row of the manifest (a database from before sidecars,
  a write that died between the file and its sidecar) gets its sidecar rebuilt from the file
  before the search;
- a hash collision (two keys, one 64-bit hash: about 1 in 10^8 for a 35k-row load into 10M
  rows) records (file, incoming key) for a file that does not hold that key: a delete that
  matches no row, so the view is unchanged (the view leaves out rows by file *and* key).

The hash is the first 8 bytes of MD5(key as text), little-endian: a standard function, so a
sidecar written by one DuckDB version is read right by the next (`check_hash` compares DuckDB's
answer with Python's hashlib once per process). Sidecars are deleted with their file
(storage_upkeep.collect_garbage). docs/ARCHITECTURE.md section 3 says why this design.
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import os
from pathlib import Path

import duckdb
import numpy as np

SUFFIX = ".keys.npy"
# 64 bits of MD5: DuckDB's md5_number is the digest as a little-endian 128-bit number
HASH_SQL = "CAST(md5_number(CAST({column} AS VARCHAR)) & CAST(18446744073709551615 AS UHUGEINT) AS UBIGINT)"
_CANARY = "SJ202611220000001"
BATCH_ROWS = 4_000_000      # sidecars rebuilt at once: 16 bytes a row in memory while sorting


def key_hash(text: str) -> int:
    """The hash of one key, as HASH_SQL computes it (the definition, in Python)."""
    return int.from_bytes(hashlib.md5(text.encode("utf-8")).digest()[:8], "little")


_checked: list[bool] = []
_CANARY_SQL = f"SELECT {HASH_SQL.format(column='$k')}"


@functools.cache
def _hashes_sql(key: str) -> str:
    """Each file's key hashes, composed once per key column (a name of storage.PARTITIONED,
    never data)."""
    return (f"SELECT file_index::INTEGER AS f, {HASH_SQL.format(column=key)} AS h "
            "FROM read_parquet($files, hive_partitioning = false) ORDER BY f, h")


def check_hash(con: duckdb.DuckDBPyConnection) -> None:
    """Refuse to use sidecars if this DuckDB hashes differently from the definition (once)."""
    if _checked:
        return
    got = con.execute(_CANARY_SQL, {"k": _CANARY}).fetchall()[0][0]
    if got != key_hash(_CANARY):
        raise RuntimeError("DuckDB's md5_number differs from the key sidecars' hash: sidecars unusable")
    _checked.append(True)


def sidecar(path: str | Path) -> Path:
    return Path(str(path) + SUFFIX)


def _save(path: str, hashes: np.ndarray) -> None:
    """Write the sidecar of `path` whole or not at all (a temporary name, then os.replace)."""
    target = sidecar(path)
    tmp = target.with_name(f"{target.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            np.save(f, hashes, allow_pickle=False)
        os.replace(tmp, target)
    except OSError:            # a folder we cannot write: the search uses the array in memory
        with contextlib.suppress(OSError):
            tmp.unlink()


def write(con: duckdb.DuckDBPyConnection, key: str, paths: list[str]) -> dict[str, np.ndarray]:
    """Read the key column of `paths` (Parquet files of one table, key column `key`) and write
    their sidecars; returns path -> sorted hashes."""
    if not paths:
        return {}
    check_hash(con)
    got = con.execute(_hashes_sql(key), {"files": paths}).fetchnumpy()
    f, h = np.asarray(got["f"], dtype=np.int64), np.asarray(got["h"], dtype=np.uint64)
    bounds = np.searchsorted(f, np.arange(len(paths) + 1))
    out = {}
    for i, path in enumerate(paths):
        out[path] = np.ascontiguousarray(h[bounds[i]:bounds[i + 1]])
        _save(path, out[path])
    return out


def _load(path: str, rows: int) -> np.ndarray | None:
    """The sidecar of `path` if it is there and whole (one sorted hash per row), else None."""
    try:
        hashes = np.load(sidecar(path), mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError):
        return None
    if hashes.dtype != np.uint64 or hashes.ndim != 1 or len(hashes) != rows:
        return None
    return hashes


def ensure(con: duckdb.DuckDBPyConnection, key: str, files: list[tuple[str, int]]) -> dict[str, np.ndarray]:
    """path -> sorted hashes for `files` ((path, rows) of one table): a sidecar missing or not
    whole (a database from before sidecars, a write that died after its file) is rebuilt."""
    check_hash(con)
    stored = {path: _load(path, rows) for path, rows in files}
    batch, batch_rows = [], 0
    for path, rows in files:                 # a few million keys at a time: bounded memory
        if stored[path] is not None:
            continue
        batch.append(path)
        batch_rows += rows
        if batch_rows >= BATCH_ROWS:
            stored.update(write(con, key, batch))
            batch, batch_rows = [], 0
    stored.update(write(con, key, batch))
    return stored


def matches(con: duckdb.DuckDBPyConnection, key: str, files: list[tuple[str, int]],
            incoming: list[np.ndarray], pairs: list[list[int]]) -> tuple[np.ndarray, np.ndarray, set[int]]:
    """The incoming key hashes found in `files` ((path, rows) pairs of one table): `incoming`
    holds the sorted hashes of each new file, `pairs[i]` the new files (indices into `incoming`)
    whose keys may be in stored file i (their key ranges meet). Returns (stored file numbers,
    1-based into `files`; the hashes found there; the new files that had a hit): one entry per
    stored file that may hold the key."""
    wanted = [i for i, news in enumerate(pairs) if news]
    stored = ensure(con, key, [files[i] for i in wanted])
    numbers, found, hit_new = [], [], set()
    for i in wanted:
        h = stored[files[i][0]]
        if not len(h):
            continue
        for n in pairs[i]:
            q = incoming[n]
            if not len(q) or q[-1] < h[0] or q[0] > h[-1]:
                continue
            pos = np.searchsorted(h, q)
            hit = np.flatnonzero(h[np.minimum(pos, len(h) - 1)] == q)
            if len(hit):
                numbers.append(np.full(len(hit), i + 1, dtype=np.int64))
                found.append(q[hit])
                hit_new.add(n)
    if not found:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.uint64), set()
    return np.concatenate(numbers), np.concatenate(found), hit_new


# Each stored file's key range, from its Parquet statistics (every row group's exact min and max
# of the key; DuckDB marks a truncated one inexact): a file is searched only for the incoming
# keys inside its range. Keys that carry a date (工单号 SJ20261122...) put each month's files
# in their own range, so a load searches the files of the months its keys fall in and not every
# file of the table: the search follows the load. A file without exact statistics, or whose
# key is not stored as text, is searched for every key.
_RANGES_SQL = """
    SELECT file_name, min(stats_min_value), max(stats_max_value)
    FROM parquet_metadata($files) WHERE path_in_schema = $key
    GROUP BY file_name
    HAVING bool_and(type = 'BYTE_ARRAY' AND min_is_exact AND max_is_exact
                    AND stats_min_value IS NOT NULL AND stats_max_value IS NOT NULL)"""


# (key column, path) -> the file's key range, or None without usable statistics: a file never
# changes after it is written (and its name holds a uuid), so its range is read once per process
# (a command's every write searched the same stored files: 160 footers read 5 times at 10M)
_RANGES: dict[tuple[str, str], tuple[str, str] | None] = {}


def ranges(con: duckdb.DuckDBPyConnection, key: str, files: list[str]) -> dict[str, tuple[str, str]]:
    """path -> (min, max) of the key column, for the files of `files` with usable statistics."""
    todo = [f for f in files if (key, f) not in _RANGES]
    if todo:
        found = {f: (lo, hi) for f, lo, hi in con.execute(_RANGES_SQL, {"files": todo, "key": key}).fetchall()}
        _RANGES.update({(key, f): found.get(f) for f in todo})
    return {f: _RANGES[(key, f)] for f in files if _RANGES[(key, f)] is not None}


def pairs(known: dict[str, tuple[str, str]], current: list[str], new: list[str]) -> list[list[int]]:
    """Per stored file of `current`, the indices of the files `new` whose key range meets its
    own (every one when either range is unknown): the only new files whose keys it may hold."""
    out = []
    for path in current:
        if path not in known:
            out.append(list(range(len(new))))
            continue
        lo, hi = known[path]
        out.append([i for i, n in enumerate(new)
                    if n not in known or not (known[n][1] < lo or known[n][0] > hi)])
    return out


# The stored rows whose key arrives again, as (path, key) pairs: the sidecars say which stored
# file holds which incoming key hash (temp.etl_hits: file number, hash); the key text comes from
# the new files that had a hit ($new, read only for the hits: usually none of a load's files),
# joined on the hash, less the pairs already superseded. A NULL key equals no key.
_SUPERSEDED_SQL = """
    CREATE OR REPLACE TEMP TABLE etl_superseded AS
    WITH n AS (
        SELECT CAST({key} AS VARCHAR) AS key, {hash} AS h
        FROM read_parquet($new, hive_partitioning = false) WHERE {key} IS NOT NULL),
    hit AS (
        SELECT DISTINCT list_extract($files, CAST(h.file_no AS INTEGER)) AS path, n.key
        FROM temp.etl_hits h JOIN n ON n.h = h.h)
    SELECT hit.path, hit.key FROM hit
    ANTI JOIN etl_storage.deletes d ON d.path = hit.path AND d.key = hit.key"""
_NO_SUPERSEDED = "CREATE OR REPLACE TEMP TABLE etl_superseded (path VARCHAR, key VARCHAR)"


@functools.cache
def _superseded_sql(key: str) -> str:
    """_SUPERSEDED_SQL for a key column (a name of storage.PARTITIONED, never data)."""
    return _SUPERSEDED_SQL.format(key=key, hash=HASH_SQL.format(column=key))


def _disjoint(known: dict[str, tuple[str, str]], current: list[str], new: list[str]) -> bool:
    """Whether no key of the files `new` can be in the files `current` (every range known, and
    none of the current ones meets the new ones'): e.g. a load of the next month's cases."""
    if any(p not in known for p in (*current, *new)):
        return False
    lo, hi = min(known[p][0] for p in new), max(known[p][1] for p in new)
    return all(known[p][1] < lo or known[p][0] > hi for p in current)


def superseded(con: duckdb.DuckDBPyConnection, key: str, current: list[tuple[str, int]],
               incoming: dict[str, np.ndarray]) -> None:
    """temp.etl_superseded (path, key): the rows of the stored files `current` ((path, rows))
    whose key (column `key`) is in the new files `incoming` (path -> their sorted hashes, as
    their sidecars), not superseded before. Each stored file is searched only for the hashes of
    the new files whose key range meets its own (`pairs`); the new files' keys are read back
    only from the files that had a hit, to name the rows found."""
    new = sorted(incoming)
    paths = [p for p, _ in current]
    known = ranges(con, key, paths + new)
    if not new or not current or _disjoint(known, paths, new):
        con.execute(_NO_SUPERSEDED)
        return
    numbers, found, hit_new = matches(con, key, current, [incoming[n] for n in new], pairs(known, paths, new))
    if not len(numbers):
        con.execute(_NO_SUPERSEDED)
        return
    # the arrays themselves, registered as a dict (exact UBIGINT, no copy): DuckDB imports
    # pandas to register a DataFrame or an Arrow table, 0.35-0.4 s of CPU for a load
    con.register("etl_hits_frame", {"file_no": numbers, "h": found})
    try:
        con.execute("CREATE OR REPLACE TEMP TABLE etl_hits AS SELECT file_no, h FROM etl_hits_frame")
    finally:
        con.unregister("etl_hits_frame")
    con.execute(_superseded_sql(key), {"files": paths, "new": [new[i] for i in sorted(hit_new)]})
    con.execute("DROP TABLE temp.etl_hits")
