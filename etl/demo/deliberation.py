"""Deliberation demo data: communities' sizes, monthly meetings (joint meetings with the required
parties, a few planted without one), their resolutions (a few planted overdue or undisclosed)
and 30 resident votes (some planted under the 30% line, some valid but failed).

Uses its own Generator (seeded from the demo seed) so the older exports stay byte-identical.
Every planted fact is returned for the truth file; bad rows go to ctx.bad.
"""
from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from etl.demo import text as T
from etl.demo.cells import fmt_ts
from etl.demo.exports import emit, insert_rows
from etl.demo.world import Ctx, epoch_s

COMMUNITY_HEADERS = {"community": "社区名称", "street": "所属街道", "households": "户数", "residents": "常住人口",
                     "grids": "网格数"}
MEETING_HEADERS = {"meeting_id": "会议编号", "held_on": "会议日期", "community": "社区", "kind": "会议类型",
                   "topic": "议题", "convener": "召集人", "attendees": "参会人数", "parties": "参会单位"}
RESOLUTION_HEADERS = {"resolution_id": "决议编号", "meeting_id": "会议编号", "text": "决议内容",
                      "responsible_party": "责任单位", "due_on": "完成时限", "status": "执行状态",
                      "disclosed_on": "公示日期"}
VOTE_HEADERS = {"vote_id": "投票编号", "community": "社区", "topic": "表决事项", "opened_on": "开始日期",
                "closed_on": "截止日期", "eligible_voters": "应参与人数", "ballots_cast": "实际投票人数",
                "yes_votes": "赞成", "no_votes": "反对", "abstain_votes": "弃权"}
SOCIAL_ORGS = ("邻里互助协会", "夕阳红志愿服务队", "阳光社工事务所", "绿色家园环保社", "青苗托育服务中心",
               "和事佬调解工作室", "乐龄文体协会")
TOPICS = ("加装电梯方案", "楼道堆物清理", "停车位划线", "垃圾分类驿站选址", "小区绿化改造", "物业费调整",
          "充电桩安装", "老年食堂开办", "健身器材更新", "雨污分流改造")
ACTIONS = ("成立专项工作小组推进", "由物业牵头限期完成", "向街道申请专项资金", "组织居民志愿者实施",
           "委托社会组织承接", "下次议事会通报进展")
N_VOTES = 30


def write_communities(rng: np.random.Generator, ctx: Ctx) -> pd.DataFrame:
    """Households ~4,000 per unit of population weight, residents ~2.5 per household."""
    hh = [int(round(pop * 4000)) + int(rng.integers(-150, 150)) for _, _, pop, _ in T.COMMUNITIES]
    rows = [{"community": c, "street": T.STREET, "households": h, "residents": int(round(h * rng.uniform(2.3, 2.7))),
             "grids": grids} for (c, grids, _, _), h in zip(T.COMMUNITIES, hh)]
    frame = pd.DataFrame(rows)
    emit(ctx, "社区基本情况.csv", COMMUNITY_HEADERS, frame, "utf-8-sig")
    return frame


def _session_days(rng: np.random.Generator, ctx: Ctx) -> list[tuple[int, date]]:
    """(month index, day) of each month's meeting, never after `end`."""
    out = []
    for m, first in enumerate(ctx.months):
        day = first + timedelta(days=int(rng.integers(2, 26)))
        if day <= ctx.end:
            out.append((m, day))
    return out


