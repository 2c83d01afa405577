"""Demo exports: a deterministic generator of the files a street office hands over.

`generate(inbox, seed=7, scale=1.0, end=None)` writes, for one street (清河街道: 8 communities,
65 grids) and the 24 calendar months ending with `end`'s month (nothing after `end`):

1. grid reports (~30k x scale): five periodic exports `网格事件_<months>`, each taken when
   its period ended (the last one SNAPSHOT_DAYS before `end`): UTF-8 with BOM, GBK,
   one month as .xlsx with real Excel datetimes, plain UTF-8, GBK; three header spellings;
   dates mixed row by row ('2025-04-08 08:37:20', '2025/4/8 8:37:20', '2025年4月8日 08:37');
   status synonyms; a few exact duplicate rows. Then `网格事件_更新_<end>.csv` (sorts last):
   every case resolved since the export that showed it open (处置中 -> 已办结, ~2% of
   cases; latest wins by 事件编号) plus the cases new since the last export.
2. projects: `项目台账.xlsx` (sheets 项目, 里程碑), max(60, 60 x scale) projects capped at
   2000; most healthy, some planted with early warnings (see `_progress`).
3. fund transactions (max(2000 x scale, 10 per project)): `资金流水.csv` (GBK, first 12
   months) and `资金流水_近12个月.csv` (UTF-8 BOM); amounts '¥12,000.00' / '1.2万' / plain;
   re-granting: a charity pays 转拨 to another project's lead, who books it as income.
4. feedback (~15k x scale) in one export per channel, ids only in some. Each month's topic
   mix is planted: three topics each >= 1.3x the 4th (seasonal and campaign driven, see
   demo_text.SEASONAL_TOP3 / EVENTS); ~10% off-topic noise.
5. a few deliberately bad rows, listed in manifest['bad_rows'] with file, sheet row
   (header = row 1), column header and the loader's reject reason.

Ground truth goes to `truth_dir`: feedback_topics.csv (one row per message: source_file,
row_number = 1-based data row, feedback_id or '', submitted_at, community, text exactly as
exported (before the loader masks PII), topic ('其他' = noise), channel, resident_id),
planted_top3.csv (month, scope '全街道', rank, topic, n, fourth_n: counted from the messages),
feedback_topic_counts.csv (per month, scope and topic), project_warnings.csv and
manifest.json. One numpy Generator(seed) drives everything in a fixed order, so the same
seed, scale and end give byte-identical files.
"""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import xlsxwriter

from etl import demo_text as T

DAY = 86400
SNAPSHOT_DAYS = 10      # the last periodic export was taken this long before `end`
GRID_COLS = ("report_id", "reported_at", "street", "community", "grid_id", "reporter", "category",
             "subcategory", "description", "location_text", "responsible_party", "status",
             "resolved_at", "satisfaction")
GRID_HEADERS = {
    "A": "事件编号 上报时间 街道 社区 网格编号 网格员 事件类型 事件小类 事件描述 事发地点 责任单位 处置状态 办结时间 满意度",
    "B": "工单编号 登记时间 所属街道 所属社区 所属网格 上报人 问题类型 问题小类 问题描述 详细地址 处置单位 办理状态 处置完成时间 居民满意度",
    "C": "案件编号 发现时间 街道 社区名称 网格号 上报网格员 事件大类 细类 情况描述 地点 承办单位 当前状态 结案时间 评价",
}
# (first month, last month, header set, encoding) of each periodic grid export
GRID_FILES = ((0, 5, "A", "utf-8-sig"), (6, 11, "B", "gbk"), (12, 12, "C", "xlsx"),
              (13, 17, "A", "utf-8"), (18, 23, "B", "gbk"))
STATUS_WORDS = {"done": ("已办结", "办结", "已处理", "已完成"), "closed": ("已关闭", "已结案"),
                "open": ("处置中", "处理中", "已受理", "办理中"), "new": ("待受理", "待处理")}
PROJECT_HEADERS = {"project_id": "项目编号", "name": "项目名称", "street": "所属街道", "community": "实施社区",
                   "category": "项目类别", "lead_party": "牵头单位", "lead_party_type": "五社类型",
                   "partner_parties": "合作方", "stage": "项目阶段", "planned_start_on": "计划开始日期",
                   "planned_end_on": "计划完成日期", "actual_start_on": "实际开始日期", "actual_end_on": "实际完成日期",
                   "budget_yuan": "预算金额", "progress_pct": "完成进度", "last_updated_at": "最近更新时间",
                   "archived": "是否建档", "beneficiaries": "受益人次", "volunteer_count": "志愿者人数", "keywords": "关键词"}
