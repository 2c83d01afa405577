"""Usability demo data (issue 15, platform effectiveness): residents rating the platform itself.

~1.5k x scale ratings over the 24 months, 1-5 (mostly 4), through the platform's entrances; the hotline
rates lower than the mini program. Planted: PLANTED_LOW_COMMUNITY rates the platform clearly lower
(mean near 3), PLANTED_SPARSE_COMMUNITY gives only SPARSE_RATINGS ratings in all (fewer than the
5 the page needs for a mean: it shows "—"), and one row scores 6 (rejected: rating must be 1-5).
Its own rng stream, so every older export stays byte-identical.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from etl.demo import text as T
from etl.demo.cells import iso_text
from etl.demo.exports import emit, insert_rows
from etl.demo.world import Ctx, epoch_s

FILE = "平台易用性评分.csv"
HEADERS = {"rating_id": "评分编号", "submitted_at": "提交时间", "community": "社区", "channel": "使用渠道",
           "ease_score": "易用性评分", "comment": "意见建议", "resident_id": "评分人"}
CHANNELS = {"小程序": 0.50, "公众号": 0.30, "热线": 0.15, "网页": 0.05}
CHANNEL_SHIFT = {"小程序": 0.0, "公众号": -0.1, "热线": -0.5, "网页": -0.3}
PLANTED_LOW_COMMUNITY = "安宁里社区"
PLANTED_SPARSE_COMMUNITY = "朱房村社区"
SPARSE_RATINGS = 3
GOOD = ("操作简单，一看就会", "报事很方便", "进度能查到，挺好", "界面清楚", "老人也会用")
BAD = ("找不到入口", "字太小看不清", "提交了没反应", "步骤太多", "登录总失败")


def build_ratings(rng: np.random.Generator, ctx: Ctx) -> pd.DataFrame:
    """One row per rating (true values): community, channel, second, score 1-5, comment, resident."""
    n = int(round(1500 * ctx.scale))
    dense = [c for c, *_ in T.COMMUNITIES if c != PLANTED_SPARSE_COMMUNITY]
    weights = np.array([pop for c, _, pop, _ in T.COMMUNITIES if c != PLANTED_SPARSE_COMMUNITY])
    comm = np.array(dense, dtype=object)[rng.choice(len(dense), n, p=weights / weights.sum())]
    comm = np.concatenate([comm, [PLANTED_SPARSE_COMMUNITY] * SPARSE_RATINGS])
    m = len(comm)
    channel = rng.choice(list(CHANNELS), m, p=np.array(list(CHANNELS.values())))
    base = 4.0 + np.array([CHANNEL_SHIFT[c] for c in channel]) - np.where(comm == PLANTED_LOW_COMMUNITY, 1.1, 0.0)
    score = np.clip(np.rint(base + rng.normal(0, 0.8, m)), 1, 5).astype(int)
    start = epoch_s(ctx.months[0])
    at = start + (rng.random(m) * (ctx.end_s - start)).astype(np.int64)
    words = rng.integers(0, 5, m)
    comment = np.where(rng.random(m) < 0.4,
                       [(BAD if s <= 2 else GOOD)[int(k)] for s, k in zip(score.tolist(), words.tolist())], None)
    for i in rng.choice(m, max(3, m // 150), replace=False).tolist():   # a phone number: masked at load
        comment[i] = (comment[i] or "有问题") + "，联系我" + T.phone(rng, 1)[0]
    names = T.person(rng, m)
    resident = [f"{nm}#U{int(k):04d}" for nm, k in zip(names, rng.integers(0, 3000, m))]
    out = pd.DataFrame({"community": comm, "channel": channel, "submitted_at": at, "ease_score": score,
                        "comment": comment, "resident_id": resident})
    out = out.sort_values(["submitted_at", "community"], kind="stable", ignore_index=True)
    out.insert(0, "rating_id", [f"YY{i + 1:05d}" for i in range(len(out))])
    return out


def write_ratings(rng: np.random.Generator, ctx: Ctx, ratings: pd.DataFrame) -> None:
    view = ratings.assign(submitted_at=iso_text(ratings.submitted_at.to_numpy()),
                          ease_score=ratings.ease_score.astype(str))
    bad = view.iloc[[0]].assign(rating_id="YY-BAD-1", ease_score="6")
    view, rows = insert_rows(rng, view, bad)
    ctx.bad.append({"kind": "usability_ratings", "file": FILE, "sheet": None, "row_number": int(rows[0]),
                    "column": HEADERS["ease_score"], "key": "YY-BAD-1", "value": "6",
                    "reason": "rating must be 1-5"})
    emit(ctx, FILE, HEADERS, view, "utf-8-sig")


def generate(ctx: Ctx, seed: int, truth: Path) -> dict:
    """Write the usability export and truth/usability_truth.json; return its row count (reject included)."""
    rng = np.random.default_rng([seed, 15, 2])   # its own stream: the older exports stay byte-identical
    ratings = build_ratings(rng, ctx)
    write_ratings(rng, ctx, ratings)
    by_comm = ratings.groupby("community").ease_score.agg(["mean", "count"])
    facts = {"planted_low_community": PLANTED_LOW_COMMUNITY, "planted_sparse_community": PLANTED_SPARSE_COMMUNITY,
             "sparse_ratings": SPARSE_RATINGS,
             "communities": {c: {"mean": float(r["mean"]), "count": int(r["count"])} for c, r in by_comm.iterrows()}}
    (truth / "usability_truth.json").write_text(json.dumps(facts, ensure_ascii=False, indent=1), encoding="utf-8")
    return {"usability_ratings": len(ratings) + 1}