def build_meetings(rng: np.random.Generator, ctx: Ctx) -> tuple[pd.DataFrame, dict]:
    """One joint meeting (联席会议) and one residents' council (居民议事会) per community and month,
    a hearing (听证会) each half year; six joint meetings planted without a required party."""
    rows = []
    for ci, (comm, _, pop, _) in enumerate(T.COMMUNITIES):
        short = comm.removesuffix("社区")
        for kind in ("联席会议", "居民议事会"):
            for m, day in _session_days(rng, ctx):
                parties = [f"{comm}党委(社区党委)", f"{comm}居委会(居委会)"]
                convener = f"{comm}党委"
                if kind == "联席会议":
                    parties += [f"{short}业主委员会(业委会)", f"{short}物业服务中心(驻区单位)"]
                    orgs = rng.choice(len(SOCIAL_ORGS), int(rng.integers(3, 6)), replace=False)
                    parties += [f"{short}{SOCIAL_ORGS[o]}(社会组织)" for o in sorted(orgs.tolist())]
                else:
                    convener = f"{comm}居委会"
                rows.append({"meeting_id": f"HY-{ci + 1}{m:02d}{'L' if kind == '联席会议' else 'Y'}",
                             "held_on": day, "street": T.STREET, "community": comm, "kind": kind,
                             "topic": TOPICS[int(rng.integers(len(TOPICS)))], "convener": convener,
                             "attendees": int(rng.integers(8, 40)), "parties": parties})
        for m in range(5, 24, 6):
            day = ctx.months[m] + timedelta(days=27)
            if day <= ctx.end:
                rows.append({"meeting_id": f"HY-{ci + 1}{m:02d}T", "held_on": day, "street": T.STREET,
                             "community": comm, "kind": "听证会", "topic": TOPICS[int(rng.integers(len(TOPICS)))],
                             "convener": f"{comm}居委会", "attendees": int(rng.integers(20, 80)),
                             "parties": [f"{comm}居委会(居委会)"]})
    meetings = pd.DataFrame(rows)
    joint = meetings.index[meetings.kind == "联席会议"].to_numpy()
    planted = {}
    for j, idx in enumerate(rng.choice(joint, 6, replace=False).tolist()):
        parties = list(meetings.at[idx, "parties"])
        if j < 3:   # no owners' committee
            parties = [p for p in parties if not p.endswith("(业委会)")]
            planted[meetings.at[idx, "meeting_id"]] = ["业委会"]
        else:       # only two social organisations
            orgs = [p for p in parties if p.endswith("(社会组织)")]
            parties = [p for p in parties if p not in orgs[2:]]
            planted[meetings.at[idx, "meeting_id"]] = ["社会组织"]
        meetings.at[idx, "parties"] = parties
    meetings["parties"] = meetings["parties"].map("、".join)
    return meetings.sort_values(["held_on", "meeting_id"], ignore_index=True), planted


def write_meetings(rng: np.random.Generator, ctx: Ctx, meetings: pd.DataFrame) -> None:
    view = meetings.copy()
    sec = np.array([epoch_s(d) for d in view.held_on], dtype=np.int64)
    view["held_on"] = fmt_ts(sec, rng.choice(3, len(sec), p=(0.5, 0.3, 0.2)), date_only=True)
    emit(ctx, "社区会议记录.csv", MEETING_HEADERS, view, "utf-8-sig")


