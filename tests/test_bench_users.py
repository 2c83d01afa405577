"""bench/users_browser.py and bench/bench_users.py: the simulated users' filters are ones the
cockpit accepts, only Streamlit's own page-relative probes are set apart from errors, and the
percentile is the nearest rank. (The bench itself is run by hand; no timing here.)"""
from __future__ import annotations

import random
from datetime import date
from urllib.parse import parse_qs, urlsplit

from bench.bench_users import p95
from bench.users_browser import Dimensions, draw_filters, is_probe, page_url
from dashboard.filters import read_query

DIMS = Dimensions(first=date(2024, 12, 1), last=date(2026, 11, 22),
                  communities={"阳光社区": "清河街道", "朱房村社区": "清河街道", "西二旗社区": "西北旺镇"},
                  categories=("噪音扰民", "楼道堆物"))


def test_every_drawn_filter_set_is_read_back_by_the_cockpit():
    rng = random.Random(7)
    seen = set()
    for _ in range(300):
        q = draw_filters(rng, DIMS)
        f, ignored = read_query(q)
        assert ignored == []
        if f.date_from or f.date_to:
            assert DIMS.first <= f.date_from <= f.date_to <= DIMS.last
        if f.community:
            assert DIMS.communities[f.community] == f.street     # never a community of another street
        assert f.category in (None, *DIMS.categories)
        seen.add(tuple(sorted(q)))
    assert len(seen) >= 6                                          # the users really differ


def test_users_draw_their_own_filters_reproducibly():
    a = [draw_filters(random.Random("user-1"), DIMS) for _ in range(3)]
    b = [draw_filters(random.Random("user-1"), DIMS) for _ in range(3)]
    c = [draw_filters(random.Random("user-2"), DIMS) for _ in range(3)]
    assert a == b and a != c


def test_page_url_carries_the_filters():
    url = page_url("http://127.0.0.1:8501", "grid", {"community": "阳光社区", "from": "2025-01-01"})
    parts = urlsplit(url)
    assert parts.path == "/grid"
    assert parse_qs(parts.query) == {"community": ["阳光社区"], "from": ["2025-01-01"]}
    assert urlsplit(page_url("http://127.0.0.1:8501", "overview", {})).path == "/"


def test_only_streamlits_page_relative_probes_are_set_apart():
    base = "http://localhost:8501"
    assert is_probe(f"{base}/grid/_stcore/health", 404)
    assert is_probe(f"{base}/sql_console/_stcore/host-config", 404)
    assert is_probe(f"{base}/grid/_stcore/health", None)           # its console echo
    assert not is_probe(f"{base}/_stcore/health", 404)             # the real health check failing
    assert not is_probe(f"{base}/grid/_stcore/health", 500)
    assert not is_probe(f"{base}/grid/_stcore/stream", 404)
    assert not is_probe(f"{base}/static/js/index.js", 404)


def test_p95_is_the_nearest_rank():
    assert p95([1.0]) == 1.0
    assert p95([float(i) for i in range(1, 21)]) == 19.0
    assert p95([float(i) for i in range(1, 101)]) == 95.0


def test_priming_visits_are_reported_apart_but_their_errors_count():
    from bench.bench_users import summarise
    from bench.users_browser import Load

    loads = [Load(0, "grid", {}, "open", -5.0, 4.0, first_visit=True, prime=True),
             Load(1, "funds", {}, "open", -1.0, None, ["timeout after 60 s"], first_visit=True, prime=True),
             Load(0, "grid", {}, "open", 0.5, 1.5),
             Load(0, "funds", {}, "navigate", 20.0, 0.5, ["console: boom"])]
    s = summarise({"users": 2, "loads": loads, "alone": [], "rss": [100.0], "load": [1.0],
                   "seconds": 60.0, "cpu": {"server": 1.0, "browser": 2.0}})
    assert s["cpu_loads"] == 4                             # CPU was sampled over the priming too
    assert sorted(s["all"]) == [0.5, 1.5]                  # the window only
    assert s["primed"] == [4.0]
    assert s["first_visit"] == [] and s["open_returning"] == [1.5]
    assert s["loads"] == 2 and s["rendered"] == 2
    assert [e for _, e in s["errors"]] == ["timeout after 60 s", "console: boom"]
