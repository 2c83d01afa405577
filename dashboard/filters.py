"""The global filters every page shares, their round trip through the URL, and the filters a
session opens with for a URL (`opening`).

No streamlit import: app.py reads/writes st.query_params through `to_query`/`from_query`, and
seeds the sidebar's widgets from `opening`; dashboard/prefetch.py computes the same `opening`
for a page's HTML request, so what it reads ahead is what the page will ask for.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Iterable

ALL = None  # a filter left open
DEFAULT_PERIOD_DAYS = 30      # the default date range: the last 30 days of data


@dataclass(frozen=True)
class Filters:
    """Global filters; hashable so they can key st.cache_data. None means 'all'."""
    date_from: date | None = None
    date_to: date | None = None        # inclusive
    street: str | None = None
    community: str | None = None
    grid_id: str | None = None
    category: str | None = None        # grid-report / project category
    lang: str = "zh"                   # 'zh' | 'en'

    def params(self) -> dict:
        """Bind values for SQL: $date_from, $date_to_excl, $street, $community, $grid_id, $category."""
        from datetime import timedelta
        # date.max has no next day: an end that far out is no end at all
        end = self.date_to + timedelta(days=1) if self.date_to and self.date_to < date.max else None
        return {
            "date_from": self.date_from,
            "date_to_excl": end,
            "street": self.street,
            "community": self.community,
            "grid_id": self.grid_id,
            "category": self.category,
        }

    def previous_period(self) -> "Filters":
        """The period of the same length just before this one (for KPI deltas)."""
        if not (self.date_from and self.date_to):
            return self
        length = self.date_to - self.date_from
        from datetime import timedelta
        try:
            new_to = self.date_from - timedelta(days=1)
            return dataclasses.replace(self, date_from=new_to - length, date_to=new_to)
        except OverflowError:   # no period before year 1: compare with nothing
            return dataclasses.replace(self, date_from=None, date_to=None)


_KEYS = {"from": "date_from", "to": "date_to", "street": "street", "community": "community",
         "grid": "grid_id", "category": "category", "lang": "lang"}


def to_query(f: Filters) -> dict[str, str]:
    """Filters -> URL query params (only what is set)."""
    out: dict[str, str] = {}
    for short, attr in _KEYS.items():
        value = getattr(f, attr)
        if value is None or (attr == "lang" and value == "zh"):
            continue
        out[short] = value.isoformat() if isinstance(value, date) else str(value)
    return out


def from_query(q: dict[str, str]) -> Filters:
    """URL query params -> Filters; malformed values are ignored, never raised."""
    return read_query(q)[0]


def read_query(q: dict[str, str]) -> tuple[Filters, list[str]]:
    """(URL query params -> Filters, the names of the date params that were ignored because
    they are not dates), so the shell can say so."""
    kwargs: dict = {}
    ignored: list[str] = []
    for short, attr in _KEYS.items():
        raw = q.get(short)
        if raw in (None, ""):
            continue
        if attr in ("date_from", "date_to"):
            try:
                kwargs[attr] = date.fromisoformat(str(raw))
            except ValueError:
                ignored.append(short)
        elif attr == "lang":
            kwargs[attr] = "en" if raw == "en" else "zh"
        else:
            kwargs[attr] = str(raw)
    return Filters(**kwargs), ignored


def clamp_dates(d_from: date | None, d_to: date | None, first: date,
                last: date) -> tuple[date | None, date | None, bool]:
    """(from, to) moved into the data's range [first, last], and whether either moved.

    A link such as `?from=0001-01-01&to=9999-12-31` would otherwise reach every panel (and
    pandas, whose timestamps end in 2262) with dates no query can do arithmetic on.
    """
    def inside(d: date | None) -> date | None:
        return None if d is None else min(max(d, first), last)

    new_from, new_to = inside(d_from), inside(d_to)
    return new_from, new_to, (new_from, new_to) != (d_from, d_to)


def default_window(last: date) -> tuple[date, date]:
    """The date range a session opens with when its URL names none: the data's last
    DEFAULT_PERIOD_DAYS days."""
    return last - timedelta(days=DEFAULT_PERIOD_DAYS - 1), last


def ordered(d_from: date | None, d_to: date | None) -> tuple[date | None, date | None, bool]:
    """(from, to) in order, and whether they were swapped (a start after the end)."""
    if d_from and d_to and d_from > d_to:
        return d_to, d_from, True
    return d_from, d_to, False


Place = tuple  # (street, community, grid_id), one per grid: the sidebar's dimension rows


def place_options(places: Iterable[Place], street: str | None = None,
                  community: str | None = None) -> tuple[list[str], list[str], list[str]]:
    """The sidebar's cascading choices: (streets, the communities in `street`, the grids in
    `community`), each sorted; None for street or community means all."""
    rows = list(places)
    streets = sorted({s for s, _, _ in rows if isinstance(s, str)})      # not NULL (None, NaN)
    in_street = [p for p in rows if street is None or p[0] == street]
    communities = sorted({c for _, c, _ in in_street if isinstance(c, str)})
    in_comm = [p for p in in_street if community is None or p[1] == community]
    grids = sorted({g for _, _, g in in_comm if isinstance(g, str)})
    return streets, communities, grids


@dataclass(frozen=True)
class Opening:
    """What a session opens with for a URL: `seeds` are the sidebar widgets' first values (dates
    moved into the data, choices the data does not offer dropped, the dates as given even if
    reversed), `clamped`/`ignored` whether the sidebar says the URL's dates were moved/unreadable."""
    seeds: Filters
    clamped: bool = False
    ignored: bool = False

    @property
    def filters(self) -> Filters:
        """The filters the pages read with on that first run (the dates in order)."""
        d_from, d_to, _ = ordered(self.seeds.date_from, self.seeds.date_to)
        return dataclasses.replace(self.seeds, date_from=d_from, date_to=d_to)


def opening(query: dict[str, str], first: date | None, last: date | None, places: Iterable[Place],
            categories: Iterable[str]) -> Opening:
    """The filters the sidebar opens with for a URL query, given the data the visitor may see:
    its first and last dates (None when it has none), its places (street, community, grid_id)
    and categories. Dates the URL leaves out default to the last DEFAULT_PERIOD_DAYS days; URL
    dates outside [first, last] are moved in (clamp_dates); a street, community, grid or
    category the data does not offer is dropped (cascading street -> community -> grid). Pure:
    app.py's sidebar and dashboard/prefetch.py both call it, so they compute the same filters."""
    f, ignored = read_query(query)
    d_from, d_to, clamped = f.date_from, f.date_to, False
    if last is not None:
        given = d_from is not None or d_to is not None
        window_from, window_to = default_window(last)
        d_from = window_from if d_from is None else d_from
        d_to = window_to if d_to is None else d_to
        if given:
            d_from, d_to, clamped = clamp_dates(d_from, d_to, first or last, last)
    places = list(places)
    streets, _, _ = place_options(places)
    street = f.street if f.street in streets else None
    _, communities, _ = place_options(places, street)
    community = f.community if f.community in communities else None
    _, _, grids = place_options(places, street, community)
    grid = f.grid_id if f.grid_id in grids else None
    category = f.category if f.category in set(categories) else None
    seeds = Filters(date_from=d_from, date_to=d_to, street=street, community=community,
                    grid_id=grid, category=category, lang=f.lang)
    return Opening(seeds, clamped=clamped, ignored=bool(ignored))
