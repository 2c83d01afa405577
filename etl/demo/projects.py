"""Projects and milestones: one row per project (most healthy, some planted with one early
warning), 3-6 milestones each, the workbook 项目台账.xlsx and the warnings the data really contains."""
from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from etl.demo import text as T
from etl.demo.cells import dates_mixed, excel_serial, money_text
from etl.demo.exports import insert_rows, write_xlsx
from etl.demo.world import Ctx, weighted_choice

PROJECT_HEADERS = {"project_id": "项目编号", "name": "项目名称", "street": "所属街道", "community": "实施社区",
                   "category": "项目类别", "lead_party": "牵头单位", "lead_party_type": "五社类型",
                   "partner_parties": "合作方", "stage": "项目阶段", "planned_start_on": "计划开始日期",
                   "planned_end_on": "计划完成日期", "actual_start_on": "实际开始日期", "actual_end_on": "实际完成日期",
                   "budget_yuan": "预算金额", "progress_pct": "完成进度", "last_updated_at": "最近更新时间",
                   "archived": "是否建档", "beneficiaries": "受益人次", "volunteer_count": "志愿者人数", "keywords": "关键词"}
MILESTONE_HEADERS = {"project_id": "项目编号", "milestone": "里程碑", "planned_on": "计划日期", "done_on": "完成日期"}
WARNINGS = "behind_schedule overdue_milestone stalled spending_ahead over_budget".split()


def build_projects(ctx: Ctx) -> tuple[pd.DataFrame, pd.DataFrame]:
    """True project records (one row per project) and milestones (one row per milestone)."""
    rng, end = ctx.rng, ctx.end
    projects, milestones = [], []
    for i in range(min(2000, max(60, round(60 * ctx.scale)))):
        cat = list(T.PROJECT_CATS)[int(rng.integers(len(T.PROJECT_CATS)))]
        names, (blo, bhi), (mlo, mhi), lead_w = T.PROJECT_CATS[cat]
        comm = T.COMMUNITIES[int(rng.integers(len(T.COMMUNITIES)))][0]
        name, keywords = names[int(rng.integers(len(names)))]
        lead_type = weighted_choice(rng, lead_w)
        lead = T.party(rng, lead_type, comm)
        partners = {T.party(rng, t, comm) for t in rng.choice(list(T.PARTIES), int(rng.integers(1, 4)))} - {lead}
        # more projects started lately: the portfolio grows
        start = ctx.months[0] + timedelta(days=5 + int(rng.random() ** 0.6 * ((end - ctx.months[0]).days + 40)))
        p = {"project_id": f"XM-{i + 1:04d}", "name": comm + name, "street": T.STREET, "community": comm,
             "category": cat, "lead_party": lead, "lead_party_type": lead_type,
             "partner_parties": "、".join(sorted(partners)), "planned_start_on": start,
             "planned_end_on": start + timedelta(days=int(rng.integers(mlo * 30, mhi * 30))),
             "budget_yuan": float(round(rng.uniform(blo, bhi) * 100) * 100),
             "beneficiaries": int(rng.integers(30, 2000)), "volunteer_count": int(rng.integers(0, 60)),
             "keywords": keywords}
        milestones += _milestones(ctx, p, _progress(ctx, p))
        projects.append(p)
    return pd.DataFrame(projects), pd.DataFrame(milestones)