MILESTONE_HEADERS = {"project_id": "项目编号", "milestone": "里程碑", "planned_on": "计划日期", "done_on": "完成日期"}
TXN_HEADERS = {
    "A": dict(zip(("txn_id", "txn_on", "project_id", "direction", "source_type", "source_name", "expense_category",
                   "amount_yuan", "note"), "流水号 日期 项目编号 收支 资金来源类型 来源方 支出类别 金额 备注".split())),
    "B": dict(zip(("txn_id", "txn_on", "project_id", "direction", "source_type", "source_name", "expense_category",
                   "amount_yuan", "note"), "交易编号 记账日期 项目代码 收支方向 来源类型 收付对象 支出科目 金额(元) 摘要".split()))}
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
RATING_WORDS = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}
NOISE_TOPIC = "其他"
WARNINGS = "behind_schedule overdue_milestone stalled spending_ahead over_budget".split()


@dataclass
class _Ctx:
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
        return _sec(self.end) + DAY - 1

    @property
    def month_s(self) -> np.ndarray:
        return np.array([_sec(m) for m in self.months], dtype=np.int64)

    @property
    def month_days(self) -> np.ndarray:    # days with data in each month
        nxt = [*(self.months[1:]), None]
        return np.array([(n - m).days if n else self.end.day for m, n in zip(self.months, nxt)])


