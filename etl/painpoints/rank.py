"""Stage 7 - rank: heat of every pain point in every scope, and the month's top-3 (pure).

    heat = size x (1 + 0.15·G + 0.2·U + 0.2·R + 0.15·L)

size  messages of the pain point in the scope this month (volume leads: the multiplier is
      1..1.7, so a pain point needs ~70% more messages' worth of urgency to pass a bigger one)
G     growth against the previous calendar month in the same scope, clipped to [0, 1]
      (a new pain point, or one absent last month, counts 0: no history, no bonus)
U     share of its messages still unreplied (no reply text and no reply time)
R     share of its rated messages rated 1 or 2 (of 5); 0 when none is rated
L     min(1, mean likes of its messages / (2 x mean likes of all messages in the scope))

Scopes are '全街道' (every message) and each community. A pain point needs `min_size`
messages in a scope to rank there. Ties: larger size, then smaller id.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from etl import codes

STREET = codes.WHOLE_STREET
W_GROWTH, W_UNRESOLVED, W_LOW_RATING, W_LIKES = 0.15, 0.2, 0.2, 0.15
WEIGHTS_VERSION = "heat-2"    # part of the engine version: changing weights re-ranks every month


def heat(size, growth, unresolved, low_rating, likes_index):
    """The heat formula above, vectorised over pandas Series or numpy arrays."""
    g = np.clip(np.nan_to_num(np.asarray(growth, dtype=float), nan=0.0), 0.0, 1.0)
    return np.asarray(size, dtype=float) * (
        1 + W_GROWTH * g + W_UNRESOLVED * np.asarray(unresolved, dtype=float)
        + W_LOW_RATING * np.asarray(low_rating, dtype=float)
        + W_LIKES * np.minimum(1.0, np.asarray(likes_index, dtype=float)))


def by_scope(members: pd.DataFrame) -> pd.DataFrame:
    """members once with scope '全街道' and once more with their community as scope."""
    street = members.assign(scope=STREET)
    local = members[members["community"].notna()]
    return pd.concat([street, local.assign(scope=local["community"])], ignore_index=True)


def scope_stats(members: pd.DataFrame, prev_sizes: dict[tuple[str, str], int]) -> pd.DataFrame:
    """One row per (scope, pain point) of one month's messages, heat included."""
    m = by_scope(members)
    m["_low"] = m["rating"].le(2).astype(float).where(m["rating"].notna())
    m["_unreplied"] = (~m["replied"].astype(bool)).astype(float)
    m["_likes"] = m["likes"].fillna(0).astype(float)
    per_scope = m.groupby("scope").agg(total=("feedback_id", "size"), scope_likes=("_likes", "mean"))
    g = m[m["pain_point_id"].notna()].groupby(["scope", "pain_point_id"], sort=True)
    out = g.agg(size=("feedback_id", "size"), unresolved_share=("_unreplied", "mean"),
                low_rating=("_low", "mean"), avg_rating=("rating", "mean"),
                likes=("_likes", "sum"), mean_likes=("_likes", "mean")).reset_index()
    out = out.join(per_scope, on="scope")
    out["share"] = out["size"] / out["total"]
    prev = np.array([prev_sizes.get((s, p), 0) for s, p in zip(out["scope"], out["pain_point_id"])],
                    dtype=float)
    out["growth"] = np.round(np.where(prev > 0, out["size"] / np.where(prev > 0, prev, 1) - 1, np.nan), 6)
    likes_index = np.where(out["scope_likes"] > 0,
                           out["mean_likes"] / (2 * out["scope_likes"].where(out["scope_likes"] > 0, 1)), 0.0)
    out["heat"] = np.round(heat(out["size"], out["growth"], out["unresolved_share"],
                                out["low_rating"].fillna(0.0), likes_index), 6)
    return out.drop(columns=["total", "scope_likes"])


@dataclass
class HeatRanker:
    top_n: int = 3
    min_size: int = 3

    def rank(self, members: pd.DataFrame, prev_sizes: dict[tuple[str, str], int],
             prev_streak: dict[tuple[str, str], int]) -> pd.DataFrame:
        """Top-n rows per scope: scope, rank, pain_point_id, size, share, growth, heat, ... .

        members: one row per message of the month with feedback_id, community, pain_point_id
        (None = outlier), rating, likes, replied. prev_sizes: (scope, id) -> size last
        calendar month; prev_streak: (scope, id) -> months_in_top3 last calendar month.
        """
        stats = scope_stats(members, prev_sizes)
        stats = stats[stats["size"] >= self.min_size]
        stats = stats.sort_values(["scope", "heat", "size", "pain_point_id"],
                                  ascending=[True, False, False, True])
        top = stats.groupby("scope", sort=False).head(self.top_n).copy()
        top["rank"] = top.groupby("scope", sort=False).cumcount() + 1
        top["months_in_top3"] = [prev_streak.get((s, p), 0) + 1
                                 for s, p in zip(top["scope"], top["pain_point_id"])]
        street_first = top["scope"].ne(STREET)
        return top.assign(_o=street_first).sort_values(["_o", "scope", "rank"]).drop(
            columns="_o").reset_index(drop=True)