def _progress(ctx: Ctx, p: dict) -> str | None:
    """Stage, actual dates, progress, last update and spending, consistent with the dates.

    Most projects are healthy (progress within 8 points of time elapsed, spending below
    progress, updated within 20 days, milestones on time); some are planted with one
    early warning: behind schedule, overdue milestone, stalled, spending ahead, over budget.
    """
    rng, end = ctx.rng, ctx.end
    ps, pe = p["planned_start_on"], p["planned_end_on"]
    elapsed = min(max((end - ps).days / (pe - ps).days, 0.0), 1.0) * 100
    start = ps + timedelta(days=int(rng.integers(0, 15)))
    u, plan = rng.random(), None
    if start <= end - timedelta(days=45) and elapsed >= 100 and u < 0.3:
        plan = "behind_schedule"
    elif start <= end - timedelta(days=45) and 30 <= elapsed < 100 and u < 0.55:
        plan, ctx.planted = WARNINGS[ctx.planted % len(WARNINGS)], ctx.planted + 1   # each kind in turn
    p.update(actual_start_on=None, actual_end_on=None, archived=False, spend=0.0, plan=plan)
    updated = end - timedelta(days=int(rng.integers(0, 20)))
    if start > end:
        p.update(stage="审批" if (ps - end).days < 30 else "立项", progress_pct=0.0)
    elif elapsed >= 100 and plan is None:
        done = min(pe + timedelta(days=int(rng.integers(-10, 15))), end)
        closed = (end - done).days > 20
        p.update(stage="结项" if closed else "验收", progress_pct=100.0, actual_start_on=start,
                 actual_end_on=done if closed else None, archived=closed and rng.random() < 0.9,
                 spend=rng.uniform(0.92, 1.0))
        updated = min(done + timedelta(days=int(rng.integers(0, 10))), end) if closed else updated
    else:
        prog = elapsed - rng.uniform(20, 35) if plan == "behind_schedule" else elapsed + rng.uniform(-8, 8)
        prog = float(np.clip(round(prog), 1, 99))
        spend = {"spending_ahead": min(prog + rng.uniform(25, 40), 99) / 100,
                 "over_budget": rng.uniform(1.05, 1.2)}.get(plan, prog / 100 * rng.uniform(0.75, 0.98))
        p.update(stage="实施", progress_pct=prog, actual_start_on=start, archived=rng.random() < 0.5, spend=spend)
        if plan == "stalled":
            updated = max(end - timedelta(days=int(rng.integers(35, 90))), start + timedelta(days=3))
    p["last_updated_at"] = datetime.combine(updated, datetime.min.time()) + timedelta(
        seconds=int(rng.integers(8 * 3600, 19 * 3600)))
    return plan


def _milestones(ctx: Ctx, p: dict, plan: str | None) -> list[dict]:
    """3-6 milestones spread over the planned schedule; done ones on time unless planted late."""
    rng, end = ctx.rng, ctx.end
    names = T.ELEVATOR_MILESTONES if p["category"] == "加装电梯" else T.PROJECT_MILESTONES
    k = int(rng.integers(3, 7))
    chosen = sorted(rng.choice(len(names) - 1, k - 1, replace=False).tolist()) + [len(names) - 1]
    ps, span = p["planned_start_on"], (p["planned_end_on"] - p["planned_start_on"]).days
    out = []
    for j, c in enumerate(chosen):
        planned = ps + timedelta(days=round(span * (j + 1) / k))
        done = None
        if p["actual_start_on"] and planned <= end:
            done = max(min(planned + timedelta(days=int(rng.integers(-7, 5))), end), p["actual_start_on"])
            if p["actual_end_on"]:
                done = min(done, p["actual_end_on"])
        out.append({"project_id": p["project_id"], "milestone": names[c],
                    "planned_on": planned, "done_on": done})
    updated = p["last_updated_at"].date()
    late = [m for m in out if m["done_on"] and m["planned_on"] <= end - timedelta(days=10)]
    for m in out:
        if plan == "stalled" and m["done_on"] and m["done_on"] > updated:
            m["done_on"] = None          # nothing happened since the last update
    if plan == "overdue_milestone" and late:
        late[-1]["done_on"] = None
    if plan != "stalled":
        last = max((m["done_on"] for m in out if m["done_on"]), default=None)
        if last and last > updated:
            p["last_updated_at"] = datetime.combine(last, p["last_updated_at"].time())
    return out


