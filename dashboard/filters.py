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
        return {
            "date_from": self.date_from,
            "date_to_excl": (self.date_to + timedelta(days=1)) if self.date_to else None,
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
        new_to = self.date_from - timedelta(days=1)
        return dataclasses.replace(self, date_from=new_to - length, date_to=new_to)


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
    kwargs: dict = {}
    for short, attr in _KEYS.items():
        raw = q.get(short)
        if raw in (None, ""):
            continue
        if attr in ("date_from", "date_to"):
            try:
                kwargs[attr] = date.fromisoformat(str(raw))
            except ValueError:
                continue
        elif attr == "lang":
            kwargs[attr] = "en" if raw == "en" else "zh"
        else:
            kwargs[attr] = str(raw)
    return Filters(**kwargs)
