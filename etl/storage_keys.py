"""Key sidecars: finding the stored rows a load supersedes in time that follows the load.

Every Parquet file of a table of storage.PARTITIONED gets, when it is written, a sidecar
`<file>.keys.npy`: the 64-bit hashes of its keys, sorted (numpy, one row per row of the file).
A file never changes, so neither does its sidecar. An upsert hashes its incoming keys and
binary-searches them in the sidecar of each current file (memory-mapped: only the pages the
searches touch are read), instead of reading the key column of every file; each file only for
the incoming keys inside its key range (its Parquet statistics: with dated case numbers, the
files of the months the load touches), so a load into a database of many months searches what
it brings, not every sidecar. A hit gives the pair (file, incoming key) that
`etl_storage.deletes` records.

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

import bisect
import contextlib
import functools
import hashlib
import os
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

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
            rows: np.ndarray, hashes: np.ndarray,
            spans: list[tuple[int, int] | None] | None = None) -> tuple[list[int], list[int]]:
    """The incoming keys (their `hashes`, and `rows`: the caller's ids for them) found in
    `files` ((path, rows) pairs of one table), as (file numbers, 1-based into `files`; row ids):
    one pair per file that may hold the key.

    spans: per file, the slice (start, stop) of `rows`/`hashes` that may be in it (the others
    lie outside its key range), or None for all of them; None: every file gets all of them."""
    stored = ensure(con, key, files)
    rows, hashes = np.asarray(rows), np.asarray(hashes)
    everything: tuple[np.ndarray, np.ndarray] | None = None
    numbers, found = [], []
    for number, (path, _) in enumerate(files, start=1):
        h = stored[path]
        span = spans[number - 1] if spans is not None else None
        if span is None:
            if everything is None:       # sorted once, for every file searched in full
                order = np.argsort(hashes, kind="stable")
                everything = hashes[order], rows[order]
            q, r = everything
        else:
            order = np.argsort(hashes[span[0]:span[1]], kind="stable")
            q, r = hashes[span[0]:span[1]][order], rows[span[0]:span[1]][order]
        if not len(h) or not len(q):
            continue
        pos = np.searchsorted(h, q)
        hit = np.flatnonzero(h[np.minimum(pos, len(h) - 1)] == q)
        if len(hit):
            numbers.append(np.full(len(hit), number, dtype=np.int64))
            found.append(r[hit])
    if not found:
        return [], []
    return np.concatenate(numbers).tolist(), np.concatenate(found).tolist()


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


@functools.cache
def _incoming_sql(key: str) -> str:
    """The new files' keys in key order with their hashes (a name of storage.PARTITIONED); a
    NULL key equals no key, so it supersedes nothing."""
    return (f"SELECT CAST({key} AS VARCHAR) AS key, {HASH_SQL.format(column=key)} AS h "
            f"FROM read_parquet($new, hive_partitioning = false) WHERE {key} IS NOT NULL ORDER BY key")


class _Keys:
    """A sorted Arrow string column as a sequence `bisect` can search (no Python list of it)."""

    def __init__(self, column):
        self.column = column

    def __len__(self) -> int:
        return len(self.column)

    def __getitem__(self, i: int) -> str:
        return self.column[i].as_py()


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


def spans(con: duckdb.DuckDBPyConnection, key: str, files: list[str], keys,
          known: dict[str, tuple[str, str]] | None = None) -> list[tuple[int, int] | None]:
    """Per file of `files`, the slice of `keys` (sorted incoming keys: an Arrow string column)
    within the file's key range, or None when the file has no usable statistics. `known`: the
    files' ranges, when the caller has read them already."""
    found = known if known is not None else ranges(con, key, files)
    seq = _Keys(keys)
    out: list[tuple[int, int] | None] = []
    for path in files:
        if path not in found:
            out.append(None)
            continue
        lo, hi = found[path]
        out.append((bisect.bisect_left(seq, lo), bisect.bisect_right(seq, hi)))
    return out


# The stored rows whose key arrives again, as (path, key) pairs: the sidecars say which stored
# file may hold which incoming key hash (temp.etl_hits: file number, hash); the key text comes
# from the write's own new keys (etl_incoming: key, hash, read once from its new files), joined
# with the few hits, less the pairs already superseded.
_SUPERSEDED_SQL = """
    CREATE OR REPLACE TEMP TABLE etl_superseded AS
    WITH hit AS (
        SELECT DISTINCT list_extract($files, CAST(h.file_no AS INTEGER)) AS path, n.key
        FROM temp.etl_hits h JOIN etl_incoming n ON n.h = h.h)
    SELECT hit.path, hit.key FROM hit
    ANTI JOIN etl_storage.deletes d ON d.path = hit.path AND d.key = hit.key"""
_NO_SUPERSEDED = "CREATE OR REPLACE TEMP TABLE etl_superseded (path VARCHAR, key VARCHAR)"


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
    whose key (column `key`) is in the new files `incoming` (path -> their sorted hashes), not
    superseded before. Each stored file is searched only for the incoming keys within its key
    range (`spans`)."""
    new = sorted(incoming)
    paths = [p for p, _ in current]
    known = ranges(con, key, paths + new)
    if not new or not current or _disjoint(known, paths, new):
        con.execute(_NO_SUPERSEDED)
        return
    got = con.sql(_incoming_sql(key), params={"new": new}).to_arrow_table()
    hashes = np.asarray(got.column("h").to_numpy(), dtype=np.uint64)
    within = spans(con, key, paths, got.column("key").combine_chunks(), known)
    numbers, found = matches(con, key, current, np.arange(len(hashes)), hashes, within)
    if not numbers:
        con.execute(_NO_SUPERSEDED)
        return
    hits = pd.DataFrame({"file_no": np.asarray(numbers, dtype=np.int64),
                         "h": hashes[np.asarray(found, dtype=np.int64)]})
    con.register("etl_hits_frame", hits)
    con.register("etl_incoming", got)
    try:
        con.execute("CREATE OR REPLACE TEMP TABLE etl_hits AS SELECT file_no, h FROM etl_hits_frame")
        con.execute(_SUPERSEDED_SQL, {"files": [p for p, _ in current]})
    finally:
        con.unregister("etl_hits_frame")
        con.unregister("etl_incoming")
    con.execute("DROP TABLE temp.etl_hits")