def write_projects(ctx: Ctx, projects: pd.DataFrame, milestones: pd.DataFrame) -> None:
    """项目台账.xlsx: dates as real Excel dates or text, budgets and progress in mixed formats."""
    rng, n = ctx.rng, len(projects)
    view = projects.copy()
    for col in ("planned_start_on", "planned_end_on", "actual_start_on", "actual_end_on"):
        view[col] = dates_mixed(rng, view[col])
    budget = view.budget_yuan.to_numpy()
    view["budget_yuan"] = [b if s < 0.2 else f"{b:.0f}元" if s < 0.3 else m
                           for b, s, m in zip(budget.tolist(), rng.random(n).tolist(), money_text(rng, budget, "¥"))]
    view["progress_pct"] = [int(v) if s < 0.3 else f"{v:.0f}%" for v, s in zip(view.progress_pct, rng.random(n))]
    view["last_updated_at"] = excel_serial(np.array([int(t.timestamp()) for t in projects.last_updated_at]))
    view["archived"] = np.where(view.archived.astype(bool), "是", "否")
    ms = milestones.copy()
    bad = ms.iloc[[int(rng.integers(len(ms)))]].assign(project_id="XM-9999")
    ms, rows = insert_rows(rng, ms, bad)
    ctx.bad.append({"kind": "project_milestones", "file": "项目台账.xlsx", "sheet": "里程碑", "row_number": int(rows[0]),
                    "column": "项目编号", "key": "XM-9999", "value": "XM-9999", "reason": "unknown project id"})
    for col in ("planned_on", "done_on"):
        ms[col] = dates_mixed(rng, ms[col])
    path = ctx.inbox / "项目台账.xlsx"
    write_xlsx(ctx, path, {
        "项目": (view[list(PROJECT_HEADERS)].rename(columns=PROJECT_HEADERS),
               {PROJECT_HEADERS[c]: "date" for c in PROJECT_HEADERS if c.endswith("_on")}
               | {"最近更新时间": "datetime"}),
        "里程碑": (ms[list(MILESTONE_HEADERS)].rename(columns=MILESTONE_HEADERS), {"计划日期": "date", "完成日期": "date"})})
    ctx.files.append(path)
    ctx.rows["项目台账.xlsx[项目]"], ctx.rows["项目台账.xlsx[里程碑]"] = n, len(ms)


def true_warnings(ctx: Ctx, projects: pd.DataFrame, milestones: pd.DataFrame, txns: pd.DataFrame) -> pd.DataFrame:
    """The early warnings the data really contains, one row per (project, warning), for 实施/验收 projects:
    behind_schedule = time elapsed (planned dates, at `end`) - progress > 15 points; overdue_milestone =
    planned_on < end and not done; stalled = last update > 30 days before end; spending_ahead =
    spent % of budget - progress > 20 points; over_budget = spent > budget (spent = all 'out' entries)."""
    end = ctx.end
    spent = txns[txns.direction == "out"].groupby("project_id").amount_yuan.sum()
    overdue = set(milestones[(milestones.planned_on < end) & milestones.done_on.isna()].project_id)
    rows = []
    for p in projects[projects.stage.isin(["实施", "验收"])].itertuples():
        span = (p.planned_end_on - p.planned_start_on).days
        elapsed = min(max((end - p.planned_start_on).days / span, 0), 1) * 100
        spent_pct = spent.get(p.project_id, 0.0) / p.budget_yuan * 100
        checks = {"behind_schedule": elapsed - p.progress_pct > 15, "overdue_milestone": p.project_id in overdue,
                  "stalled": (end - p.last_updated_at.date()).days > 30,
                  "spending_ahead": spent_pct - p.progress_pct > 20, "over_budget": spent_pct > 100}
        rows += [{"project_id": p.project_id, "warning": w, "planted": w == p.plan,
                  "elapsed_pct": round(elapsed, 1), "progress_pct": p.progress_pct, "spent_pct": round(spent_pct, 1)}
                 for w, hit in checks.items() if hit]
    return pd.DataFrame(rows, columns=["project_id", "warning", "planted", "elapsed_pct", "progress_pct", "spent_pct"])
