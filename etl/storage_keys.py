"""Key sidecars: finding the stored rows a load supersedes in time that follows the load.

Every Parquet file of a table of storage.PARTITIONED gets, when it is written, a sidecar
`<file>.keys.npy`: the 64-bit hashes of its keys, sorted (numpy, one row per row of the file).
A file never changes, so neither does its sidecar. An upsert hashes its incoming keys and
binary-searches them in the sidecar of each current file (memory-mapped: only the pages the
searches touch are read), instead of reading the key column of every file. A hit gives the
pair (file, incoming key) that `etl_storage.deletes` records.

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
            rows: np.ndarray, hashes: np.ndarray) -> tuple[list[int], list[int]]:
    """The incoming keys (their `hashes`, and `rows`: the caller's ids for them) found in
    `files` ((path, rows) pairs of one table), as (file numbers, 1-based into `files`; row ids):
    one pair per file that may hold the key."""
    stored = ensure(con, key, files)
    order = np.argsort(hashes, kind="stable")
    q, r = np.asarray(hashes)[order], np.asarray(rows)[order]
    numbers, found = [], []
    for number, (path, _) in enumerate(files, start=1):
        h = stored[path]
        if not len(h) or not len(q):
            continue
        pos = np.searchsorted(h, q)
        hit = np.flatnonzero(h[np.minimum(pos, len(h) - 1)] == q)
        if len(hit):
            numbers.append(np.full(len(hit), number, dtype=np.int64))
            found.append(hit)
    if not found:
        return [], []
    return np.concatenate(numbers).tolist(), r[np.concatenate(found)].tolist()


# The stored rows whose key arrives again, as (path, key) pairs: the sidecars say which stored
# file may hold which incoming key hash (temp.etl_hits: file number, hash); the key text comes
# from the write's own new files (their key column, hashed again and joined with the few
# hits), less the pairs already superseded. {key}: a column name of storage.PARTITIONED.
_SUPERSEDED_SQL = """
    CREATE OR REPLACE TEMP TABLE etl_superseded AS
    WITH new AS (
        SELECT {key} AS key, {hash} AS h FROM read_parquet($new, hive_partitioning = false)),
    hit AS (
        SELECT DISTINCT list_extract($files, CAST(h.file_no AS INTEGER)) AS path, n.key
        FROM temp.etl_hits h JOIN new n ON n.h = h.h)
    SELECT hit.path, hit.key FROM hit
    ANTI JOIN etl_storage.deletes d ON d.path = hit.path AND d.key = hit.key"""
_NO_SUPERSEDED = "CREATE OR REPLACE TEMP TABLE etl_superseded (path VARCHAR, key VARCHAR)"


def superseded(con: duckdb.DuckDBPyConnection, key: str, current: list[tuple[str, int]],
               incoming: dict[str, np.ndarray]) -> None:
    """temp.etl_superseded (path, key): the rows of the stored files `current` ((path, rows))
    whose key (column `key`) is in the new files `incoming` (path -> their sorted hashes), not
    superseded before."""
    new = sorted(incoming)
    hashes = np.concatenate([incoming[p] for p in new]) if new else np.zeros(0, dtype=np.uint64)
    numbers, found = matches(con, key, current, np.arange(len(hashes)), hashes)
    if not numbers:
        con.execute(_NO_SUPERSEDED)
        return
    hits = pd.DataFrame({"file_no": np.asarray(numbers, dtype=np.int64),
                         "h": hashes[np.asarray(found, dtype=np.int64)]})
    con.register("etl_hits_frame", hits)
    try:
        con.execute("CREATE OR REPLACE TEMP TABLE etl_hits AS SELECT file_no, h FROM etl_hits_frame")
    finally:
        con.unregister("etl_hits_frame")
    con.execute(_SUPERSEDED_SQL.format(key=key, hash=HASH_SQL.format(column=key)),
                {"files": [p for p, _ in current], "new": new})
    con.execute("DROP TABLE temp.etl_hits")
