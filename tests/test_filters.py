"""Filters: URL round trip, bind values, previous period."""
from __future__ import annotations

from datetime import date

from dashboard.filters import Filters, from_query, to_query


def test_round_trip():
    f = Filters(date_from=date(2026, 1, 1), date_to=date(2026, 3, 31), street="梧桐街道",
                community="秋实社区", grid_id="QS-01", category="噪音扰民", lang="en")
    q = to_query(f)
    assert q == {"from": "2026-01-01", "to": "2026-03-31", "street": "梧桐街道",
                 "community": "秋实社区", "grid": "QS-01", "category": "噪音扰民", "lang": "en"}
    assert from_query(q) == f


def test_defaults_stay_out_of_the_url():
    assert to_query(Filters()) == {}
    assert from_query({}) == Filters()


def test_malformed_values_are_ignored():
    assert from_query({"from": "2026-13-01", "lang": "fr", "community": ""}) == Filters()


def test_params_and_previous_period():
    f = Filters(date_from=date(2026, 6, 1), date_to=date(2026, 6, 30))
    assert f.params()["date_to_excl"] == date(2026, 7, 1)
    prev = f.previous_period()
    assert (prev.date_from, prev.date_to) == (date(2026, 5, 2), date(2026, 5, 31))
    assert Filters().previous_period() == Filters()
