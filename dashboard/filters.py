"""The global filters every page shares, and their round trip through the URL.

No streamlit import: app.py reads/writes st.query_params through `to_query`/`from_query`.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date

ALL = None  # a filter left open


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
