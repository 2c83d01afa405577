"""Filters: URL round trip, bind values, previous period."""
from __future__ import annotations

from datetime import date

from dashboard.filters import (Filters, default_window, from_query, opening, ordered, place_options,
                               to_query)


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


PLACES = [("梧桐街道", "秋实社区", "QS-01"), ("梧桐街道", "秋实社区", "QS-02"),
          ("梧桐街道", "春晖社区", "CH-01"), ("银杏街道", "银杏社区", "YX-01"), (None, None, None)]
FIRST, LAST = date(2025, 1, 1), date(2026, 6, 30)


def test_opening_defaults_to_the_datas_last_30_days():
    opened = opening({}, FIRST, LAST, PLACES, ["噪音扰民"])
    assert opened.filters == Filters(date_from=date(2026, 6, 1), date_to=LAST)
    assert (opened.clamped, opened.ignored) == (False, False)
    assert default_window(LAST) == (date(2026, 6, 1), LAST)


def test_opening_moves_url_dates_into_the_data_and_notes_unreadable_ones():
    opened = opening({"from": "0001-01-01", "to": "9999-12-31"}, FIRST, LAST, PLACES, [])
    assert (opened.filters.date_from, opened.filters.date_to, opened.clamped) == (FIRST, LAST, True)
    # only `from` given: the end defaults to the data's last day, nothing moved
    opened = opening({"from": "2026-01-01", "to": "junk"}, FIRST, LAST, PLACES, [])
    assert (opened.filters.date_from, opened.filters.date_to) == (date(2026, 1, 1), LAST)
    assert (opened.clamped, opened.ignored) == (False, True)


def test_opening_keeps_reversed_dates_for_the_widgets_and_reads_them_in_order():
    opened = opening({"from": "2026-03-31", "to": "2026-03-01"}, FIRST, LAST, PLACES, [])
    assert (opened.seeds.date_from, opened.seeds.date_to) == (date(2026, 3, 31), date(2026, 3, 1))
    assert (opened.filters.date_from, opened.filters.date_to) == (date(2026, 3, 1), date(2026, 3, 31))
    assert ordered(date(2026, 3, 31), date(2026, 3, 1))[2] and not ordered(None, LAST)[2]


def test_opening_drops_choices_the_data_does_not_offer_cascading():
    q = {"street": "梧桐街道", "community": "银杏社区", "grid": "YX-01", "category": "噪音扰民",
         "lang": "en"}
    f = opening(q, FIRST, LAST, PLACES, ["噪音扰民"]).filters
    # 银杏社区 is not in 梧桐街道, so the community and its grid go; the street stays
    assert (f.street, f.community, f.grid_id, f.category, f.lang) == ("梧桐街道", None, None, "噪音扰民", "en")
    f = opening({"community": "秋实社区", "grid": "QS-02", "category": "没有"}, FIRST, LAST, PLACES, []).filters
    assert (f.street, f.community, f.grid_id, f.category) == (None, "秋实社区", "QS-02", None)
    assert place_options(PLACES, "梧桐街道", "秋实社区") == (["梧桐街道", "银杏街道"],
                                                         ["春晖社区", "秋实社区"], ["QS-01", "QS-02"])


def test_opening_without_dated_data_keeps_the_urls_dates():
    f = opening({"from": "2026-01-01"}, None, None, PLACES, []).filters
    assert (f.date_from, f.date_to) == (date(2026, 1, 1), None)
