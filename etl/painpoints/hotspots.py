"""Stage 8 - hot spots (热点事件): (place, pain point) pairs per month and scope, ranked by how
concentrated and how sudden they are (pure).

    burst = n x (0.2 + C) x (1 + G + 0.2·U + 0.15·L)

n  messages of the pain point that name the place, in the scope, this month (the size)
C  concentration: n / all messages of the pain point in the scope this month (0..1): a
   broad theme spread over many places gets a small C at every one of them
G  suddenness: growth against the place's own baseline b = mean monthly n of the same
   (scope, place, pain point) over the previous 3 calendar months (0 when absent),
   G = min(1, max(0, n - b) / (b + 1) / 3): 1 once n is at least 3(b + 1) + b
U  share of the n messages still unreplied
L  min(1, mean likes of the n messages / (2 x mean likes of all the scope's messages))

A pair needs `min_size` messages to count. Ranks per (month, scope): higher burst, then
larger n, then place and pain point id. Scopes are '全街道' and each community, as for pain
points. Places come from etl.painpoints.places (canonical names); a message naming two
places counts at both.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from etl import codes
from etl.painpoints.rank import by_scope

VERSION = "hot-1"        # part of the stored hot spots' version: change it with the formula
W_GROWTH, W_UNREPLIED, W_LIKES, C_FLOOR = 1.0, 0.2, 0.15, 0.2
COLUMNS = ["month_on", "scope", "rank", "place", "pain_point_id", "label", "size", "baseline",
           "growth", "share", "burst", "likes", "unreplied_share", "representative_ids",
           "representative_texts"]


def burst(size, baseline, share, unreplied, likes_index):
    """The burst formula above, vectorised over numpy arrays or pandas Series."""
    n, b = np.asarray(size, dtype=float), np.asarray(baseline, dtype=float)
    g = np.minimum(1.0, np.maximum(0.0, n - b) / (b + 1) / 3)
    return n * (C_FLOOR + np.asarray(share, dtype=float)) * (
        1 + W_GROWTH * g + W_UNREPLIED * np.asarray(unreplied, dtype=float)
        + W_LIKES * np.minimum(1.0, np.asarray(likes_index, dtype=float)))


def _month_index(months: pd.Series) -> np.ndarray:
    d = pd.to_datetime(months)
    return (d.dt.year * 12 + d.dt.month - 1).to_numpy()


def _baseline(counts: pd.DataFrame, months: int) -> np.ndarray:
    """Mean n of the same (scope, place, pain point) over the `months` months before each row."""
    key = ["scope", "place", "pain_point_id"]
    past = counts[key + ["_m", "size"]]
    total = np.zeros(len(counts))
    for k in range(1, months + 1):
        prev = past.assign(_m=past["_m"] + k).rename(columns={"size": "_prev"})
        total += counts[key + ["_m"]].merge(prev, on=key + ["_m"], how="left")["_prev"].fillna(0).to_numpy()
    return total / months


@dataclass
class HotSpotRanker:
    min_size: int = 3
    baseline_months: int = 3
    top_n: int = 10           # stored per (month, scope); pages show the first three
    quotes: int = 3

    def rank(self, messages: pd.DataFrame, labels: pd.DataFrame, totals: pd.DataFrame) -> pd.DataFrame:
        """Hot-spot rows (COLUMNS) for every month in `messages`.

        messages: one row per message of a pain point that names a place, with feedback_id,
        month_on, community, pain_point_id, likes, replied, quote (one-line text) and places
        (list of canonical names). labels: month_on, pain_point_id, label (pain_point_clusters).
        totals: every message counted per (month_on, community, pain_point_id - None for
        outliers) as n with likes (their sum): the denominators of C and L.
        """
        if messages.empty:
            return pd.DataFrame(columns=COLUMNS)
        t = by_scope(totals.assign(likes=totals["likes"].fillna(0).astype(float)))
        t["_m"] = _month_index(t["month_on"])
        per_scope = t.groupby(["scope", "_m"])[["likes", "n"]].sum()
        scope_likes = (per_scope["likes"] / per_scope["n"]).rename("scope_likes")
        pp_size = t[t["pain_point_id"].notna()].groupby(["scope", "_m", "pain_point_id"])["n"].sum(
            ).rename("pp_size")
        m = by_scope(messages[["feedback_id", "month_on", "community", "pain_point_id", "likes",
                               "replied", "places", "quote"]])
        m["_m"] = _month_index(m["month_on"])
        m["_likes"] = m["likes"].fillna(0).astype(float)
        x = m[m["places"].map(len) > 0].explode("places").rename(columns={"places": "place"})
        x["_unreplied"] = (~x["replied"].astype(bool)).astype(float)
        key = ["scope", "_m", "place", "pain_point_id"]
        counts = x.groupby(key, sort=True).agg(
            month_on=("month_on", "first"), size=("feedback_id", "size"), likes=("_likes", "sum"),
            mean_likes=("_likes", "mean"), unreplied_share=("_unreplied", "mean")).reset_index()
        if counts.empty:
            return pd.DataFrame(columns=COLUMNS)
        counts["baseline"] = np.round(_baseline(counts, self.baseline_months), 6)
        counts = counts[counts["size"] >= self.min_size]
        counts = counts.join(pp_size, on=["scope", "_m", "pain_point_id"]).join(
            scope_likes, on=["scope", "_m"])
        counts["share"] = np.round(counts["size"] / counts["pp_size"], 6)
        counts["growth"] = np.round(np.where(counts["baseline"] > 0,
                                             counts["size"] / counts["baseline"].where(
                                                 counts["baseline"] > 0, 1) - 1, np.nan), 6)
        likes_index = np.where(counts["scope_likes"] > 0, counts["mean_likes"] / (
            2 * counts["scope_likes"].where(counts["scope_likes"] > 0, 1)), 0.0)
        counts["burst"] = np.round(burst(counts["size"], counts["baseline"], counts["share"],
                                         counts["unreplied_share"], likes_index), 6)
        counts = counts.sort_values(["scope", "_m", "burst", "size", "place", "pain_point_id"],
                                    ascending=[True, True, False, False, True, True])
        top = counts.groupby(["scope", "_m"], sort=False).head(self.top_n).copy()
        top["rank"] = top.groupby(["scope", "_m"], sort=False).cumcount() + 1
        return self._finish(top, x, labels)

    def _finish(self, top: pd.DataFrame, x: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
        """Labels and representative messages (most liked first, then by id)."""
        key = ["scope", "_m", "place", "pain_point_id"]
        best = x.merge(top[key], on=key).sort_values(key + ["_likes", "feedback_id"],
                                                     ascending=[True] * 4 + [False, True])
        best = best.groupby(key, sort=False).head(self.quotes)
        reps = best.groupby(key, sort=False).agg(representative_ids=("feedback_id", list),
                                                 representative_texts=("quote", list))
        top = top.join(reps, on=key)
        lab = labels.assign(_m=_month_index(labels["month_on"]))[["_m", "pain_point_id", "label"]]
        top = top.merge(lab, on=["_m", "pain_point_id"], how="left")
        top["label"] = top["label"].fillna(top["pain_point_id"])
        top["likes"] = top["likes"].round().astype(int)
        top["size"] = top["size"].astype(int)
        street_last = top["scope"].ne(codes.WHOLE_STREET)
        return top.assign(_o=street_last).sort_values(["_m", "_o", "scope", "rank"])[COLUMNS].reset_index(
            drop=True)
