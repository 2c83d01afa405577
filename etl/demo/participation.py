"""Participation demo data: ~20k resident tasks (x scale) whose concentration is realistic (top 10%
of participants carry 50-60% of a community's tasks; planted: 63% in PLANTED_COMMUNITY, where
residents under 35 take part in ~41% of council decisions), points redemptions within each
resident's balance, and ~3k project evaluations (x scale) with one project planted badly rated.
"""
from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from etl.demo import text as T
from etl.demo.cells import fmt_ts, iso_text
from etl.demo.exports import emit, insert_rows
from etl.demo.world import Ctx, epoch_s

PLANTED_COMMUNITY = "美和园社区"
PLANTED_TOP_SHARE = 0.63
PLANTED_YOUNG_SHARE = 0.41
ACTIVITIES = {"议事会": 0.25, "组织活动": 0.14, "调解矛盾": 0.08, "志愿服务": 0.36, "设施巡查": 0.17}
POINTS = {"议事会": 10, "组织活动": 20, "调解矛盾": 15}     # the seeded defaults of etl/rules.toml
AGE_BANDS = ("18-34", "35-49", "50-64", "65+")
ITEMS = {"鸡蛋一盒": 20, "挂面两把": 30, "理发服务": 50, "家政服务1小时": 80, "大米一袋": 100}
PARTICIPATION_HEADERS = {"record_id": "记录编号", "resident_id": "居民", "community": "社区", "activity": "参与类型",
                         "occurred_on": "参与日期", "hours": "时长(小时)", "project_id": "关联项目", "age_band": "年龄段"}
REDEMPTION_HEADERS = {"redemption_id": "兑换单号", "resident_id": "兑换居民", "community": "社区",
                      "redeemed_on": "兑换日期", "item": "兑换物品", "points": "消耗积分"}
EVALUATION_HEADERS = {"evaluation_id": "评价编号", "project_id": "项目编号", "submitted_at": "评价时间",
                      "rating": "评分", "comment": "评价内容", "resident_id": "评价人"}
GOOD = ("服务很贴心，老人们都说好", "志愿者很负责", "活动组织得不错，希望多办", "效果明显，点赞", "整体满意")
BAD = ("说好的服务一直没兑现", "施工拖拖拉拉，噪音大", "反映多次没人管", "钱花了效果不明显", "工作人员态度差")


