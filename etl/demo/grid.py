"""Grid reports: one row per incident, the five periodic exports (three header spellings, mixed
encodings and date styles, duplicates, bad rows) and the update export `网格事件_更新_<end>.csv`."""
from __future__ import annotations

import numpy as np
import pandas as pd

from etl.demo import text as T
from etl.demo.cells import day_text, excel_serial, fmt_ts, pick_styles
from etl.demo.exports import emit, insert_rows
from etl.demo.world import DAY, Ctx, community_weights, epoch_s, monthly_volumes, pick_rows, random_times

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


def _words(rng: np.random.Generator, family: str, n: int) -> np.ndarray:
    words = STATUS_WORDS[family]
    p = np.array([0.7] + [0.3 / (len(words) - 1)] * (len(words) - 1))
    return np.array(words, dtype=object)[rng.choice(len(words), n, p=p)]


def grid_records(ctx: Ctx) -> pd.DataFrame:
    """One row per true incident: times in epoch seconds (resolved -1 = never), labels as text."""
    rng, cats = ctx.rng, list(T.GRID_CATEGORIES)
    month = np.repeat(np.arange(24), monthly_volumes(ctx, 30000 / 24))
    n = len(month)
    peak = np.array([[1.7 if m.month in T.GRID_CATEGORIES[k][3] else 1.0 for k in cats] for m in ctx.months])
    cat = pick_rows(rng, peak * np.array([T.GRID_WEIGHTS[k] for k in cats]), month)
    comm = pick_rows(rng, community_weights(cats, T.GRID_AFFINITY), cat)
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
    reported = random_times(ctx, month, T.GRID_HOURS)
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
        "responsible_party": np.array(parties, dtype=object)[pick_rows(rng, pw, cat)],
        "closed": rng.random(n) < 0.07, "satisfaction": np.where(rng.random(n) < 0.75, sat, np.nan)})
    frame = frame.sort_values("reported", kind="stable").reset_index(drop=True)
    day = day_text(frame.reported.to_numpy()).tolist()
    frame.insert(0, "report_id", [f"SJ{d}{i:07d}" for i, d in enumerate(day, 1)])
    return frame


def _grid_view(ctx: Ctx, g: pd.DataFrame, asof: int, encoding: str) -> pd.DataFrame:
    """The export as of `asof`: status words, times as text (CSV) or Excel serials (xlsx)."""
    rng, n = ctx.rng, len(g)
    rep, res = g.reported.to_numpy(), g.resolved.to_numpy()
    done = (res >= 0) & (res <= asof)
    status = np.where(asof - rep < 12 * 3600, _words(rng, "new", n), _words(rng, "open", n))
    status = np.where(done, np.where(g.closed, _words(rng, "closed", n), _words(rng, "done", n)), status)
    res = np.where(done, res, -1)
    view = g.assign(status=status, satisfaction=np.where(done & (g.satisfaction > 0), g.satisfaction, np.nan))
    if encoding == "xlsx":
        return view.assign(reported_at=excel_serial(rep), resolved_at=excel_serial(res))
    p = (0.25, 0.6, 0.15) if encoding == "gbk" else (0.5, 0.35, 0.15)
    sat = [str(int(s)) if s == s else "" for s in view.satisfaction.tolist()]
    return view.assign(reported_at=fmt_ts(rep, pick_styles(rng, n, p)), resolved_at=fmt_ts(res, pick_styles(rng, n, p)),
                       satisfaction=sat)


def write_grid(ctx: Ctx, g: pd.DataFrame) -> int:
    """The periodic exports (each taken when its period ended; the last SNAPSHOT_DAYS before
    `end`), their duplicates and bad rows, then the update: every case resolved since the export
    that showed it open, and the cases new since the last export."""
    rep, res = g.reported.to_numpy(), g.resolved.to_numpy()
    label = [f"{m.year}{m.month:02d}" for m in ctx.months]
    snaps = [min(epoch_s(ctx.months[m1 + 1]) if m1 < 23 else ctx.end_s, ctx.end_s - SNAPSHOT_DAYS * DAY)
             for _, m1, _, _ in GRID_FILES]
    snap = np.array([snaps[k] for k, (m0, m1, _, _) in enumerate(GRID_FILES) for _ in range(m0, m1 + 1)])[g.month]
    n_bad = 0
    for k, (m0, m1, hdr, enc) in enumerate(GRID_FILES):
        view = _grid_view(ctx, g[(rep <= snap) & (g.month >= m0) & (g.month <= m1)], snaps[k], enc)
        name = f"网格事件_{label[m0]}" + (f"-{label[m1]}" if m1 > m0 else "") + (".xlsx" if enc == "xlsx" else ".csv")
        headers = dict(zip(GRID_COLS, GRID_HEADERS[hdr].split()))
        if k in (0, 1):
            view, n_bad = _spoil_grid(ctx, view, name, headers, k, n_bad)
        emit(ctx, name, headers, view, enc, {"reported_at": "datetime", "resolved_at": "datetime"})
    update = ((rep <= snap) & (res > snap) & (res <= ctx.end_s)) | (rep > snap)
    ctx.rows["repeated_in_update"] = int(((rep <= snap) & update).sum())
    emit(ctx, f"网格事件_更新_{ctx.end:%Y%m%d}.csv", dict(zip(GRID_COLS, GRID_HEADERS["A"].split())),
          _grid_view(ctx, g[update], ctx.end_s, "utf-8-sig"), "utf-8-sig")
    return len(g) + n_bad


def _spoil_grid(ctx: Ctx, view: pd.DataFrame, name: str, headers: dict, k: int, n_bad: int):
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
            value = fmt_ts(bad.reported.to_numpy()[j:j + 1] - 2 * DAY, np.zeros(1, int))[0]
        bad.iloc[j, bad.columns.get_loc(col)] = value
    extra = bad
    if k == 0:
        extra = pd.concat([bad, view.iloc[rng.choice(len(view), max(3, len(view) // 2000), replace=False)]])
    view, rows = insert_rows(rng, view, extra)
    for j, (col, value, reason) in enumerate(cases):
        ctx.bad.append({"kind": "grid_reports", "file": name, "sheet": None, "row_number": int(rows[j]),
                        "column": headers[col],
                        "key": bad.report_id.iloc[j], "value": bad[col].iloc[j], "reason": reason})
    ctx.rows[f"duplicates:{name}"] = len(extra) - len(bad)
    return view, n_bad + len(bad)
