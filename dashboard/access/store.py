"""A small JSON document on disk: read cheaply (re-parsed only when the file changes), changed under a lock."""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
from pathlib import Path
from typing import Callable, Iterator

_cache: dict[Path, tuple[tuple[int, int, int], dict]] = {}
_cache_lock = threading.Lock()


def _identity(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def read(path: Path, empty: Callable[[], dict]) -> dict:
    """The document (a fresh copy), or empty() when the file does not exist.

    One stat per call; the JSON is parsed again only after the file changed, so a
    per-page-load check of the key and session records costs microseconds.
    """
    ident = _identity(path)
    if ident is None:
        return empty()
    with _cache_lock:
        hit = _cache.get(path)
        if hit and hit[0] == ident:
            return json.loads(json.dumps(hit[1]))
    doc = json.loads(path.read_text(encoding="utf-8"))
    with _cache_lock:
        _cache[path] = (ident, doc)
    return json.loads(json.dumps(doc))


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive lock for a read-modify-write of `path` (a sibling .lock file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def write(path: Path, doc: dict) -> None:
    from dashboard.access.paths import private_write

    private_write(path, json.dumps(doc, ensure_ascii=False, indent=1).encode("utf-8"))
