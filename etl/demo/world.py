"""The street and its calendar: the generator's context (one rng, the 24 months) and the random
draws every other module shares (rows per month, categories per row, times of day)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from etl.demo import text as T

DAY = 86400


@dataclass
class Ctx:
    rng: np.random.Generator
    scale: float
    end: date
    inbox: Path
    months: list[date]
    files: list[Path] = field(default_factory=list)
    rows: dict = field(default_factory=dict)
    bad: list = field(default_factory=list)
    planted: int = 0

    @property
    def end_s(self) -> int:     # the last second of `end`
        return epoch_s(self.end) + DAY - 1

    @property
    def month_s(self) -> np.ndarray:
        return np.array([epoch_s(m) for m in self.months], dtype=np.int64)

    @property
    def month_days(self) -> np.ndarray:    # days with data in each month
        nxt = [*(self.months[1:]), None]
        return np.array([(n - m).days if n else self.end.day for m, n in zip(self.months, nxt)])


def epoch_s(d: date) -> int:
    return (d - date(1970, 1, 1)).days * DAY


def calendar(end: date) -> list[date]:
    """The first day of each of the 24 calendar months ending with `end`'s month."""
    first = date(end.year - 2 + (end.month == 12), end.month % 12 + 1, 1)
    return [date(first.year + (first.month - 1 + i) // 12, (first.month - 1 + i) % 12 + 1, 1) for i in range(24)]


def monthly_volumes(ctx: Ctx, per_month: float, floor: float = 0.0) -> np.ndarray:
    """Rows per month: slight growth over the two years, pro rata in the last (partial) month."""
    full = np.array([(m.replace(day=28) + timedelta(days=4)).replace(day=1).toordinal() - m.toordinal()
                     for m in ctx.months])
    trend = 0.85 + 0.3 * np.arange(24) / 23
    return np.round(per_month * ctx.scale * trend * np.maximum(ctx.month_days / full, floor)).astype(np.int64)


def pick_rows(rng: np.random.Generator, weights: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """One category per row, drawn from the weight row weights[rows[i]] (vectorised)."""
    cdf = np.cumsum(weights / weights.sum(1, keepdims=True), 1)
    return np.minimum((rng.random(len(rows))[:, None] >= cdf[rows]).sum(1), weights.shape[1] - 1)


def community_weights(keys: list[str], table: dict) -> np.ndarray:
    """[key, community] weights: population x the community kind's affinity for the key."""
    return np.array([[pop * table.get(kind, {}).get(k, 1.0) for _, _, pop, kind in T.COMMUNITIES] for k in keys])


def random_times(ctx: Ctx, month: np.ndarray, hours: list[int]) -> np.ndarray:
    """Epoch seconds: a random day of the row's month (up to `end`), hour by the profile."""
    rng, n = ctx.rng, len(month)
    day = (rng.random(n) * ctx.month_days[month]).astype(np.int64)
    hour = rng.choice(24, n, p=np.array(hours) / sum(hours))
    return ctx.month_s[month] + day * DAY + hour * 3600 + rng.integers(0, 3600, n)


def weighted_choice(rng: np.random.Generator, weights: dict) -> str:
    keys = list(weights)
    p = np.array([weights[k] for k in keys], dtype=float)
    return keys[int(rng.choice(len(keys), p=p / p.sum()))]
