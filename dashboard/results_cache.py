"""The server's store of query results, bounded by age, by count and by bytes.

`ResultCache(ttl_s, max_entries, max_bytes).get(key, compute)` returns compute()'s result,
kept as a pickle: the least recently used results are dropped first once there are more than
`max_entries` of them or they take more than `max_bytes`, and each is dropped `ttl_s` seconds
after it was stored. A bound on the count alone does not bound memory: one explorer result can
be a thousand times a KPI row, so many users with different filters would still grow the server
by gigabytes. A result bigger than a quarter of `max_bytes` is returned but not kept.

Every hit is a fresh copy (unpickled), as with st.cache_data, so a page that changes a frame in
place cannot change what another session sees. Thread-safe: Streamlit runs every session in its
own thread; when several sessions miss the same key at once, one computes it and the others
wait for that result instead of running the same query side by side. `computed` counts the
results computed since start (what a read-ahead's log line reports). No streamlit import.

`with ResultCache.renewing(seconds):` renews ahead of expiry for the calling thread only:
inside it, a result with less than `seconds` of its life left counts as a miss and is computed
and stored afresh, while every other reader keeps getting the stored one until the new one
replaces it (dashboard/keepwarm.py renews the opening views this way, so they never lapse).
"""
from __future__ import annotations

import contextlib
import contextvars
import pickle
import threading
import time
from collections import OrderedDict
from typing import Any, Callable, Hashable, Iterator

# seconds of life below which the calling context treats a stored result as a miss (0: none)
_renew_within: contextvars.ContextVar[float] = contextvars.ContextVar("renew_within", default=0.0)


class ResultCache:
    """Pickled results by key; see the module docstring for the bounds."""

    def __init__(self, ttl_s: float, max_entries: int, max_bytes: int):
        self.ttl_s, self.max_entries, self.max_bytes = ttl_s, max_entries, max_bytes
        self._entries: OrderedDict[Hashable, tuple[float, bytes]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self._computing: dict[Hashable, threading.Lock] = {}
        self.computed = 0                       # compute() calls so far (misses that ran)

    def get(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        blob = self._lookup(key)
        if blob is not None:
            return pickle.loads(blob)
        with self._lock:
            gate = self._computing.setdefault(key, threading.Lock())
        with gate:
            blob = self._lookup(key)           # another session computed it meanwhile
            if blob is not None:
                return pickle.loads(blob)
            try:
                with self._lock:
                    self.computed += 1
                value = compute()
                self._store(key, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
            finally:
                with self._lock:
                    self._computing.pop(key, None)
            return value

    @staticmethod
    @contextlib.contextmanager
    def renewing(seconds: float) -> Iterator[None]:
        """Inside the block, this context computes afresh any result expiring within `seconds`."""
        token = _renew_within.set(max(0.0, float(seconds)))
        try:
            yield
        finally:
            _renew_within.reset(token)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    def stats(self) -> tuple[int, int]:
        """(results kept, their bytes)."""
        with self._lock:
            return len(self._entries), self._bytes

    def _lookup(self, key: Hashable) -> bytes | None:
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                return None
            expires, blob = found
            now = time.monotonic()
            if expires <= now:
                self._drop(key)
                return None
            if expires - now < _renew_within.get():
                return None                     # renewing: this caller computes it afresh
            self._entries.move_to_end(key)
            return blob

    def _store(self, key: Hashable, blob: bytes) -> None:
        if len(blob) > self.max_bytes // 4:
            return                              # one result may not push out everything else
        now = time.monotonic()
        with self._lock:
            for old in [k for k, (expires, _) in self._entries.items() if expires <= now or k == key]:
                self._drop(old)                 # expired ones free their memory now
            self._entries[key] = (now + self.ttl_s, blob)
            self._bytes += len(blob)
            while self._entries and (len(self._entries) > self.max_entries
                                     or self._bytes > self.max_bytes):
                self._drop(next(iter(self._entries)))

    def _drop(self, key: Hashable) -> None:
        """Remove one entry (the lock is held)."""
        _, blob = self._entries.pop(key)
        self._bytes -= len(blob)
