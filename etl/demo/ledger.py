"""The fund ledger: one row per entry (grants in at the start, spending out as the work goes,
re-grants between projects), written as 资金流水.csv (GBK, first year) and 资金流水_近12个月.csv."""
from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from etl.demo import text as T
from etl.demo.cells import fmt_ts, money_text, pick_styles
from etl.demo.exports import emit, insert_rows
from etl.demo.world import Ctx, epoch_s, weighted_choice

TXN_HEADERS = {
    "A": dict(zip(("txn_id", "txn_on", "project_id", "direction", "source_type", "source_name", "expense_category",
                   "amount_yuan", "note"), "流水号 日期 项目编号 收支 资金来源类型 来源方 支出类别 金额 备注".split())),
    "B": dict(zip(("txn_id", "txn_on", "project_id", "direction", "source_type", "source_name", "expense_category",
                   "amount_yuan", "note"), "交易编号 记账日期 项目代码 收支方向 来源类型 收付对象 支出科目 金额(元) 摘要".split()))}


def build_transactions(ctx: Ctx, projects: pd.DataFrame) -> pd.DataFrame:
    """The ledger, one row per entry: grants in at the start, spending out as the work goes."""
    rng, end = ctx.rng, ctx.end
    started = projects.actual_start_on.notna().to_numpy()
    weight = np.where(started, (1 + projects.progress_pct / 100) * np.sqrt(projects.budget_yuan / 1e5), 0.0)
    target = max(2000 * ctx.scale, 10 * len(projects))
    n_txn = np.where(started, np.maximum(3, np.floor(weight / weight.sum() * target)), 0).astype(int)
    rows: list[dict] = []
    leads = projects[started & projects.lead_party_type.isin(["社会组织", "社区志愿者"]).to_numpy()]
    for p, n in zip(projects.itertuples(), n_txn):
        if not n:
            continue
        last = min(end, p.actual_end_on if isinstance(p.actual_end_on, date) else end, p.last_updated_at.date())
        n_in = max(1, round(n * 0.3))
        rows += _entries(ctx, p, "in", n_in, p.budget_yuan * rng.uniform(0.95, 1.05), p.actual_start_on, last)
        rows += _entries(ctx, p, "out", n - n_in, p.budget_yuan * p.spend, p.actual_start_on, last)
        if p.lead_party_type == "社会慈善资源" and len(leads) and rows[-1]["direction"] == "out":
            to = leads.iloc[int(rng.integers(len(leads)))]      # re-grant to another project's lead
            rows[-1].update(expense_category="转拨", source_name=to.lead_party, note=T.NOTES["转拨"])
            kind = "企业社会责任" if "公司" in p.lead_party else "社区基金" if "基金" in p.lead_party else "慈善信托"
            rows.append({**rows[-1], "project_id": to.project_id, "direction": "in", "source_type": kind,
                         "source_name": p.lead_party, "expense_category": "", "note": "资助款到账",
                         "txn_on": min(max(rows[-1]["txn_on"] + timedelta(days=3), to.actual_start_on), end)})
    txns = pd.DataFrame(rows).sort_values(["txn_on", "project_id"], kind="stable").reset_index(drop=True)
    txns.insert(0, "txn_id", [f"LS{d:%Y%m%d}{i:05d}" for i, d in enumerate(txns.txn_on, 1)])
    return txns


def _entries(ctx: Ctx, p, direction: str, n: int, total: float, first: date, last: date) -> list[dict]:
    """n ledger entries of one project summing to about `total`, dated between first and last."""
    rng = ctx.rng
    if n <= 0 or total <= 0:
        return []
    shares = rng.dirichlet(np.full(n, 2.0))
    if direction == "in":    # the main grant first, then smaller gifts
        shares = np.concatenate([[0.55 + 0.3 * rng.random()], shares[1:] / shares[1:].sum() * 0.45 if n > 1 else []])
        shares /= shares.sum()
    days = max((last - first).days, 1)
    offsets = np.sort(rng.integers(min(3, days) if direction == "out" else 0, days + 1, n))
    if direction == "in":
        offsets[0] = -int(rng.integers(0, 15))     # the main grant arrives around the start
    out = []
    for j, (share, off) in enumerate(zip(shares, offsets.tolist())):
        amount = round(float(total * share), 2)
        if amount >= 10000 and rng.random() < 0.4:
            amount = round(amount, -2)        # written as '1.2万' in the export
        if direction == "in":
            mix = T.INCOME_MIX[p.lead_party_type]
            kind = list(mix)[0] if j == 0 else weighted_choice(rng, mix)
            name, cat, note = T.party_name(rng, T.SOURCES[kind]), "", T.party_name(rng, T.NOTES[kind])
        else:
            cat = weighted_choice(rng, T.EXPENSE_MIX.get(p.category, T.EXPENSE_DEFAULT))
            kind, name, note = "", T.party_name(rng, T.PAYEES[cat]), T.party_name(rng, T.NOTES["out"])
            if p.lead_party_type in ("社会组织", "社会慈善资源") and p.partner_parties and rng.random() < 0.08:
                cat, name, note = "转拨", p.partner_parties.split("、")[0], T.NOTES["转拨"]
        out.append({"txn_on": max(first + timedelta(days=off), ctx.months[0]), "project_id": p.project_id,
                    "direction": direction,
                    "source_type": kind, "source_name": name, "expense_category": cat, "amount_yuan": amount,
                    "note": note})
    return out


def write_transactions(ctx: Ctx, txns: pd.DataFrame) -> None:
    """资金流水.csv (GBK, first year) and 资金流水_近12个月.csv (UTF-8 BOM), two bad rows in the first."""
    rng = ctx.rng
    first_year = (txns.txn_on < ctx.months[12]).to_numpy()
    for part, hdr, enc, name in ((first_year, "A", "gbk", "资金流水.csv"),
                                 (~first_year, "B", "utf-8-sig", "资金流水_近12个月.csv")):
        view = txns[part].copy()
        sec = np.array([epoch_s(d) for d in view.txn_on], dtype=np.int64)
        view["txn_on"] = fmt_ts(sec, pick_styles(rng, len(view), (0.5, 0.35, 0.15)), date_only=True)
        view["direction"] = np.where(view.direction == "in", "收入", "支出")
        view["amount_yuan"] = money_text(rng, view.amount_yuan.to_numpy(), "￥" if enc == "gbk" else "¥")
        if hdr == "A":
            bad = view.iloc[rng.choice(len(view), 2, replace=False)].copy()
            bad["txn_id"] = [t[:-5] + f"{99990 + j}" for j, t in enumerate(bad.txn_id)]
            bad.iloc[0, bad.columns.get_loc("amount_yuan")] = "-3,500.00"
            bad.iloc[0, bad.columns.get_loc("direction")] = "支出"
            bad.iloc[1, bad.columns.get_loc("project_id")] = "XM-9999"
            view, rows = insert_rows(rng, view, bad)
            cases = (("amount_yuan", "negative amount"), ("project_id", "unknown project id"))
            for j, (col, reason) in enumerate(cases):
                ctx.bad.append({"kind": "fund_transactions", "file": name, "sheet": None, "row_number": int(rows[j]),
                                "column": TXN_HEADERS[hdr][col], "key": bad.txn_id.iloc[j],
                                "value": bad[col].iloc[j], "reason": reason})
        emit(ctx, name, TXN_HEADERS[hdr], view, enc)
