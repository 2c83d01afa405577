"""dashboard/cache.py: every cached read has a TTL, an entry bound and (query results) a byte
bound, set by env."""
from __future__ import annotations

import importlib

import duckdb
import pytest

from dashboard.filters import Filters

CALLS: list[int] = []


def probe(con, filters: Filters, x: int) -> int:
    """A 'query' that counts its real executions (resolved by cache._query by dotted name)."""
    CALLS.append(x)
    return int(con.execute("SELECT $x::INTEGER * 2", {"x": x}).fetchone()[0])


@pytest.fixture
def reload_cache(monkeypatch):
    """Re-import dashboard.cache under the given env; restore the defaults afterwards."""
    from dashboard import cache

    def _reload(**env: str):
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        cache.clear()
        return importlib.reload(cache)
    yield _reload
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    cache.clear()
    importlib.reload(cache)


ENV = ("COCKPIT_CACHE_TTL_S", "COCKPIT_CACHE_ENTRIES", "COCKPIT_CACHE_MB")


def _bounds(fn) -> tuple:
    return fn._info.ttl, fn._info.max_entries


def _results(cache) -> tuple:
    return cache.RESULTS.ttl_s, cache.RESULTS.max_entries, cache.RESULTS.max_bytes


def test_defaults_bound_every_cached_read(reload_cache, monkeypatch):
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    cache = reload_cache()
    assert (cache.CACHE_TTL_S, cache.CACHE_ENTRIES, cache.CACHE_MB) == (600, 300, 256)
    assert _results(cache) == (600, 300, 256 * 2**20)
    ttl, entries = _bounds(cache._has_data)
    assert ttl == 600 and 0 < entries <= 300


def test_env_sets_the_bounds(reload_cache):
    cache = reload_cache(COCKPIT_CACHE_TTL_S="45", COCKPIT_CACHE_ENTRIES="7", COCKPIT_CACHE_MB="3")
    assert _results(cache) == (45, 7, 3 * 2**20)
    assert _bounds(cache._has_data) == (45, 7)


@pytest.mark.parametrize("name", ["COCKPIT_CACHE_ENTRIES", "COCKPIT_CACHE_MB"])
@pytest.mark.parametrize("bad", ["0", "-3", "ten", "1.5"])
def test_bad_env_values_are_named(reload_cache, name, bad):
    with pytest.raises(ValueError, match=name):
        reload_cache(**{name: bad})


def test_least_recently_used_results_are_evicted(reload_cache, use_db, tmp_path):
    db = tmp_path / "tiny.duckdb"
    duckdb.connect(str(db)).close()
    use_db(db)
    cache = reload_cache(COCKPIT_CACHE_ENTRIES="2")
    CALLS.clear()
    f = Filters()
    assert [cache.run(probe, f, x) for x in (1, 2, 1, 2)] == [2, 4, 2, 4]
    assert CALLS == [1, 2]                        # two entries fit: the repeats are cache hits
    assert cache.run(probe, f, 3) == 6            # a third evicts the least recently used (1)
    assert cache.run(probe, f, 2) == 4 and CALLS == [1, 2, 3]
    assert cache.run(probe, f, 1) == 2 and CALLS == [1, 2, 3, 1]


def test_unhashable_arguments_are_keyed_by_value(reload_cache, use_db, tmp_path):
    db = tmp_path / "tiny.duckdb"
    duckdb.connect(str(db)).close()
    use_db(db)
    cache = reload_cache()
    CALLS.clear()
    f = Filters()
    assert cache.run(probe_list, f, [1, 2]) == 3
    assert cache.run(probe_list, f, [1, 2]) == 3 and CALLS == [[1, 2]]
    assert cache.run(probe_list, f, [2, 2]) == 4 and CALLS == [[1, 2], [2, 2]]


def probe_list(con, filters: Filters, xs: list[int]) -> int:
    CALLS.append(list(xs))
    return sum(xs)
