"""Repeated wrong keys slow down, then lock, per session and per client address.

In memory, one table per server process (a restart clears it; the keys themselves are
128-bit random secrets, so this is against noise and guessing at scale, not the only
barrier). The clock is passed in, so tests step time instead of sleeping.
"""
from __future__ import annotations

import threading
import time
from typing import Callable

SLOW_AFTER = 3          # failures before each further attempt must wait
LOCK_AFTER = 5          # failures that lock the subject
LOCK_SECONDS = 15 * 60  # how long a lock lasts; failures older than this are forgotten


class Lockout:
    def __init__(self, slow_after: int = SLOW_AFTER, lock_after: int = LOCK_AFTER,
                 lock_seconds: float = LOCK_SECONDS, clock: Callable[[], float] = time.time):
        self.slow_after, self.lock_after, self.lock_seconds = slow_after, lock_after, lock_seconds
        self.clock = clock
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, subject: str, now: float) -> list[float]:
        kept = [t for t in self._failures.get(subject, []) if now - t < self.lock_seconds]
        if kept:
            self._failures[subject] = kept
        else:
            self._failures.pop(subject, None)
        return kept

    def _wait_one(self, subject: str, now: float) -> float:
        fails = self._recent(subject, now)
        n = len(fails)
        if n >= self.lock_after:
            return max(0.0, fails[-1] + self.lock_seconds - now)
        if n >= self.slow_after:
            return max(0.0, fails[-1] + 2.0 ** (n - self.slow_after + 1) - now)
        return 0.0

    def wait_seconds(self, *subjects: str) -> float:
        """Seconds before any of these subjects may try again (0 = now)."""
        now = self.clock()
        with self._lock:
            return max((self._wait_one(s, now) for s in subjects if s), default=0.0)

    def locked(self, *subjects: str) -> bool:
        now = self.clock()
        with self._lock:
            return any(len(self._recent(s, now)) >= self.lock_after for s in subjects if s)

    def failure(self, *subjects: str) -> None:
        now = self.clock()
        with self._lock:
            for s in subjects:
                if s:
                    self._failures.setdefault(s, []).append(now)

    def success(self, session_subject: str) -> None:
        """A good key clears its session's count (not the address's: one key must not unlock guessing)."""
        with self._lock:
            self._failures.pop(session_subject, None)


LOCKOUT = Lockout()     # the server's one table
