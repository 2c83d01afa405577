"""Resident feedback: one row per message with its planted topic (each month's top three >= 1.3x
the fourth), one export per channel, and the truth files (topics, planted top-3, counts)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from etl.demo import text as T
from etl.demo.cells import day_text, excel_serial, fmt_ts, iso_text, pick_styles
from etl.demo.exports import emit
from etl.demo.world import Ctx, community_weights, monthly_volumes, pick_rows, random_times

# channel: file, encoding, share of messages, id prefix (None: no id column), canonical:header ...
CHANNELS = {
    "微信群": ("微信群留言汇总.csv", "utf-8-sig", 0.33, None,
            "submitted_at:留言时间 community:社区 grid_id:网格 channel:渠道 resident_id:留言用户 text:留言内容 reply:回复 replied_at:回复时间"),
    "公众号": ("公众号留言.xlsx", "xlsx", 0.12, "GZH",
            "feedback_id:留言编号 submitted_at:提交时间 community:所属社区 channel:渠道 subject:留言主题 text:留言详情 "
            "likes:点赞数 rating:评分 resident_id:用户 reply:答复意见 replied_at:答复时间"),
    "民意直通车": ("民意直通车_反馈导出.csv", "gbk", 0.17, "MY",
              "feedback_id:反馈编号 submitted_at:反馈时间 street:所属街道 community:社区 grid_id:所属网格 channel:来源渠道 "
              "subject:主题 text:反馈内容 likes:附议数 rating:满意度 resident_id:反映人 reply:答复 replied_at:答复时间"),
    "12345热线": ("12345热线工单.csv", "gbk", 0.16, "12345-",
                "feedback_id:工单号 submitted_at:来电时间 community:社区 channel:反映渠道 subject:标题 text:诉求内容 "
                "rating:满意度 resident_id:来电号码 reply:回复内容 replied_at:回复时间"),
    "议事会": ("居民议事会记录.csv", "utf-8", 0.07, None,
            "submitted_at:时间 community:社区 channel:渠道 subject:主题 text:内容 resident_id:居民 reply:答复 replied_at:答复时间"),
    "网格员走访": ("网格员走访记录.csv", "utf-8-sig", 0.15, None,
              "submitted_at:反馈时间 community:所属社区 grid_id:网格编号 channel:来源渠道 text:诉求内容 resident_id:反映人 "
              "reply:回复 replied_at:回复时间"),
}
# Planted hot spots: one estate, one problem, a sharp rise. (months before the last month,
# community, how residents write the estate - the first is its canonical name -, the month's
# planted rank of the topic, messages at scale 1, messages the month before at scale 1).
# The topic is one of the month's planted top-3, so the top-3 truth keeps its margin.
HOT_SPOTS = (
    (2, "橡树湾社区", ("伊景园滨河苑", "滨河苑", "伊景园·滨河苑"), 2, 40, 6),
    (6, "毛纺北社区", ("毛纺北小区",), 1, 36, 4),
    (11, "清上园社区", ("清上园·桂香苑", "桂香苑"), 2, 32, 0),
)
RATING_WORDS = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}
NOISE_TOPIC = "其他"


def _planned_top3(m: int, calendar_month: int) -> list[str]:
    top = list(T.SEASONAL_TOP3[calendar_month])
    event = T.EVENTS.get(m)
    return [event] + [t for t in top if t != event][:2] if event else top


def _feedback_plan(ctx: Ctx) -> tuple[np.ndarray, np.ndarray]:
    """Messages per (month, topic), the planted top-3 each >= 1.3x every other topic; noise per month."""
    rng, k = ctx.rng, len(T.TOPIC_NAMES)
    total = monthly_volumes(ctx, 15000 / 24, floor=0.35)
    noise = np.round(total * 0.1).astype(np.int64)
    counts = np.zeros((24, k), dtype=np.int64)
    for m, month in enumerate(ctx.months):
        top = [T.TOPIC_NAMES.index(t) for t in _planned_top3(m, month.month)]
        w = rng.uniform(0.7, 1.3, k)
        w[top] = (3.4, 2.7, 2.2)
        share = w / w.sum() * (total[m] - noise[m])
        c = np.floor(share).astype(np.int64)
        c[np.argsort(c - share, kind="stable")[: int(total[m] - noise[m] - c.sum())]] += 1
        rest = np.setdiff1d(np.arange(k), top)
        while c[top].min() < 1.3 * c[rest].max():     # guarantee the margin at any volume
            c[rest[np.argmax(c[rest])]] -= 1
            c[top[int(np.argmin(c[top]))]] += 1
        counts[m] = c
    return counts, noise


def _residents(ctx: Ctx, r: np.ndarray, channel: np.ndarray) -> np.ndarray:
    """How each channel identifies a resident: nickname, openid, '张女士', phone, name, room."""
    rng, size = ctx.rng, int(r.max()) + 1
    idx = np.arange(size)
    chars = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"))
    pools = [
        [(T.NICK_EMOJI[i % 6] if i % 9 == 0 else "") + T.NICKS[i % 20] + (str(i // 20) if i >= 20 else "")
         for i in idx],
        ["o" + "".join(row) for row in chars[rng.integers(0, 64, (size, 27))].tolist()],
        [T.SURNAMES[i % len(T.SURNAMES)] + T.APPELLATION[i % 6] for i in idx],
        T.phone(rng, size),
        ["居民代表" + x for x in T.person(rng, size)],
        [f"{1 + i % 36}号楼{1 + i // 36 % 6}单元{100 * (1 + i % 7) + 1 + i % 4}室" for i in idx],
    ]
    out = np.empty(len(r), dtype=object)
    for c, pool in enumerate(pools):
        sel = channel == c
        out[sel] = np.array(pool, dtype=object)[r[sel]]
    return out


def feedback_records(ctx: Ctx) -> pd.DataFrame:
    """One row per message with its true topic (-1 = noise), in time order."""
    rng, k = ctx.rng, len(T.TOPIC_NAMES)
    counts, noise = _feedback_plan(ctx)
    per_month = [np.concatenate([np.repeat(np.arange(k), counts[m]), np.full(noise[m], -1)]) for m in range(24)]
    month = np.repeat(np.arange(24), [len(t) for t in per_month])
    topic = np.concatenate(per_month)
    n = len(topic)
    comm = pick_rows(rng, community_weights(T.TOPIC_NAMES + [NOISE_TOPIC], T.AFFINITY), np.where(topic < 0, k, topic))
    channel = rng.choice(len(CHANNELS), n, p=np.array([c[2] for c in CHANNELS.values()]))
    style = pick_styles(rng, n, (0.5, 0.35, 0.15))
    ts = random_times(ctx, month, T.FEEDBACK_HOURS)
    ts -= np.where(style == 2, ts % 60, 0)      # '2025年4月8日 08:37' has no seconds
    subject, text = T.feedback_texts(rng, topic.tolist())
    ranks = np.full((24, k + 1), 3)
    for m, month_on in enumerate(ctx.months):
        ranks[m, [T.TOPIC_NAMES.index(t) for t in _planned_top3(m, month_on.month)]] = (0, 1, 2)
    ranks[:, k] = 4
    rank = ranks[month, np.where(topic < 0, k, topic)]
    rating = np.clip(np.round(np.array([2.2, 2.4, 2.6, 3.6, 4.1])[rank] + 0.9 * rng.standard_normal(n)), 1, 5)
    replied = ts + np.maximum(600, np.exp(np.log(30 * 3600) + rng.standard_normal(n))).astype(np.int64)
    replied = np.where((rng.random(n) < 0.6) & (replied <= ctx.end_s), replied, -1)
    replies = np.array([r.format(party=p) for r in T.REPLIES for p in T.REPLY_PARTY], dtype=object)
    n_grids = np.array([c[1] for c in T.COMMUNITIES])
    fb = pd.DataFrame({
        "month": month, "topic": topic, "submitted": ts, "style": style, "channel": channel,
        "community": np.array([c[0] for c in T.COMMUNITIES], dtype=object)[comm],
        "grid_id": [f"{T.STREET_CODE}-{c + 1:02d}-{g + 1:02d}" for c, g in
                    zip(comm.tolist(), (rng.random(n) * n_grids[comm]).astype(int).tolist())],
        "subject": subject, "text": text, "rating": np.where(rng.random(n) < 0.5, rating, np.nan),
        "likes": rng.poisson(np.array([9, 7, 6, 2, 1])[rank]), "replied": replied,
        "reply": np.where(replied >= 0, replies[rng.integers(0, len(replies), n)], ""),
        "resident_id": _residents(ctx, rng.integers(0, max(300, n // 3), n), channel)})
    fb = _plant_hot_spots(ctx, fb.assign(hot_spot=""))
    key = ["submitted", "community", "channel", "text"]     # what the loader hashes when there is no id
    while (dup := fb.duplicated(key).to_numpy()).any():     # hashed keys must not collide
        fb.loc[dup, "submitted"] -= 60
    return fb.sort_values("submitted", kind="stable").reset_index(drop=True)


def _burst_text(rng: np.random.Generator, topic: str, place: str) -> tuple[str, str]:
    """(subject, text) of one message about `topic` at `place` (the topic's own templates)."""
    subj, core, det, dem = (T._alts(x) for x in T.TOPICS[topic])
    a, b, c, d = rng.integers(0, 1 << 30, 4).tolist()
    loc = place + ("" if a % 3 else f"{1 + b % 20}号楼")
    body = core[a % len(core)].format(loc=loc, when=T.WHEN[b % len(T.WHEN)], a=det[c % len(det)],
                                      b=dem[d % len(dem)])
    if "{loc}" not in core[a % len(core)]:
        body = f"{place}：{body}"
    return subj[d % len(subj)], body + "。"


def _plant_hot_spots(ctx: Ctx, fb: pd.DataFrame) -> pd.DataFrame:
    """Add HOT_SPOTS' messages (copies of rows of the same month and topic, moved to the
    estate's community, with their own text, more likes, mostly unreplied). Drawn from a
    child generator, so every other row stays exactly as without them."""
    rng = ctx.rng.spawn(1)[0]
    rows = []
    for back, community, forms, rank, n1, prev1 in HOT_SPOTS:
        m = len(ctx.months) - 1 - back
        topic = T.TOPIC_NAMES.index(_planned_top3(m, ctx.months[m].month)[rank])
        before = T.TOPIC_NAMES[topic] in _planned_top3(m - 1, ctx.months[m - 1].month)
        for month, n in ((m, max(8, round(n1 * ctx.scale))), (m - 1, round(prev1 * ctx.scale) * before)):
            pool = fb[(fb.month == month) & (fb.topic == topic)]
            if pool.empty or n <= 0:
                continue
            picked = pool.iloc[rng.integers(0, len(pool), n)].copy()
            texts = [_burst_text(rng, T.TOPIC_NAMES[topic], forms[i % len(forms)]) for i in range(n)]
            picked["subject"] = [t[0] for t in texts]
            picked["text"] = [t[1] for t in texts]
            picked["community"] = community
            c = [name for name, *_ in T.COMMUNITIES].index(community)
            picked["grid_id"] = [f"{T.STREET_CODE}-{c + 1:02d}-{1 + g:02d}" for g in rng.integers(0, 3, n)]
            picked["submitted"] = random_times(ctx, np.full(n, month), T.FEEDBACK_HOURS)
            picked["likes"] = picked["likes"] + rng.integers(3, 12, n)
            replied = picked["submitted"].to_numpy() + rng.integers(2 * 3600, 72 * 3600, n)
            unreplied = (rng.random(n) < 0.7) | (replied > ctx.end_s)
            picked["replied"] = np.where(unreplied, -1, replied)
            picked.loc[unreplied, "reply"] = ""
            picked["hot_spot"] = forms[0]
            rows.append(picked)
    return pd.concat([fb, *rows], ignore_index=True) if rows else fb


def write_feedback(ctx: Ctx, fb: pd.DataFrame, truth: Path) -> None:
    """One export per channel, then the truth files (topics, planted top-3, counts)."""
    rng, names, topics = ctx.rng, list(CHANNELS), np.array(T.TOPIC_NAMES + [NOISE_TOPIC], dtype=object)
    truth_parts = []
    for c, (channel, (file, enc, _, prefix, spec)) in enumerate(CHANNELS.items()):
        sub = fb[fb.channel == c]
        headers = dict(pair.split(":") for pair in spec.split())
        day = day_text(sub.submitted.to_numpy()).tolist()
        ids = [f"{prefix}{d}{i:06d}" for i, d in enumerate(day, 1)] if prefix else [""] * len(sub)
        sec, style = sub.submitted.to_numpy(), sub["style"].to_numpy()
        view = sub.assign(
            feedback_id=ids, street=T.STREET, channel=channel,
            submitted_at=excel_serial(sec) if enc == "xlsx" else fmt_ts(sec, style),
            replied_at=excel_serial(sub.replied.to_numpy()) if enc == "xlsx" else fmt_ts(sub.replied.to_numpy(), style),
            rating=[_rating_cell(r, channel, enc) for r in sub.rating.tolist()],
            likes=sub.likes.astype(int).tolist() if enc == "xlsx" else sub.likes.astype(str).tolist())
        emit(ctx, file, headers, view, enc, {"submitted_at": "datetime", "replied_at": "datetime"})
        truth_parts.append(pd.DataFrame({
            "source_file": file, "row_number": np.arange(1, len(sub) + 1), "feedback_id": ids,
            "submitted_at": iso_text(sec),
            "community": sub.community.to_numpy(), "text": sub.text.to_numpy(),
            "topic": topics[np.where(sub.topic < 0, len(topics) - 1, sub.topic)], "channel": channel,
            "resident_id": sub.resident_id.to_numpy(), "hot_spot": sub.hot_spot.to_numpy()}))
    topics_truth = pd.concat(truth_parts, ignore_index=True)
    topics_truth.drop(columns="hot_spot").to_csv(truth / "feedback_topics.csv", index=False, encoding="utf-8")
    _truth_hot_spots(topics_truth, truth)
    _truth_counts(ctx, topics_truth, truth)


def _truth_hot_spots(truth_rows: pd.DataFrame, truth: Path) -> None:
    """planted_hot_spots.csv: month, community, place (canonical), topic, n, prev_n."""
    rows = truth_rows[truth_rows.hot_spot != ""].assign(month=lambda d: d.submitted_at.str.slice(0, 8) + "01")
    counts = rows.groupby(["hot_spot", "community", "topic", "month"]).size().rename("n").reset_index()
    out = []
    for (place, community, topic), g in counts.groupby(["hot_spot", "community", "topic"], sort=False):
        g = g.sort_values("month")
        out.append({"month": g.month.iloc[-1], "community": community, "place": place, "topic": topic,
                    "n": int(g.n.iloc[-1]), "prev_n": int(g.n.iloc[-2]) if len(g) > 1 else 0})
    pd.DataFrame(out, columns=["month", "community", "place", "topic", "n", "prev_n"]).sort_values(
        "month").to_csv(truth / "planted_hot_spots.csv", index=False)


def _rating_cell(r: float, channel: str, encoding: str) -> object:
    if r != r:
        return ""
    return RATING_WORDS[int(r)] if channel == "12345热线" else int(r) if encoding == "xlsx" else str(int(r))


def _truth_counts(ctx: Ctx, truth_rows: pd.DataFrame, truth: Path) -> None:
    """planted_top3.csv (whole street, from what was generated) and feedback_topic_counts.csv."""
    month = truth_rows.submitted_at.str.slice(0, 8) + "01"
    topical = truth_rows.assign(month=month)[truth_rows.topic != NOISE_TOPIC]
    street = topical.groupby(["month", "topic"]).size().rename("n").reset_index().assign(scope=T.STREET_SCOPE)
    local = topical.groupby(["month", "community", "topic"]).size().rename("n").reset_index()
    counts = pd.concat([street, local.rename(columns={"community": "scope"})], ignore_index=True)
    counts = counts[["month", "scope", "topic", "n"]].sort_values(["month", "scope", "n", "topic"],
                                                                   ascending=[True, True, False, True])
    counts.to_csv(truth / "feedback_topic_counts.csv", index=False)
    rows = []
    for m, (month_on, g) in enumerate(street.groupby("month")):
        planned = _planned_top3(m, int(month_on[5:7]))
        g = g.assign(order=[planned.index(t) if t in planned else 9 for t in g.topic])
        g = g.sort_values(["n", "order"], ascending=[False, True])
        rows += [{"month": month_on, "scope": T.STREET_SCOPE, "rank": r + 1, "topic": t, "n": int(n),
                  "fourth_n": int(g.n.iloc[3])} for r, (t, n) in enumerate(zip(g.topic[:3], g.n[:3]))]
    pd.DataFrame(rows).to_csv(truth / "planted_top3.csv", index=False)