def _task_counts(rng: np.random.Generator, n: int, tasks: int, top_share: float) -> np.ndarray:
    """Tasks per resident: the top ceil(10%) carry round(top_share x tasks), each at least the rest's max."""
    k = -(-n // 10)   # ceil(n/10): the top 10% of n participants
    top_total = int(round(top_share * tasks))
    rest = tasks - top_total
    w = rng.lognormal(0, 0.6, n - k)
    others = 1 + np.floor(w / w.sum() * (rest - (n - k))).astype(np.int64)
    others[np.argsort(-w)[: rest - others.sum()]] += 1
    floor = int(others.max())
    spare = top_total - k * floor
    assert spare >= 0, "too few tasks for the planted concentration"
    tw = rng.lognormal(0, 0.5, k)
    top = floor + np.floor(tw / tw.sum() * spare).astype(np.int64)
    top[np.argsort(-tw)[: top_total - top.sum()]] += 1
    return np.concatenate([top, others])


def build_participation(rng: np.random.Generator, ctx: Ctx, projects: pd.DataFrame,
                        council_days: dict[str, list[date]]) -> pd.DataFrame:
    """One row per task (true values): resident id, community, activity, day, hours, project, age band."""
    frames = []
    total = 20000 * ctx.scale
    weights = np.array([pop for _, _, pop, _ in T.COMMUNITIES])
    first, days = ctx.months[0], (ctx.end - ctx.months[0]).days + 1
    for ci, (comm, _, pop, _) in enumerate(T.COMMUNITIES):
        tasks = int(round(total * pop / weights.sum()))
        n = max(30, int(round(tasks / 9)))
        share = PLANTED_TOP_SHARE if comm == PLANTED_COMMUNITY else float(rng.uniform(0.50, 0.60))
        counts = _task_counts(rng, n, tasks, share)
        names = T.person(rng, n)
        residents = np.array([f"{nm}#{ci + 1}{i:04d}" for i, nm in enumerate(names)], dtype=object)
        band = rng.choice(len(AGE_BANDS), n, p=(0.22, 0.28, 0.28, 0.22))
        known = rng.random(n) < 0.85
        who = np.repeat(np.arange(n), counts)
        act = rng.choice(list(ACTIVITIES), len(who), p=np.array(list(ACTIVITIES.values())))
        day = np.array([first + timedelta(days=int(d)) for d in rng.integers(0, days, len(who))], dtype=object)
        young = known[who] & (band[who] == 0)
        sessions = council_days[comm]
        chosen = set(rng.choice(len(sessions), int(round(PLANTED_YOUNG_SHARE * len(sessions))), replace=False).tolist())
        for i in np.flatnonzero(act == "议事会").tolist():
            # council tasks happen on council days; in the planted community the young only come to some
            pool = sorted(chosen) if comm == PLANTED_COMMUNITY and young[i] else range(len(sessions))
            day[i] = sessions[list(pool)[int(rng.integers(len(pool)))]]
        mine = projects.loc[projects.community == comm, "project_id"].tolist()
        project = np.where(rng.random(len(who)) < 0.25, rng.choice(mine, len(who)), None) if mine else None
        frames.append(pd.DataFrame({
            "resident_id": residents[who], "community": comm, "activity": act, "occurred_on": day,
            "hours": np.round(rng.uniform(0.5, 4.0, len(who)) * 2) / 2, "project_id": project,
            "age_band": np.where(known[who], np.array(AGE_BANDS, dtype=object)[band[who]], None)}))
    tasks = pd.concat(frames, ignore_index=True).sort_values(["occurred_on", "community"], kind="stable",
                                                             ignore_index=True)
    tasks.insert(0, "record_id", [f"CY{i + 1:06d}" for i in range(len(tasks))])
    return tasks


def write_participation(rng: np.random.Generator, ctx: Ctx, tasks: pd.DataFrame) -> None:
    name = "居民参与积分台账.csv"
    view = tasks.copy()
    sec = np.array([epoch_s(d) for d in view.occurred_on], dtype=np.int64)
    view["occurred_on"] = fmt_ts(sec, rng.choice(3, len(sec), p=(0.6, 0.3, 0.1)), date_only=True)
    view["hours"] = [f"{h:g}" for h in view.hours]
    emit(ctx, name, PARTICIPATION_HEADERS, view, "utf-8-sig")


def build_redemptions(rng: np.random.Generator, ctx: Ctx, tasks: pd.DataFrame) -> pd.DataFrame:
    """Redemptions in the second year by ~40% of residents with points, never above their balance then."""
    tasks = tasks.assign(points=tasks.activity.map(POINTS).fillna(0).astype(int))
    half = ctx.months[12]
    rows = []
    for (resident, comm), own in tasks[tasks.points > 0].groupby(["resident_id", "community"], sort=True):
        if rng.random() > 0.4:
            continue
        dates = sorted(half + timedelta(days=int(d)) for d in rng.integers(0, (ctx.end - half).days + 1,
                                                                           int(rng.integers(1, 4))))
        spent = 0
        for d in dates:
            balance = int(own.loc[own.occurred_on <= d, "points"].sum()) - spent
            item = list(ITEMS)[int(rng.integers(len(ITEMS)))]
            if ITEMS[item] <= balance:
                spent += ITEMS[item]
                rows.append({"resident_id": resident, "community": comm, "redeemed_on": d, "item": item,
                             "points": ITEMS[item]})
    red = pd.DataFrame(rows).sort_values(["redeemed_on", "resident_id"], ignore_index=True)
    red.insert(0, "redemption_id", [f"DH{i + 1:05d}" for i in range(len(red))])
    return red


def write_redemptions(rng: np.random.Generator, ctx: Ctx, red: pd.DataFrame, tasks: pd.DataFrame) -> None:
    name = "积分兑换记录.csv"
    view = red.assign(redeemed_on=[d.isoformat() for d in red.redeemed_on])
    earned = tasks.assign(points=tasks.activity.map(POINTS).fillna(0)).groupby("resident_id").points.sum()
    spent = red.groupby("resident_id").points.sum().reindex(earned.index, fill_value=0)
    poorest = (earned - spent).sort_values(kind="stable").index[0]
    row = tasks.loc[tasks.resident_id == poorest].iloc[0]
    bad = pd.DataFrame([{"redemption_id": "DH-BAD-1", "resident_id": poorest, "community": row.community,
                         "redeemed_on": ctx.end.isoformat(), "item": "电饭煲",
                         "points": int(earned[poorest] - spent[poorest]) + 500}])
    view, rows = insert_rows(rng, view, bad)
    ctx.bad.append({"kind": "redemptions", "file": name, "sheet": None, "row_number": int(rows[0]),
                    "column": "消耗积分", "key": "DH-BAD-1", "value": str(bad.points.iloc[0]),
                    "reason": "redemption above the points balance"})
    emit(ctx, name, REDEMPTION_HEADERS, view, "utf-8-sig")


def build_evaluations(rng: np.random.Generator, ctx: Ctx, projects: pd.DataFrame,
                      tasks: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """~3k evaluations (x scale) of started projects, 1-5 mostly 4-5; one project planted at ~1.8 from 12."""
    started = projects[projects.planned_start_on < ctx.end - timedelta(days=30)].reset_index(drop=True)
    planted = started.sort_values("project_id").project_id.iloc[len(started) // 3]
    n = int(round(3000 * ctx.scale))
    pick = rng.integers(0, len(started), n)
    ratings = rng.choice([1, 2, 3, 4, 5], n, p=(0.02, 0.04, 0.16, 0.40, 0.38))
    pid = started.project_id.to_numpy()[pick]
    keep = pid != planted
    pid, ratings, pick = pid[keep], ratings[keep], pick[keep]
    bad_idx = int(np.flatnonzero(started.project_id.to_numpy() == planted)[0])
    pid = np.concatenate([pid, [planted] * 12])
    ratings = np.concatenate([ratings, rng.choice([1, 2, 3], 12, p=(0.35, 0.5, 0.15))])
    pick = np.concatenate([pick, [bad_idx] * 12])
    for other in sorted(set(pid.tolist()) - {planted}):   # only the planted project may be rated badly
        own = np.flatnonzero(pid == other)
        while ratings[own].mean() < 3.2:
            ratings[own[np.argmin(ratings[own])]] += 1
    start_s = np.array([epoch_s(d) for d in started.planned_start_on])[pick]
    at = start_s + (rng.random(len(pick)) * (ctx.end_s - start_s)).astype(np.int64)
    people = tasks.resident_id.unique()
    comment = [(BAD if r <= 2 else GOOD)[int(k)] for r, k in zip(ratings.tolist(), rng.integers(0, 5, len(pick)))]
    # a few residents leave their phone number in the comment: masked at load
    for i in rng.choice(len(comment), max(3, len(comment) // 100), replace=False).tolist():
        comment[i] += "，有事打我电话" + T.phone(rng, 1)[0]
    ev = pd.DataFrame({"project_id": pid, "submitted_at": at, "rating": ratings, "comment": comment,
                       "resident_id": people[rng.integers(0, len(people), len(pick))]})
    ev = ev.sort_values(["submitted_at", "project_id"], kind="stable", ignore_index=True)
    ev.insert(0, "evaluation_id", [f"PJ{i + 1:05d}" for i in range(len(ev))])
    return ev, planted


def write_evaluations(rng: np.random.Generator, ctx: Ctx, ev: pd.DataFrame) -> None:
    name = "项目居民评价.csv"
    view = ev.assign(submitted_at=iso_text(ev.submitted_at.to_numpy()))
    bad = view.iloc[[0]].assign(evaluation_id="PJ-BAD-1", project_id="XM-9999")
    view, rows = insert_rows(rng, view, bad)
    ctx.bad.append({"kind": "evaluations", "file": name, "sheet": None, "row_number": int(rows[0]),
                    "column": "项目编号", "key": "PJ-BAD-1", "value": "XM-9999", "reason": "unknown project id"})
    emit(ctx, name, EVALUATION_HEADERS, view, "utf-8-sig")


def concentration_truth(tasks: pd.DataFrame) -> pd.DataFrame:
    """Per community, computed here independently of the SQL: participants, tasks, the top 10%'s share
    of tasks, the Gini of tasks per participant and the share of council decisions (council days) with a
    participant under 35."""
    rows = []
    for comm, own in tasks.groupby("community", sort=True):
        counts = np.sort(own.groupby("resident_id").size().to_numpy())[::-1]
        n, k = len(counts), -(-len(counts) // 10)   # ceil(n/10) in whole numbers (0.1 * 30 > 3 in floats)
        asc = counts[::-1].astype(float)
        gini = float((2 * np.arange(1, n + 1) - n - 1) @ asc / (n * asc.sum()))
        council = own[own.activity == "议事会"]
        young = council.assign(y=council.age_band == "18-34").groupby("occurred_on").y.any()
        rows.append({"community": comm, "participants": n, "tasks": int(counts.sum()),
                     "top_share": counts[:k].sum() / counts.sum(), "gini": gini,
                     "young_decision_share": float(young.mean())})
    return pd.DataFrame(rows)


def evaluation_truth(ev: pd.DataFrame) -> pd.DataFrame:
    """Projects rated below 3 on average by at least 5 residents."""
    g = ev.groupby("project_id").rating.agg(["mean", "count"]).reset_index()
    return g[(g["mean"] < 3) & (g["count"] >= 5)].rename(columns={"mean": "avg_rating", "count": "ratings"})


def generate(ctx: Ctx, seed: int, projects: pd.DataFrame, truth) -> dict:
    """Write the deliberation and participation exports; planted facts to truth/participation_truth.json.

    Returns the row counts per kind (the loader's expected volumes, rejects included)."""
    import json

    from etl.demo import deliberation as D

    rng = np.random.default_rng([seed, 15])   # its own stream: the older exports stay byte-identical
    D.write_communities(rng, ctx)
    meetings, missing = D.build_meetings(rng, ctx)
    D.write_meetings(rng, ctx, meetings)
    resolutions, flagged = D.build_resolutions(rng, ctx, meetings)
    D.write_resolutions(rng, ctx, resolutions)
    votes = D.build_votes(rng, ctx)
    D.write_votes(rng, ctx, votes)
    council = meetings[meetings.kind == "居民议事会"].groupby("community").held_on.apply(list).to_dict()
    tasks = build_participation(rng, ctx, projects, council)
    write_participation(rng, ctx, tasks)
    red = build_redemptions(rng, ctx, tasks)
    write_redemptions(rng, ctx, red, tasks)
    ev, low = build_evaluations(rng, ctx, projects, tasks)
    write_evaluations(rng, ctx, ev)
    conc = concentration_truth(tasks)
    vt = D.vote_truth(votes)
    facts = {
        "joint_meetings_missing": missing, "overdue_resolutions": flagged["overdue"],
        "undisclosed_resolutions": flagged["undisclosed"],
        "invalid_votes": sorted(vt.loc[~vt.valid, "vote_id"]),
        "failed_valid_votes": sorted(vt.loc[vt.valid & ~vt.passed, "vote_id"]),
        "passed_votes": sorted(vt.loc[vt.passed, "vote_id"]),
        "planted_community": PLANTED_COMMUNITY, "planted_top_share": PLANTED_TOP_SHARE,
        "planted_young_share": PLANTED_YOUNG_SHARE, "concentration": conc.to_dict("records"),
        "planted_low_rated_project": low,
        "low_rated_projects": evaluation_truth(ev).to_dict("records"),
        "points_earned": int(tasks.activity.map(POINTS).fillna(0).sum()), "points_redeemed": int(red.points.sum()),
    }
    (truth / "participation_truth.json").write_text(json.dumps(facts, ensure_ascii=False, indent=1, default=str),
                                                    encoding="utf-8")
    return {"communities": len(T.COMMUNITIES), "meetings": len(meetings), "resolutions": len(resolutions) + 1,
            "votes": len(votes) + 2, "participation": len(tasks), "redemptions": len(red) + 1,
            "evaluations": len(ev) + 1}
