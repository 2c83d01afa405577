"""dashboard/results_cache.py: query results bounded by count, bytes and age; copies per hit;
concurrent misses of one key computed once."""
from __future__ import annotations

import threading
import time

import pandas as pd

from dashboard.results_cache import ResultCache
from sweep import left_to_full_run


def counting(value):
    calls = []

    def compute():
        calls.append(1)
        return value
    return compute, calls


def test_a_hit_is_a_copy_that_cannot_change_the_kept_result():
    c = ResultCache(ttl_s=60, max_entries=10, max_bytes=10 * 2**20)
    first = c.get("k", lambda: pd.DataFrame({"n": [1, 2]}))
    first.loc[0, "n"] = 99                      # a page changing its frame in place
    again = c.get("k", lambda: pd.DataFrame({"n": [5]}))
    assert again["n"].tolist() == [1, 2]
    again.loc[1, "n"] = 7
    assert c.get("k", lambda: None)["n"].tolist() == [1, 2]


def test_the_byte_bound_drops_the_least_recently_used():
    blob = b"x" * 100_000                       # ~100 kB pickled
    c = ResultCache(ttl_s=60, max_entries=100, max_bytes=450_000)
    for k in ("a", "b", "c", "d"):
        c.get(k, lambda: blob)
    c.get("a", lambda: b"")                     # a is now the most recently used
    c.get("e", lambda: blob)                    # 5 x 100 kB > 450 kB: b goes, not a
    kept, size = c.stats()
    assert kept == 4 and size <= 450_000
    compute, calls = counting(blob)
    c.get("a", compute)
    assert calls == []                          # still there
    c.get("b", compute)
    assert calls == [1]                         # was dropped, computed again


def test_a_result_too_big_for_the_budget_is_returned_but_not_kept():
    c = ResultCache(ttl_s=60, max_entries=100, max_bytes=1_000_000)
    c.get("small", lambda: b"s" * 1000)
    big = b"x" * 300_000                        # more than a quarter of the budget
    assert c.get("big", lambda: big) == big
    compute, calls = counting(big)
    c.get("big", compute)
    assert calls == [1]
    assert c.stats()[0] == 1                    # the small one was not pushed out


@left_to_full_run
def test_the_entry_bound_and_the_age_bound():
    c = ResultCache(ttl_s=0.2, max_entries=2, max_bytes=10**9)
    for k in ("a", "b", "c"):
        c.get(k, lambda k=k: k)
    assert c.stats()[0] == 2
    compute, calls = counting("a")
    c.get("a", compute)
    assert calls == [1]                         # a was the least recently used: dropped
    time.sleep(0.3)
    c.get("z", lambda: "z")                     # storing purges what has expired
    assert c.stats()[0] == 1
    compute, calls = counting("c")
    c.get("c", compute)
    assert calls == [1]


def test_sessions_missing_one_key_at_once_compute_it_once():
    c = ResultCache(ttl_s=60, max_entries=10, max_bytes=10**7)
    calls, started = [], threading.Event()

    def slow():
        calls.append(1)
        started.set()
        time.sleep(0.2)
        return pd.DataFrame({"n": [1]})

    out = []
    threads = [threading.Thread(target=lambda: out.append(c.get("k", slow))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == [1]
    assert [df["n"].tolist() for df in out] == [[1]] * 8
    assert len({id(df) for df in out}) == 8     # each session its own copy


def test_a_failed_computation_is_not_kept_and_does_not_block_the_key():
    c = ResultCache(ttl_s=60, max_entries=10, max_bytes=10**7)

    def boom():
        raise RuntimeError("query failed")

    try:
        c.get("k", boom)
    except RuntimeError:
        pass
    assert c.stats()[0] == 0
    assert c.get("k", lambda: 3) == 3