def quarter_end(d: date) -> date:
    first_next = date(d.year + (d.month > 9), (((d.month - 1) // 3 + 1) * 3) % 12 + 1, 1)
    return first_next - timedelta(days=1)


def build_resolutions(rng: np.random.Generator, ctx: Ctx, meetings: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """1-2 resolutions per joint meeting and council; those due before `end` are done and disclosed
    within their quarter except the planted ones: 8 overdue (still running), 8 not disclosed in time."""
    rows = []
    for mt in meetings[meetings.kind != "听证会"].itertuples():
        for k in range(int(rng.integers(1, 3))):
            due = mt.held_on + timedelta(days=int(rng.integers(20, 120)))
            qe = quarter_end(mt.held_on)
            done = due < ctx.end
            disclosed = (min(qe, mt.held_on + timedelta(days=int(rng.integers(5, 40))))
                         if qe < ctx.end or rng.random() < 0.5 else None)
            if disclosed is not None and disclosed > ctx.end:
                disclosed = None
            rows.append({"resolution_id": f"{mt.meeting_id.replace('HY', 'JY')}-{k + 1}", "meeting_id": mt.meeting_id,
                         "text": f"{mt.topic}：{ACTIONS[int(rng.integers(len(ACTIONS)))]}",
                         "responsible_party": mt.convener if rng.random() < 0.5 else f"{mt.community}物业服务中心",
                         "due_on": due, "status": "已完成" if done else ("执行中" if rng.random() < 0.6 else "待执行"),
                         "disclosed_on": disclosed, "held_on": mt.held_on})
    res = pd.DataFrame(rows)
    past = res.index[(res.due_on < ctx.end - timedelta(days=10))
                     & (res.held_on.map(quarter_end) < ctx.end - timedelta(days=10))].to_numpy()
    picked = rng.choice(past, 16, replace=False).tolist()
    overdue, undisclosed = picked[:8], picked[8:]
    res.loc[overdue, "status"] = "执行中"
    for i in undisclosed:
        late = quarter_end(res.at[i, "held_on"]) + timedelta(days=int(rng.integers(5, 30)))
        res.at[i, "disclosed_on"] = late if late <= ctx.end and i % 2 else None
    return res.drop(columns="held_on"), {"overdue": sorted(res.loc[overdue, "resolution_id"]),
                                         "undisclosed": sorted(res.loc[undisclosed, "resolution_id"])}


def write_resolutions(rng: np.random.Generator, ctx: Ctx, res: pd.DataFrame) -> None:
    name = "议事决议落实台账.csv"
    view = res.copy()
    for col in ("due_on", "disclosed_on"):
        sec = np.array([epoch_s(d) if isinstance(d, date) else -1 for d in view[col]], dtype=np.int64)
        view[col] = fmt_ts(sec, rng.choice(3, len(sec), p=(0.6, 0.3, 0.1)), date_only=True)
    view["status"] = [{"执行中": "落实中", "已完成": "已落实"}.get(s, s) if u < 0.3 else s
                      for s, u in zip(view.status, rng.random(len(view)))]
    bad = view.iloc[[0]].assign(resolution_id="JY-9999-1", meeting_id="HY-9999")
    view, rows = insert_rows(rng, view, bad)
    ctx.bad.append({"kind": "resolutions", "file": name, "sheet": None, "row_number": int(rows[0]),
                    "column": "会议编号", "key": "JY-9999-1", "value": "HY-9999", "reason": "unknown meeting id"})
    emit(ctx, name, RESOLUTION_HEADERS, view, "gbk")


def build_votes(rng: np.random.Generator, ctx: Ctx) -> pd.DataFrame:
    """30 votes: 7 planted under the 30% line, one at exactly 30%, 5 valid but not passed."""
    rows = []
    share = np.concatenate([rng.uniform(0.10, 0.28, 7), [0.30], rng.uniform(0.33, 0.80, N_VOTES - 8)])
    fails = set(range(8, 13))
    for i in range(N_VOTES):
        ci = int(rng.integers(len(T.COMMUNITIES)))
        comm, _, pop, _ = T.COMMUNITIES[ci]
        eligible = int(rng.integers(80, 600)) if i != 7 else 400
        cast = int(round(share[i] * eligible)) if i != 7 else 120
        abstain = int(rng.integers(0, max(1, cast // 10)))
        if i in fails:
            yes = (cast - abstain) // 2 - int(rng.integers(0, 3))
        else:
            yes = int(np.ceil((cast + 1) / 2)) + int(rng.integers(0, max(1, (cast - abstain) // 3)))
            yes = min(yes, cast - abstain)
        no = cast - abstain - yes
        closed = ctx.months[0] + timedelta(days=int((i + 0.5) * ((ctx.end - ctx.months[0]).days - 15) / N_VOTES))
        rows.append({"vote_id": f"TP-{i + 1:03d}", "street": T.STREET, "community": comm,
                     "topic": TOPICS[int(rng.integers(len(TOPICS)))], "opened_on": closed - timedelta(days=7),
                     "closed_on": closed, "eligible_voters": eligible, "ballots_cast": cast, "yes_votes": yes,
                     "no_votes": no, "abstain_votes": abstain})
    order = rng.permutation(N_VOTES)   # planted ones spread over the two years
    votes = pd.DataFrame(rows)
    votes[["closed_on", "opened_on"]] = votes[["closed_on", "opened_on"]].iloc[order].to_numpy()
    return votes


def write_votes(rng: np.random.Generator, ctx: Ctx, votes: pd.DataFrame) -> None:
    name = "居民议事投票.csv"
    view = votes.copy()
    for col in ("opened_on", "closed_on"):
        view[col] = [d.isoformat() for d in view[col]]
    bad = view.iloc[[1, 2]].copy()
    bad["vote_id"] = ["TP-901", "TP-902"]
    bad.iloc[0, bad.columns.get_loc("ballots_cast")] = int(bad.iloc[0]["eligible_voters"]) + 5
    bad.iloc[1, bad.columns.get_loc("yes_votes")] = int(bad.iloc[1]["ballots_cast"])
    bad.iloc[1, bad.columns.get_loc("no_votes")] = 3
    view, rows = insert_rows(rng, view, bad)
    for r, (_, b), col, reason in ((rows[0], next(bad.iterrows()), "ballots_cast", "ballots cast exceed eligible voters"),
                                   (rows[1], list(bad.iterrows())[1], "yes_votes", "yes + no + abstain exceed ballots cast")):
        ctx.bad.append({"kind": "votes", "file": name, "sheet": None, "row_number": int(r), "column": VOTE_HEADERS[col],
                        "key": b.vote_id, "value": str(b[col]), "reason": reason})
    emit(ctx, name, VOTE_HEADERS, view, "utf-8")


def vote_truth(votes: pd.DataFrame) -> pd.DataFrame:
    """Participation, validity and result of each vote as the rules say (30%, more than half)."""
    out = votes[["vote_id", "community", "eligible_voters", "ballots_cast", "yes_votes"]].copy()
    out["participation_share"] = out.ballots_cast / out.eligible_voters
    out["valid"] = out.ballots_cast >= 0.30 * out.eligible_voters
    out["passed"] = out.valid & (out.yes_votes > 0.5 * out.ballots_cast)
    return out