def generate(inbox: Path, *, seed: int = 7, scale: float = 1.0, end: date | None = None,
             truth_dir: Path | None = None) -> dict:
    """Write the demo exports into `inbox` and the ground truth into `truth_dir`; return the manifest."""
    end = end or date.today()
    inbox = Path(inbox)
    truth = Path(truth_dir) if truth_dir else inbox.parent / "demo_truth"
    inbox.mkdir(parents=True, exist_ok=True)
    truth.mkdir(parents=True, exist_ok=True)
    first = date(end.year - 2 + (end.month == 12), end.month % 12 + 1, 1)
    months = [date(first.year + (first.month - 1 + i) // 12, (first.month - 1 + i) % 12 + 1, 1) for i in range(24)]
    ctx = _Ctx(np.random.default_rng(seed), scale, end, inbox, months)
    n_grid = _write_grid(ctx, _grid_records(ctx))
    projects, milestones = _projects(ctx)
    txns = _transactions(ctx, projects)
    _write_projects(ctx, projects, milestones)
    _write_transactions(ctx, txns)
    feedback = _feedback_records(ctx)
    _write_feedback(ctx, feedback, truth)
    _warnings(ctx, projects, milestones, txns).to_csv(truth / "project_warnings.csv", index=False)
    counts = {"grid_reports": n_grid, "projects": len(projects), "project_milestones": len(milestones) + 1,
              "fund_transactions": len(txns) + 2, "feedback": len(feedback)}
    manifest = {"files": [str(f) for f in ctx.files], "counts": counts, "rows_written": ctx.rows,
                "bad_rows": ctx.bad, "end": end, "months": months, "seed": seed, "scale": scale}
    (truth / "manifest.json").write_text(json.dumps(manifest, default=str, ensure_ascii=False, indent=1),
                                         encoding="utf-8")
    return manifest


# ---------------------------------------------------------------- shared helpers
def _sec(d: date) -> int:
    return (d - date(1970, 1, 1)).days * DAY


def _volumes(ctx: _Ctx, per_month: float, floor: float = 0.0) -> np.ndarray:
    """Rows per month: slight growth over the two years, pro rata in the last (partial) month."""
    full = np.array([(m.replace(day=28) + timedelta(days=4)).replace(day=1).toordinal() - m.toordinal()
                     for m in ctx.months])
    trend = 0.85 + 0.3 * np.arange(24) / 23
    return np.round(per_month * ctx.scale * trend * np.maximum(ctx.month_days / full, floor)).astype(np.int64)


def _pick(rng: np.random.Generator, weights: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """One category per row, drawn from the weight row weights[rows[i]] (vectorised)."""
    cdf = np.cumsum(weights / weights.sum(1, keepdims=True), 1)
    return np.minimum((rng.random(len(rows))[:, None] >= cdf[rows]).sum(1), weights.shape[1] - 1)


def _affinity(keys: list[str], table: dict) -> np.ndarray:
    """[key, community] weights: population x the community kind's affinity for the key."""
    return np.array([[pop * table.get(kind, {}).get(k, 1.0) for _, _, pop, kind in T.COMMUNITIES] for k in keys])


def _times(ctx: _Ctx, month: np.ndarray, hours: list[int]) -> np.ndarray:
    """Epoch seconds: a random day of the row's month (up to `end`), hour by the profile."""
    rng, n = ctx.rng, len(month)
    day = (rng.random(n) * ctx.month_days[month]).astype(np.int64)
    hour = rng.choice(24, n, p=np.array(hours) / sum(hours))
    return ctx.month_s[month] + day * DAY + hour * 3600 + rng.integers(0, 3600, n)


def _fmt_ts(sec: np.ndarray, style: np.ndarray, date_only: bool = False) -> np.ndarray:
    """Text timestamps, row by row in style 0 '2025-04-08 08:37:20', 1 '2025/4/8 8:37:20',
    2 '2025年4月8日 08:37'; negative seconds -> ''. Date-only variants when asked."""
    out = np.full(len(sec), "", dtype=object)
    ok = sec >= 0
    t = pd.to_datetime(sec[ok], unit="s")
    parts = zip(style[ok].tolist(), t.year.tolist(), t.month.tolist(), t.day.tolist(),
                t.hour.tolist(), t.minute.tolist(), t.second.tolist())
    if date_only:
        out[ok] = [f"{y}-{m:02d}-{d:02d}" if s == 0 else f"{y}/{m}/{d}" if s == 1 else f"{y}年{m}月{d}日"
                   for s, y, m, d, _, _, _ in parts]
    else:
        out[ok] = [f"{y}-{m:02d}-{d:02d} {H:02d}:{M:02d}:{S:02d}" if s == 0 else f"{y}/{m}/{d} {H}:{M:02d}:{S:02d}"
                   if s == 1 else f"{y}年{m}月{d}日 {H:02d}:{M:02d}" for s, y, m, d, H, M, S in parts]
    return out


def _iso(sec: np.ndarray) -> np.ndarray:
    """'2025-04-08 08:37:20' for each epoch second (vectorised)."""
    return np.char.replace(np.datetime_as_string(sec.astype("datetime64[s]"), unit="s"), "T", " ")


def _day_text(sec: np.ndarray) -> np.ndarray:
    """'20250408' for each epoch second (vectorised)."""
    return np.char.replace(np.datetime_as_string((sec // DAY).astype("datetime64[D]")), "-", "")


def _serial(sec: np.ndarray) -> np.ndarray:
    """Excel serial day numbers (NaN for negative seconds = missing)."""
    return np.where(sec >= 0, sec / DAY + 25569.0, np.nan)


def _styles(rng: np.random.Generator, n: int, p: tuple[float, float, float]) -> np.ndarray:
    return rng.choice(3, n, p=p)


def _words(rng: np.random.Generator, family: str, n: int) -> np.ndarray:
    words = STATUS_WORDS[family]
    p = np.array([0.7] + [0.3 / (len(words) - 1)] * (len(words) - 1))
    return np.array(words, dtype=object)[rng.choice(len(words), n, p=p)]


def _emit(ctx: _Ctx, name: str, headers: dict, view: pd.DataFrame, encoding: str,
          formats: dict | None = None) -> Path:
    """Write one export: canonical columns renamed to this office's headers."""
    path = ctx.inbox / name
    out = view[list(headers)].rename(columns=headers)
    if encoding == "xlsx":
        _write_xlsx(ctx, path, {"Sheet1": (out, {headers[c]: f for c, f in (formats or {}).items() if c in headers})})
    else:
        with open(path, "w", encoding=encoding, newline="") as f:   # 'gbk' raises on anything outside GBK
            writer = csv.writer(f, lineterminator="\r\n" if encoding == "gbk" else "\n")
            writer.writerow(out.columns)
            writer.writerows(zip(*(["" if v is None or v != v else v for v in out[c].tolist()] for c in out.columns)))
    ctx.files.append(path)
    ctx.rows[name] = len(out)
    return path


def _write_xlsx(ctx: _Ctx, path: Path, sheets: dict) -> None:
    """Sheets of (frame, {column: 'date'|'datetime'}); numbers in those columns become Excel dates."""
    created = datetime(ctx.end.year, ctx.end.month, ctx.end.day, 18, 0, 0)
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_numbers": False,
                                         "strings_to_formulas": False, "strings_to_urls": False})
    wb.set_properties({"created": created, "author": T.STREET + "办事处"})
    fmts = {"date": wb.add_format({"num_format": "yyyy-mm-dd"}),
            "datetime": wb.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})}
    for name, (frame, kinds) in sheets.items():
        ws = wb.add_worksheet(name)
        ws.write_row(0, 0, list(frame.columns))
        col_fmt = [fmts.get(kinds.get(c)) for c in frame.columns]
        put_s, put_n = ws.write_string, ws.write_number
        for r, row in enumerate(zip(*(frame[c].tolist() for c in frame.columns)), 1):
            for c, v in enumerate(row):
                if isinstance(v, str):
                    if v:
                        put_s(r, c, v)
                elif v is not None and v == v:       # skip None and NaN
                    put_n(r, c, v, col_fmt[c])
    wb.close()


def _insert(rng: np.random.Generator, view: pd.DataFrame, extra: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """`extra` rows inserted at random places; returns the frame and their sheet rows (header = 1)."""
    key = np.concatenate([np.arange(len(view)) * 2 + 1, rng.integers(0, len(view) + 1, len(extra)) * 2])
    order = np.argsort(key, kind="stable")
    position = np.empty_like(order)
    position[order] = np.arange(len(order))
    both = pd.concat([view, extra], ignore_index=True).iloc[order].reset_index(drop=True)
    return both, position[len(view):] + 2


# ---------------------------------------------------------------- grid reports
def _grid_records(ctx: _Ctx) -> pd.DataFrame:
    """One row per true incident: times in epoch seconds (resolved -1 = never), labels as text."""
    rng, cats = ctx.rng, list(T.GRID_CATEGORIES)
    month = np.repeat(np.arange(24), _volumes(ctx, 30000 / 24))
    n = len(month)
    peak = np.array([[1.7 if m.month in T.GRID_CATEGORIES[k][3] else 1.0 for k in cats] for m in ctx.months])
    cat = _pick(rng, peak * np.array([T.GRID_WEIGHTS[k] for k in cats]), month)
    comm = _pick(rng, _affinity(cats, T.GRID_AFFINITY), cat)
    n_grids = np.array([c[1] for c in T.COMMUNITIES])
    grid = (np.cumsum(n_grids) - n_grids)[comm] + (rng.random(n) * n_grids[comm]).astype(np.int64)
    grid_ids = np.array([f"{T.STREET_CODE}-{c + 1:02d}-{g + 1:02d}" for c, k in enumerate(n_grids) for g in range(k)])
    reporters = np.array(T.person(rng, 2 * len(grid_ids)), dtype=object)
    pools = [T.grid_descriptions(k) for k in cats]
    sizes = np.array([len(p) for p in pools])
    pick = (np.cumsum(sizes) - sizes)[cat] + (rng.random(n) * sizes[cat]).astype(np.int64)
    subs = np.array([s for p in pools for s, _ in p], dtype=object)[pick]
    desc = np.array([d for p in pools for _, d in p], dtype=object)[pick]
    places = np.array([c[0] + x if i % 3 == 0 else x for c in T.COMMUNITIES
                       for i, x in enumerate(T.locations(rng, 150))], dtype=object)
    parties = sorted({p for v in T.GRID_CATEGORIES.values() for p in v[1]})
    pw = np.array([[T.GRID_CATEGORIES[k][1].get(p, 0) for p in parties] for k in cats], dtype=float)
    median_h = np.array([T.GRID_CATEGORIES[k][2] for k in cats])[cat]
    reported = _times(ctx, month, T.GRID_HOURS)
    took = np.maximum(median_h * 3600 * np.exp(0.9 * rng.standard_normal(n)), 1200).astype(np.int64)
    resolved = np.where(rng.random(n) < 0.015, -1, reported + took)     # some cases never close
    sat = np.clip(np.round(4.3 - 0.6 * np.log(took / 3600 / median_h) + 0.8 * rng.standard_normal(n)), 1, 5)
    for i in np.flatnonzero(rng.random(n) < 0.004):          # PII the loader must mask
        desc[i] += f"，联系人电话{T.phone(rng, 1)[0]}" if i % 2 else f"，当事人身份证号{T.id_number(rng)}"
    frame = pd.DataFrame({
        "month": month, "reported": reported, "resolved": resolved, "street": T.STREET,
        "community": np.array([c[0] for c in T.COMMUNITIES], dtype=object)[comm], "grid_id": grid_ids[grid],
        "reporter": reporters[grid * 2 + (rng.random(n) < 0.3)], "category": np.array(cats, dtype=object)[cat],
        "subcategory": subs, "description": desc, "location_text": places[comm * 150 + rng.integers(0, 150, n)],
        "responsible_party": np.array(parties, dtype=object)[_pick(rng, pw, cat)],
        "closed": rng.random(n) < 0.07, "satisfaction": np.where(rng.random(n) < 0.75, sat, np.nan)})
    frame = frame.sort_values("reported", kind="stable").reset_index(drop=True)
    day = _day_text(frame.reported.to_numpy()).tolist()
    frame.insert(0, "report_id", [f"SJ{d}{i:07d}" for i, d in enumerate(day, 1)])
    return frame


def _grid_view(ctx: _Ctx, g: pd.DataFrame, asof: int, encoding: str) -> pd.DataFrame:
    """The export as of `asof`: status words, times as text (CSV) or Excel serials (xlsx)."""
    rng, n = ctx.rng, len(g)
    rep, res = g.reported.to_numpy(), g.resolved.to_numpy()
    done = (res >= 0) & (res <= asof)
    status = np.where(asof - rep < 12 * 3600, _words(rng, "new", n), _words(rng, "open", n))
    status = np.where(done, np.where(g.closed, _words(rng, "closed", n), _words(rng, "done", n)), status)
    res = np.where(done, res, -1)
    view = g.assign(status=status, satisfaction=np.where(done & (g.satisfaction > 0), g.satisfaction, np.nan))
    if encoding == "xlsx":
        return view.assign(reported_at=_serial(rep), resolved_at=_serial(res))
    p = (0.25, 0.6, 0.15) if encoding == "gbk" else (0.5, 0.35, 0.15)
    sat = [str(int(s)) if s == s else "" for s in view.satisfaction.tolist()]
    return view.assign(reported_at=_fmt_ts(rep, _styles(rng, n, p)), resolved_at=_fmt_ts(res, _styles(rng, n, p)),
                       satisfaction=sat)


def _write_grid(ctx: _Ctx, g: pd.DataFrame) -> int:
    """The periodic exports (each taken when its period ended; the last SNAPSHOT_DAYS before
    `end`), their duplicates and bad rows, then the update: every case resolved since the export
    that showed it open, and the cases new since the last export."""
    rep, res = g.reported.to_numpy(), g.resolved.to_numpy()
    label = [f"{m.year}{m.month:02d}" for m in ctx.months]
    snaps = [min(_sec(ctx.months[m1 + 1]) if m1 < 23 else ctx.end_s, ctx.end_s - SNAPSHOT_DAYS * DAY)
             for _, m1, _, _ in GRID_FILES]
    snap = np.array([snaps[k] for k, (m0, m1, _, _) in enumerate(GRID_FILES) for _ in range(m0, m1 + 1)])[g.month]
    n_bad = 0
    for k, (m0, m1, hdr, enc) in enumerate(GRID_FILES):
        view = _grid_view(ctx, g[(rep <= snap) & (g.month >= m0) & (g.month <= m1)], snaps[k], enc)
        name = f"网格事件_{label[m0]}" + (f"-{label[m1]}" if m1 > m0 else "") + (".xlsx" if enc == "xlsx" else ".csv")
        headers = dict(zip(GRID_COLS, GRID_HEADERS[hdr].split()))
        if k in (0, 1):
            view, n_bad = _spoil_grid(ctx, view, name, headers, k, n_bad)
        _emit(ctx, name, headers, view, enc, {"reported_at": "datetime", "resolved_at": "datetime"})
    update = ((rep <= snap) & (res > snap) & (res <= ctx.end_s)) | (rep > snap)
    ctx.rows["repeated_in_update"] = int(((rep <= snap) & update).sum())
    _emit(ctx, f"网格事件_更新_{ctx.end:%Y%m%d}.csv", dict(zip(GRID_COLS, GRID_HEADERS["A"].split())),
          _grid_view(ctx, g[update], ctx.end_s, "utf-8-sig"), "utf-8-sig")
    return len(g) + n_bad


def _spoil_grid(ctx: _Ctx, view: pd.DataFrame, name: str, headers: dict, k: int, n_bad: int):
    """File 0 gets exact duplicate rows and two bad rows, file 1 three bad rows."""
    rng = ctx.rng
    done = view[view.resolved_at != ""]
    bad = done.iloc[rng.choice(len(done), 3 if k else 2, replace=False)].copy()
    bad["report_id"] = [rid[:-7] + f"{9999990 + n_bad + j}" for j, rid in enumerate(bad.report_id)]
    year = ctx.months[6 * k].year
    cases = [("reported_at", f"{year}-13-45 10:20:00", "unparseable date"),
             ("resolved_at", "待定", "unparseable date"),
             ("resolved_at", None, "resolved before reported"),
             ("status", "搁置中", "unknown status value"),
             ("satisfaction", "9", "rating must be 1-5")][2 * k: 2 * k + len(bad)]
    for j, (col, value, _) in enumerate(cases):
        if value is None:    # two days before it was reported
            value = _fmt_ts(bad.reported.to_numpy()[j:j + 1] - 2 * DAY, np.zeros(1, int))[0]
        bad.iloc[j, bad.columns.get_loc(col)] = value
    extra = bad
    if k == 0:
        extra = pd.concat([bad, view.iloc[rng.choice(len(view), max(3, len(view) // 2000), replace=False)]])
    view, rows = _insert(rng, view, extra)
    for j, (col, value, reason) in enumerate(cases):
        ctx.bad.append({"kind": "grid_reports", "file": name, "sheet": None, "row_number": int(rows[j]),
                        "column": headers[col],
                        "key": bad.report_id.iloc[j], "value": bad[col].iloc[j], "reason": reason})
    ctx.rows[f"duplicates:{name}"] = len(extra) - len(bad)
    return view, n_bad + len(bad)


# ---------------------------------------------------------------- projects, milestones, money
def _wchoice(rng: np.random.Generator, weights: dict) -> str:
    keys = list(weights)
    p = np.array([weights[k] for k in keys], dtype=float)
    return keys[int(rng.choice(len(keys), p=p / p.sum()))]


def _projects(ctx: _Ctx) -> tuple[pd.DataFrame, pd.DataFrame]:
    """True project records (one row per project) and milestones (one row per milestone)."""
    rng, end = ctx.rng, ctx.end
    projects, milestones = [], []
    for i in range(min(2000, max(60, round(60 * ctx.scale)))):
        cat = list(T.PROJECT_CATS)[int(rng.integers(len(T.PROJECT_CATS)))]
        names, (blo, bhi), (mlo, mhi), lead_w = T.PROJECT_CATS[cat]
        comm = T.COMMUNITIES[int(rng.integers(len(T.COMMUNITIES)))][0]
        name, keywords = names[int(rng.integers(len(names)))]
        lead_type = _wchoice(rng, lead_w)
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


def _progress(ctx: _Ctx, p: dict) -> str | None:
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


def _milestones(ctx: _Ctx, p: dict, plan: str | None) -> list[dict]:
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


def _transactions(ctx: _Ctx, projects: pd.DataFrame) -> pd.DataFrame:
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


def _entries(ctx: _Ctx, p, direction: str, n: int, total: float, first: date, last: date) -> list[dict]:
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
            kind = list(mix)[0] if j == 0 else _wchoice(rng, mix)
            name, cat, note = T.party_name(rng, T.SOURCES[kind]), "", T.party_name(rng, T.NOTES[kind])
        else:
            cat = _wchoice(rng, T.EXPENSE_MIX.get(p.category, T.EXPENSE_DEFAULT))
            kind, name, note = "", T.party_name(rng, T.PAYEES[cat]), T.party_name(rng, T.NOTES["out"])
            if p.lead_party_type in ("社会组织", "社会慈善资源") and p.partner_parties and rng.random() < 0.08:
                cat, name, note = "转拨", p.partner_parties.split("、")[0], T.NOTES["转拨"]
        out.append({"txn_on": max(first + timedelta(days=off), ctx.months[0]), "project_id": p.project_id,
                    "direction": direction,
                    "source_type": kind, "source_name": name, "expense_category": cat, "amount_yuan": amount,
                    "note": note})
    return out


def _money(rng: np.random.Generator, amounts: np.ndarray, yen: str) -> list[str]:
    """'¥12,000.00', '1.2万' (round hundreds only) or plain '12000.00', mixed."""
    style = rng.random(len(amounts))
    return [f"{a / 10000:.4f}".rstrip("0").rstrip(".") + "万" if a >= 10000 and a % 100 == 0 and s < 0.6
            else f"{yen}{a:,.2f}" if s < 0.7 else f"{a:.2f}" for a, s in zip(amounts.tolist(), style.tolist())]


def _write_projects(ctx: _Ctx, projects: pd.DataFrame, milestones: pd.DataFrame) -> None:
    """项目台账.xlsx: dates as real Excel dates or text, budgets and progress in mixed formats."""
    rng, n = ctx.rng, len(projects)
    view = projects.copy()
    for col in ("planned_start_on", "planned_end_on", "actual_start_on", "actual_end_on"):
        view[col] = _dates_mixed(rng, view[col])
    budget = view.budget_yuan.to_numpy()
    view["budget_yuan"] = [b if s < 0.2 else f"{b:.0f}元" if s < 0.3 else m
                           for b, s, m in zip(budget.tolist(), rng.random(n).tolist(), _money(rng, budget, "¥"))]
    view["progress_pct"] = [int(v) if s < 0.3 else f"{v:.0f}%" for v, s in zip(view.progress_pct, rng.random(n))]
    view["last_updated_at"] = _serial(np.array([int(t.timestamp()) for t in projects.last_updated_at]))
    view["archived"] = np.where(view.archived.astype(bool), "是", "否")
    ms = milestones.copy()
    bad = ms.iloc[[int(rng.integers(len(ms)))]].assign(project_id="XM-9999")
    ms, rows = _insert(rng, ms, bad)
    ctx.bad.append({"kind": "project_milestones", "file": "项目台账.xlsx", "sheet": "里程碑", "row_number": int(rows[0]),
                    "column": "项目编号", "key": "XM-9999", "value": "XM-9999", "reason": "unknown project id"})
    for col in ("planned_on", "done_on"):
        ms[col] = _dates_mixed(rng, ms[col])
    path = ctx.inbox / "项目台账.xlsx"
    _write_xlsx(ctx, path, {
        "项目": (view[list(PROJECT_HEADERS)].rename(columns=PROJECT_HEADERS),
               {PROJECT_HEADERS[c]: "date" for c in PROJECT_HEADERS if c.endswith("_on")}
               | {"最近更新时间": "datetime"}),
        "里程碑": (ms[list(MILESTONE_HEADERS)].rename(columns=MILESTONE_HEADERS), {"计划日期": "date", "完成日期": "date"})})
    ctx.files.append(path)
    ctx.rows["项目台账.xlsx[项目]"], ctx.rows["项目台账.xlsx[里程碑]"] = n, len(ms)


def _dates_mixed(rng: np.random.Generator, col: pd.Series) -> list:
    """70% real Excel dates (serial numbers), 30% typed text in one of three formats; None stays None."""
    sec = np.array([_sec(d) if isinstance(d, date) else -1 for d in col], dtype=np.int64)
    text = _fmt_ts(sec, _styles(rng, len(sec), (0.4, 0.4, 0.2)), date_only=True)
    serial = _serial(sec)
    return [None if s < 0 else (float(v) if u < 0.7 else t)
            for s, v, t, u in zip(sec.tolist(), serial.tolist(), text, rng.random(len(sec)).tolist())]


def _write_transactions(ctx: _Ctx, txns: pd.DataFrame) -> None:
    """资金流水.csv (GBK, first year) and 资金流水_近12个月.csv (UTF-8 BOM), two bad rows in the first."""
    rng = ctx.rng
    first_year = (txns.txn_on < ctx.months[12]).to_numpy()
    for part, hdr, enc, name in ((first_year, "A", "gbk", "资金流水.csv"),
                                 (~first_year, "B", "utf-8-sig", "资金流水_近12个月.csv")):
        view = txns[part].copy()
        sec = np.array([_sec(d) for d in view.txn_on], dtype=np.int64)
        view["txn_on"] = _fmt_ts(sec, _styles(rng, len(view), (0.5, 0.35, 0.15)), date_only=True)
        view["direction"] = np.where(view.direction == "in", "收入", "支出")
        view["amount_yuan"] = _money(rng, view.amount_yuan.to_numpy(), "￥" if enc == "gbk" else "¥")
        if hdr == "A":
            bad = view.iloc[rng.choice(len(view), 2, replace=False)].copy()
            bad["txn_id"] = [t[:-5] + f"{99990 + j}" for j, t in enumerate(bad.txn_id)]
            bad.iloc[0, bad.columns.get_loc("amount_yuan")] = "-3,500.00"
            bad.iloc[0, bad.columns.get_loc("direction")] = "支出"
            bad.iloc[1, bad.columns.get_loc("project_id")] = "XM-9999"
            view, rows = _insert(rng, view, bad)
            cases = (("amount_yuan", "negative amount"), ("project_id", "unknown project id"))
            for j, (col, reason) in enumerate(cases):
                ctx.bad.append({"kind": "fund_transactions", "file": name, "sheet": None, "row_number": int(rows[j]),
                                "column": TXN_HEADERS[hdr][col], "key": bad.txn_id.iloc[j],
                                "value": bad[col].iloc[j], "reason": reason})
        _emit(ctx, name, TXN_HEADERS[hdr], view, enc)


def _warnings(ctx: _Ctx, projects: pd.DataFrame, milestones: pd.DataFrame, txns: pd.DataFrame) -> pd.DataFrame:
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


# ---------------------------------------------------------------- resident feedback
def _planned_top3(m: int, calendar_month: int) -> list[str]:
    top = list(T.SEASONAL_TOP3[calendar_month])
    event = T.EVENTS.get(m)
    return [event] + [t for t in top if t != event][:2] if event else top


def _feedback_plan(ctx: _Ctx) -> tuple[np.ndarray, np.ndarray]:
    """Messages per (month, topic), the planted top-3 each >= 1.3x every other topic; noise per month."""
    rng, k = ctx.rng, len(T.TOPIC_NAMES)
    total = _volumes(ctx, 15000 / 24, floor=0.35)
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


def _residents(ctx: _Ctx, r: np.ndarray, channel: np.ndarray) -> np.ndarray:
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


def _feedback_records(ctx: _Ctx) -> pd.DataFrame:
    """One row per message with its true topic (-1 = noise), in time order."""
    rng, k = ctx.rng, len(T.TOPIC_NAMES)
    counts, noise = _feedback_plan(ctx)
    per_month = [np.concatenate([np.repeat(np.arange(k), counts[m]), np.full(noise[m], -1)]) for m in range(24)]
    month = np.repeat(np.arange(24), [len(t) for t in per_month])
    topic = np.concatenate(per_month)
    n = len(topic)
    comm = _pick(rng, _affinity(T.TOPIC_NAMES + [NOISE_TOPIC], T.AFFINITY), np.where(topic < 0, k, topic))
    channel = rng.choice(len(CHANNELS), n, p=np.array([c[2] for c in CHANNELS.values()]))
    style = _styles(rng, n, (0.5, 0.35, 0.15))
    ts = _times(ctx, month, T.FEEDBACK_HOURS)
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
    key = ["submitted", "community", "channel", "text"]     # what the loader hashes when there is no id
    while (dup := fb.duplicated(key).to_numpy()).any():     # hashed keys must not collide
        fb.loc[dup, "submitted"] -= 60
    return fb.sort_values("submitted", kind="stable").reset_index(drop=True)


def _write_feedback(ctx: _Ctx, fb: pd.DataFrame, truth: Path) -> None:
    """One export per channel, then the truth files (topics, planted top-3, counts)."""
    rng, names, topics = ctx.rng, list(CHANNELS), np.array(T.TOPIC_NAMES + [NOISE_TOPIC], dtype=object)
    truth_parts = []
    for c, (channel, (file, enc, _, prefix, spec)) in enumerate(CHANNELS.items()):
        sub = fb[fb.channel == c]
        headers = dict(pair.split(":") for pair in spec.split())
        day = _day_text(sub.submitted.to_numpy()).tolist()
        ids = [f"{prefix}{d}{i:06d}" for i, d in enumerate(day, 1)] if prefix else [""] * len(sub)
        sec, style = sub.submitted.to_numpy(), sub["style"].to_numpy()
        view = sub.assign(
            feedback_id=ids, street=T.STREET, channel=channel,
            submitted_at=_serial(sec) if enc == "xlsx" else _fmt_ts(sec, style),
            replied_at=_serial(sub.replied.to_numpy()) if enc == "xlsx" else _fmt_ts(sub.replied.to_numpy(), style),
            rating=[_rating_cell(r, channel, enc) for r in sub.rating.tolist()],
            likes=sub.likes.astype(int).tolist() if enc == "xlsx" else sub.likes.astype(str).tolist())
        _emit(ctx, file, headers, view, enc, {"submitted_at": "datetime", "replied_at": "datetime"})
        truth_parts.append(pd.DataFrame({
            "source_file": file, "row_number": np.arange(1, len(sub) + 1), "feedback_id": ids,
            "submitted_at": _iso(sec),
            "community": sub.community.to_numpy(), "text": sub.text.to_numpy(),
            "topic": topics[np.where(sub.topic < 0, len(topics) - 1, sub.topic)], "channel": channel,
            "resident_id": sub.resident_id.to_numpy()}))
    topics_truth = pd.concat(truth_parts, ignore_index=True)
    topics_truth.to_csv(truth / "feedback_topics.csv", index=False, encoding="utf-8")
    _truth_counts(ctx, topics_truth, truth)


def _rating_cell(r: float, channel: str, encoding: str) -> object:
    if r != r:
        return ""
    return RATING_WORDS[int(r)] if channel == "12345热线" else int(r) if encoding == "xlsx" else str(int(r))


def _truth_counts(ctx: _Ctx, truth_rows: pd.DataFrame, truth: Path) -> None:
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
