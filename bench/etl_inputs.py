"""Input files for bench_etl: the demo generator's grid-report exports, one big grid file made
by the same generator, and the old synthetic constant-text CSV (`--synthetic`)."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from etl import aliases
from etl.extract import ExtractError, read_sources

GRID_HEADER = ["事件编号", "上报时间", "街道", "社区", "网格编号", "网格员", "事件类型", "事件小类", "事件描述",
               "事发地点", "责任单位", "处置状态", "办结时间", "满意度"]


def demo_grid_exports(folder: Path, scale: float, end: date, seed: int = 7) -> list[Path]:
    """The grid-report exports `python -m etl demo --scale <scale> --end <end>` writes, byte
    for byte (the generator draws the grid reports first): five periodic exports in UTF-8 with
    BOM, GBK, .xlsx, UTF-8 and GBK with three header spellings, mixed date styles, status
    synonyms, duplicate rows, deliberately bad rows, phone and ID numbers in descriptions, and
    the update export (cases resolved since, latest wins by 事件编号)."""
    from etl.demo.grid import grid_records, write_grid
    from etl.demo.world import Ctx, calendar
    folder.mkdir(parents=True, exist_ok=True)
    ctx = Ctx(np.random.default_rng(seed), scale, end, folder, calendar(end))
    write_grid(ctx, grid_records(ctx))
    return sorted(ctx.files)


def grid_files(inbox: Path) -> list[Path]:
    """The files of an inbox whose every table is grid reports (detected as the loader does)."""
    found = []
    for path in sorted(p for p in inbox.iterdir() if p.is_file() and not p.name.startswith(".")):
        try:
            sources = read_sources(path)
        except ExtractError:
            continue
        try:
            if sources and all(aliases.detect_kind(s.headers)[0] == "grid_reports" for s in sources):
                found.append(path)
        finally:
            for s in sources:
                s.close()
    return found


def big_grid_file(path: Path, rows: int, encoding: str, end: date, seed: int = 11) -> Path:
    """One export of about `rows` grid reports from the demo generator, as of `end`, with its
    duplicates and bad rows (header spelling A), in `encoding` ('utf-8' or 'gbk')."""
    from etl.demo.exports import emit
    from etl.demo.grid import GRID_COLS, GRID_HEADERS, _grid_view, _spoil_grid, grid_records
    from etl.demo.world import Ctx, calendar
    path.parent.mkdir(parents=True, exist_ok=True)
    ctx = Ctx(np.random.default_rng(seed), rows / 30000, end, path.parent, calendar(end))
    g = grid_records(ctx)
    headers = dict(zip(GRID_COLS, GRID_HEADERS["A"].split()))
    view = _grid_view(ctx, g, ctx.end_s, encoding)
    view, _ = _spoil_grid(ctx, view, path.name, headers, 0, 0)
    emit(ctx, path.name, headers, view, encoding)
    return path


def synthetic_frame(rows: int, seed: int = 1) -> pd.DataFrame:
    """The old bench CSV: unique keys, no invalid rows, one constant description (1 % with a
    phone number); exercises only the loader's fast path."""
    rng = np.random.default_rng(seed)
    base = np.datetime64("2024-12-01T00:00:00") + rng.integers(0, 700 * 86400, rows).astype("timedelta64[s]")
    reported = pd.Series(base)
    resolved = reported + pd.to_timedelta(rng.integers(3600, 20 * 86400, rows), unit="s")
    fmt_pick = rng.integers(0, 3, rows)
    rep_text = np.where(fmt_pick == 0, reported.dt.strftime("%Y/%-m/%-d %-H:%M:%S"),
                        np.where(fmt_pick == 1, reported.dt.strftime("%Y-%m-%d %H:%M:%S"),
                                 reported.dt.strftime("%Y年%-m月%-d日 %H:%M")))
    communities = np.array(["清河一社区", "清河二社区", "美和园社区", "毛纺南社区", "安宁里社区", "清上园社区"])
    cats = np.array(["噪音扰民", "违规停车", "垃圾分类", "邻里纠纷", "设施损坏", "楼道堆物"])
    status = np.array(["已办结", "处置中", "待受理", "已关闭", "办结", "处理中"])
    st = status[rng.integers(0, len(status), rows)]
    done = np.isin(st, ["已办结", "已关闭", "办结"])
    return pd.DataFrame({
        "事件编号": [f"WG{i:08d}" for i in range(rows)],
        "上报时间": rep_text,
        "街道": "清河街道",
        "社区": communities[rng.integers(0, len(communities), rows)],
        "网格编号": [f"QH-{a:02d}-{b:02d}" for a, b in zip(rng.integers(1, 9, rows), rng.integers(1, 10, rows))],
        "网格员": "张网格",
        "事件类型": cats[rng.integers(0, len(cats), rows)],
        "事件小类": "其他",
        "事件描述": np.where(rng.random(rows) < 0.01, "居民来电13812345678反映夜间施工噪音", "楼道内堆放杂物影响通行"),
        "事发地点": "3号楼2单元",
        "责任单位": "物业",
        "处置状态": st,
        "办结时间": np.where(done, resolved.dt.strftime("%Y-%m-%d %H:%M:%S"), ""),
        "满意度": np.where(done, rng.integers(1, 6, rows).astype(str), ""),
    })
