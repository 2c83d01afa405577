"""The shared demo build kept between test runs (tests/conftest.py `demo_build`).

The demo build (generator, real loader, pain-point engine: ~8 s of CPU) gives the same bytes
for the same sources, so a run keeps a pristine copy under pytest's cache folder
(.pytest_cache/d/demo-build) with a key made of everything that goes into it: every file under
etl/, this module, the build function's source and its arguments, the versions of Python and
of the libraries the build runs, and today's date. A later run whose key matches copies that
folder into its own temp folder instead of building; any other key builds afresh and replaces
the copy.
`pytest --cache-clear` (or `-p no:cacheprovider`) always builds.

A copy has to be moved, not just copied: the catalog records absolute paths (its Parquet
parts, the folder it may read, the inbox files each load came from), so `relocate` rewrites
the path prefix in those columns and recreates the views over the parts, in the catalog and in
its kept versions, then checks no view still reads the old folder.
"""
from __future__ import annotations

import fcntl
import hashlib
import inspect
import json
import os
import pickle
import shutil
import sys
from datetime import date
from importlib import metadata
from pathlib import Path
from typing import Callable

import duckdb

REPO = Path(__file__).resolve().parents[1]
LIBRARIES = ("duckdb", "pandas", "numpy", "pyarrow", "scikit-learn", "scipy", "jieba",
             "openpyxl", "python-calamine")
# the columns of the catalog that hold absolute paths (etl/storage.py, etl/schema.sql)
PATH_COLUMNS = (
    "UPDATE etl_storage.parts SET path = $new || substr(path, $cut), root = $new || substr(root, $cut)"
    " WHERE starts_with(path, $old)",
    "UPDATE etl_storage.deletes SET path = $new || substr(path, $cut) WHERE starts_with(path, $old)",
    "UPDATE etl_loads SET path = $new || substr(path, $cut) WHERE starts_with(path, $old)",
    "UPDATE etl_rejects SET path = $new || substr(path, $cut) WHERE starts_with(path, $old)",
)


def key(build: Callable, arguments: dict) -> str:
    """What `build(root)` depends on: the ETL's files, its own source and this module, the
    libraries, its arguments, the day."""
    h = hashlib.sha256()
    sources = [p for p in sorted((REPO / "etl").rglob("*"))
               if p.is_file() and "__pycache__" not in p.parts]
    for p in [*sources, Path(__file__)]:
        h.update(str(p.relative_to(REPO)).encode() + b"\0" + p.read_bytes() + b"\0")
    h.update(inspect.getsource(build).encode())
    versions = {}
    for lib in LIBRARIES:
        try:
            versions[lib] = metadata.version(lib)
        except metadata.PackageNotFoundError:
            versions[lib] = None
    h.update(json.dumps({"python": sys.version, "libraries": versions, "today": str(date.today()),
                         "arguments": arguments,
                         "env": {k: v for k, v in os.environ.items()    # the ETL's settings; the
                                 if k.startswith("COCKPIT_") and k != "COCKPIT_DB"}},  # path is given
                        sort_keys=True, default=str).encode())
    return h.hexdigest()


def restore(cache: Path, want: str, root: Path) -> tuple | None:
    """Copy the kept build into `root` and move it there; its (manifest, results), or None
    when the cache holds no build for this key."""
    with _locked(cache):
        meta = cache / "meta.json"
        if not meta.exists() or json.loads(meta.read_text())["key"] != want:
            return None
        built_at = json.loads(meta.read_text())["root"]
        shutil.copytree(cache / "build", root, symlinks=True, dirs_exist_ok=True)
        extra = pickle.loads((cache / "extra.pickle").read_bytes())
    relocate(root, built_at)
    return extra


def keep(cache: Path, want: str, root: Path, extra: tuple) -> None:
    """Keep a pristine copy of the fresh build in `root` (before any test touched it)."""
    with _locked(cache):
        (cache / "meta.json").unlink(missing_ok=True)         # invalid until complete
        shutil.rmtree(cache / "build", ignore_errors=True)
        shutil.copytree(root, cache / "build", symlinks=True)
        (cache / "extra.pickle").write_bytes(pickle.dumps(extra))
        (cache / "meta.json").write_text(json.dumps({"key": want, "root": str(root)}))


def relocate(root: Path, old: str) -> None:
    """Point the catalogs under `root` (the database and its kept versions), which were built
    in folder `old`, at the same files under `root`."""
    from etl import storage

    old, new = old.rstrip("/") + "/", str(root).rstrip("/") + "/"
    catalogs = [root / "cockpit.duckdb", *sorted((root / "cockpit.duckdb.versions").glob("*.duckdb"))]
    for catalog in catalogs:
        con = duckdb.connect(str(catalog))
        try:
            for sql in PATH_COLUMNS:
                con.execute(sql, {"old": old, "new": new, "cut": len(old) + 1})
            for table in (*storage.PARTITIONED, *storage.WHOLE):
                if storage.table_type(con, table) == "VIEW":
                    storage.refresh_view(con, table)
            stale = con.execute("SELECT view_name FROM duckdb_views() WHERE contains(sql, $old)",
                                {"old": old}).fetchall()
            assert not stale, f"{catalog}: views still read {old}: {stale}"
            con.execute("CHECKPOINT")
        finally:
            con.close()


class _locked:
    """An exclusive lock on the cache folder (two runs in one checkout)."""

    def __init__(self, cache: Path):
        cache.mkdir(parents=True, exist_ok=True)
        self.path = cache / "lock"

    def __enter__(self):
        self.file = open(self.path, "w")
        fcntl.flock(self.file, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        self.file.close()
